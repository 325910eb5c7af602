import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readObject, writeObject } from '../../src/elf/index.js';
import { TsbpfError } from '../../src/errors.js';
import { insn, LDDW, lddw, PseudoLddw } from '../../src/isa/index.js';
import { MapType } from '../../src/spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../../src/spec/object.js';
import { kernelOracle } from '../support/kernel.js';
import { FIXTURES, fixture } from './fixtures.js';

const read = (name: string) => readObject(fixture(name), { file: name });
const EXIT = insn(0x95);
const movImm = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);

/** What must survive a write/read cycle. */
function essence(o: ObjectSpec) {
  return {
    license: o.license,
    slots: o.mapSlots,
    maps: o.maps.map(({ btfKeyTypeId, btfValueTypeId, innerMap, ...m }) => ({
      ...m,
      innerMap: innerMap && { ...innerMap, name: '', btfKeyTypeId: undefined, btfValueTypeId: undefined },
    })),
    programs: o.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type,
      attachTo: p.attachTo,
      insns: p.insns,
      lineInfo: p.lineInfo,
      funcs: p.funcInfo?.map((f) => [f.insn, f.name]),
    })),
  };
}

describe('writeObject', () => {
  for (const name of FIXTURES) {
    it(`round-trips ${name}: programs, instructions, maps, line info`, () => {
      const obj = read(name);
      const back = readObject(writeObject(obj), { file: `${name} (rewritten)` });
      expect(essence(back)).toEqual(essence(obj));
    });
  }

  it('writes a hand-built program with no section using its type', () => {
    const prog: ProgramSpec = {
      name: 'ret2',
      section: '',
      type: 'xdp',
      insns: [movImm(0, 2), EXIT],
      license: 'GPL',
    };
    const back = readObject(writeObject({ programs: [prog], maps: [], license: 'GPL' }));
    expect(back.programs.map((p) => [p.name, p.section, p.type, p.insns])).toEqual([
      ['ret2', 'xdp', 'xdp', prog.insns],
    ]);
  });

  it('rejects what ELF cannot express, naming the program and instruction', () => {
    const bad: ProgramSpec = {
      name: 'p',
      section: 'xdp',
      type: 'xdp',
      insns: [...lddw(1, 0n, PseudoLddw.MAP_FD), EXIT],
      license: '',
    };
    bad.insns[0]!.imm = 3;
    expect(() => writeObject({ programs: [bad], maps: [], license: '' })).toThrow(
      /program p: insn 0: map index 3 is out of range/,
    );
    const noSection: ProgramSpec = { name: 'q', section: '', type: 'tracing', insns: [EXIT], license: '' };
    expect(() => writeObject({ programs: [noSection], maps: [], license: '' })).toThrow(TsbpfError);
  });

  it('refuses a map of maps whose value size is not 4 rather than writing one that reads back as 4', () => {
    // Found by the fuzz suite: a legacy definition with value_size 0 came back from write and read as 4.
    const obj = read('legacy_maps28.o');
    const outer = obj.maps.find((m) => m.innerMap)!;
    expect(outer.valueSize).toBe(4);
    outer.valueSize = 0;
    expect(() => writeObject(obj)).toThrow(
      `map ${outer.name}: a map of maps has 4-byte values (inner map ids), not 0: cannot write it`,
    );
  });

  it('refuses functions that do not stand alone rather than writing a different program', () => {
    // Found by the fuzz suite: `w0 = 3; call -1; exit` (a call to itself, one slot into the main
    // function) was written as two functions and read back as `w0 = 3` alone.
    const prog = (insns: ProgramSpec['insns']): ObjectSpec => ({
      programs: [{ name: 'p', section: 'xdp', type: 'xdp', insns, license: 'GPL' }],
      maps: [],
      license: 'GPL',
    });
    const call = (imm: number) => insn(0x85, 0, 1, 0, imm);
    expect(() => writeObject(prog([insn(0xb4, 0, 0, 0, 3), call(-1), EXIT]))).toThrow(
      'program p: insn 0: runs on into the function at 1 (no exit or ja before it): cannot write it',
    );
    // main: call f; goto into f; exit | f: r0 = 0; exit
    expect(() => writeObject(prog([call(2), insn(0x05, 0, 0, 2), EXIT, movImm(0, 0), EXIT]))).toThrow(
      'program p: insn 1: jump to 4 leaves its function (insns 0..2): cannot write it',
    );
    // The same call with each function whole is written and reads back as it was.
    const good = prog([call(1), EXIT, movImm(0, 0), EXIT]);
    expect(readObject(writeObject(good)).programs[0]!.insns).toEqual(good.programs[0]!.insns);
  });
});

describe('writeObject output loads in the kernel (bpftool 7, libbpf 1.x)', () => {
  const oracle = kernelOracle();
  const dir = oracle ? mkdtempSync(join(tmpdir(), 'tsbpf-elf-')) : '';
  const pins: string[] = [];
  afterAll(() => {
    for (const p of pins) rmSync(p, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const pinDir = (tag: string) => {
    const p = `/sys/fs/bpf/tsbpf_elf_test_${process.pid}_${tag}`;
    pins.push(p);
    rmSync(p, { recursive: true, force: true });
    return p;
  };

  for (const name of FIXTURES) {
    it.skipIf(!oracle)(`bpftool prog loadall accepts rewritten ${name}`, () => {
      const obj = read(name);
      // Pinning by name would leave maps in /sys/fs/bpf; the test must not.
      for (const m of obj.maps) delete m.pinning;
      const file = join(dir, name);
      writeFileSync(file, writeObject(obj));
      const pin = pinDir(name.replace('.o', ''));
      execFileSync('bpftool', ['prog', 'loadall', file, pin], { stdio: 'pipe' });
      const loaded = execFileSync('ls', [pin], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(loaded).toEqual(obj.programs.map((p) => p.name).sort());
    });
  }

  it.skipIf(!oracle)('fills program-array and map-in-map slots from BTF values in the kernel', () => {
    const obj = read('maps_btf.o');
    for (const m of obj.maps) delete m.pinning;
    const file = join(dir, 'slots.o');
    writeFileSync(file, writeObject(obj));
    const pin = pinDir('slots');
    const maps = pinDir('slots_maps');
    execFileSync('bpftool', ['prog', 'loadall', file, pin, 'pinmaps', maps], { stdio: 'pipe' });
    const keys = (map: string) =>
      JSON.parse(
        execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', join(maps, map)], { encoding: 'utf8' }),
      ).map((e: { key: string[] }) => Number.parseInt(e.key[0]!, 16));
    expect(keys('jump_table')).toEqual([1]);
    expect(keys('outer').filter((k: number, i: number, all: number[]) => all.indexOf(k) === i)).toEqual([
      0, 2,
    ]);
  });

  it.skipIf(!oracle)(
    'keeps BTF key/value types and global-data variables, so the kernel formats them',
    () => {
      const dump = (pinned: string) =>
        JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', pinned], { encoding: 'utf8' }));
      const globals = read('globals.o');
      const file = join(dir, 'typed.o');
      writeFileSync(file, writeObject(globals));
      const maps = pinDir('typed_maps');
      execFileSync('bpftool', ['prog', 'loadall', file, pinDir('typed'), 'pinmaps', maps], { stdio: 'pipe' });
      const rodata = execFileSync('ls', [maps], { encoding: 'utf8' })
        .split('\n')
        .find((n) => n.endsWith('_rodata'))!;
      expect(dump(join(maps, rodata))[0].formatted.value).toEqual({
        '.rodata': [
          { port_limit: 5001 },
          { greeting: 'hello' },
          { 'use_globals.____fmt': 'big packet %u' },
          { 'use_globals.____fmt.1': 'small packet' },
        ],
      });

      const obj = read('maps_btf.o');
      for (const m of obj.maps) delete m.pinning;
      const file2 = join(dir, 'typed2.o');
      writeFileSync(file2, writeObject(obj));
      const maps2 = pinDir('typed2_maps');
      execFileSync('bpftool', ['prog', 'loadall', file2, pinDir('typed2'), 'pinmaps', maps2], {
        stdio: 'pipe',
      });
      expect(dump(join(maps2, 'proto_stats'))[17].formatted).toEqual({
        key: 17,
        value: { packets: 0, bytes: 0 },
      });
    },
  );

  it.skipIf(!oracle)('bpftool prog load accepts a hand-built program with a map (the assembler path)', () => {
    // r1 = map counts; r2 = fp-4 (key 0); call map_lookup_elem; r0 = 2; exit
    const insns = [
      insn(0x62, 10, 0, -4, 0),
      ...lddw(1, 0n, PseudoLddw.MAP_FD),
      insn(0xbf, 2, 10),
      insn(0x07, 2, 0, 0, -4),
      insn(0x85, 0, 0, 0, 1),
      movImm(0, 2),
      EXIT,
    ];
    const spec: ObjectSpec = {
      programs: [{ name: 'asm_prog', section: '', type: 'xdp', insns, license: 'GPL' }],
      maps: [{ name: 'counts', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 }],
      license: 'GPL',
    };
    const file = join(dir, 'asm.o');
    writeFileSync(file, writeObject(spec));
    const pin = pinDir('asm');
    execFileSync('bpftool', ['prog', 'load', file, pin, 'type', 'xdp'], { stdio: 'pipe' });
    const info = JSON.parse(
      execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', pin], { encoding: 'utf8' }),
    );
    expect(info.type).toBe('xdp');
    expect(info.map_ids).toHaveLength(1);
    const back = readObject(writeObject(spec));
    expect(back.programs[0]!.insns[1]).toMatchObject({ code: LDDW, src: PseudoLddw.MAP_FD, imm: 0 });
  });
});
