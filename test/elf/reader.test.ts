import { describe, expect, it } from 'vitest';
import { readObject } from '../../src/elf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { FormatError } from '../../src/errors.js';
import { encode, type Insn, LDDW, PseudoLddw } from '../../src/isa/index.js';
import { MapFlag, MapType } from '../../src/spec/maps.js';
import type { ProgramSpec } from '../../src/spec/object.js';
import { kernelOracle } from '../support/kernel.js';
import { FIXTURES, fixture, objdumpFunctions, readelfRelocs } from './fixtures.js';

const read = (name: string) => readObject(fixture(name), { file: name });
const brief = (p: ProgramSpec) => [p.name, p.section, p.type, p.attachTo];

describe('readObject: programs', () => {
  it('finds every program by section, with the type libbpf infers', () => {
    expect(read('calls.o').programs.map(brief)).toEqual([
      ['xdp_calls', 'xdp', 'xdp', undefined],
      ['sock_filter', 'socket', 'socket_filter', undefined],
      ['probe_open', 'kprobe/do_sys_open', 'kprobe', 'do_sys_open'],
      ['tp_write', 'tracepoint/syscalls/sys_enter_write', 'tracepoint', 'syscalls/sys_enter_write'],
      ['cg_ingress', 'cgroup_skb/ingress', 'cgroup_skb', undefined],
      ['xdp_frags', 'xdp.frags', 'xdp', undefined],
    ]);
    expect(read('maps_btf.o').programs.map(brief)).toEqual([
      ['on_udp', 'xdp', 'xdp', undefined],
      ['count_packets', 'xdp', 'xdp', undefined],
      ['tc_count', 'tc', 'sched_cls', undefined],
    ]);
    expect(read('iproute2_maps.o').programs.map(brief)).toEqual([
      ['cls_main', 'classifier', 'sched_cls', undefined],
    ]);
    expect(read('types.o').programs.map(brief)).toEqual([
      ['read_task', 'kprobe/do_nanosleep', 'kprobe', 'do_nanosleep'],
    ]);
  });

  it('appends the .text subprograms each program calls, transitively, and only those', () => {
    const progs = read('calls.o').programs;
    const names = (p: ProgramSpec | undefined) => p?.funcInfo?.map((f) => f.name);
    expect(names(progs[0])).toEqual(['xdp_calls', 'loop_step', 'add_to', 'sum_squares', 'square']);
    expect(names(progs[1])).toEqual(['sock_filter', 'add_to', 'square']);
    expect(names(progs[2])).toEqual(['probe_open', 'sum_squares', 'square']);
    expect(names(progs[3])).toEqual(['tp_write']);
  });

  it('resolves calls and the bpf_loop callback to function starts', () => {
    const xdp = read('calls.o').programs[0]!;
    const starts = new Map(xdp.funcInfo!.map((f) => [f.insn, f.name]));
    const targets: string[] = [];
    xdp.insns.forEach((ins: Insn, i) => {
      if (i > 0 && xdp.insns[i - 1]!.code === LDDW) return;
      if ((ins.code === 0x85 && ins.src === 1) || (ins.code === LDDW && ins.src === PseudoLddw.FUNC)) {
        targets.push(`${ins.code === LDDW ? 'addr' : 'call'} ${starts.get(i + ins.imm + 1)}`);
      }
    });
    expect(targets.sort()).toEqual(
      ['addr loop_step', 'call add_to', 'call square', 'call sum_squares'].sort(),
    );
  });

  it('gives map references src=MAP_FD with the map index and data references src=MAP_VALUE with the offset', () => {
    const obj = read('globals.o');
    expect(obj.maps.map((m) => m.name)).toEqual([
      '.rodata',
      '.data',
      '.data.custom',
      '.bss',
      '.rodata.str1.1',
    ]);
    const refs = obj.programs[0]!.insns.flatMap((ins, i, all) =>
      ins.code === LDDW && ins.src === PseudoLddw.MAP_VALUE
        ? [`${obj.maps[ins.imm]!.name}+${all[i + 1]!.imm}`]
        : [],
    );
    // packets_seen (.data+0), counters (.data+8), last_len (.bss+0), port_limit (.rodata+0), dropped (.bss+8),
    // the two format strings and greeting (.rodata+4), the literals "odd length" and "even length" (merged
    // strings in .rodata.str1.1), custom_counter (.data.custom+0).
    expect(refs).toEqual([
      '.data+0',
      '.data+8',
      '.bss+0',
      '.rodata+0',
      '.bss+8',
      '.rodata+12',
      '.rodata+4',
      '.rodata+26',
      '.rodata.str1.1+11',
      '.rodata.str1.1+0',
      '.data.custom+0',
    ]);
    const strs = obj.maps[4]!.contents![0]!.value;
    expect(new TextDecoder().decode(strs)).toBe('odd length\0even length\0');
  });
});

describe('readObject: maps', () => {
  it('reads BTF-defined maps of every kind, with inner maps and program-array slots', () => {
    const obj = read('maps_btf.o');
    const m = Object.fromEntries(obj.maps.map((x) => [x.name, x]));
    expect(obj.maps.map((x) => x.name)).toEqual([
      'inner_a',
      'inner_b',
      'outer',
      'jump_table',
      'proto_stats',
      'by_source',
      'blocklist',
      'percpu_counts',
      'percpu_hash',
      'events',
    ]);
    expect(m.proto_stats).toMatchObject({
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 16,
      maxEntries: 256,
      flags: 0,
    });
    expect(m.by_source).toMatchObject({
      type: MapType.HASH,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1024,
      flags: 1,
      pinning: 1,
    });
    expect(m.blocklist).toMatchObject({
      type: MapType.LPM_TRIE,
      keySize: 8,
      valueSize: 4,
      maxEntries: 128,
      flags: 1,
    });
    expect(m.percpu_counts).toMatchObject({
      type: MapType.PERCPU_ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 4,
    });
    expect(m.percpu_hash).toMatchObject({
      type: MapType.PERCPU_HASH,
      keySize: 8,
      valueSize: 4,
      maxEntries: 64,
      numaNode: 0,
    });
    expect(m.events).toMatchObject({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(m.outer).toMatchObject({ type: MapType.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(m.outer!.innerMap).toMatchObject({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(m.jump_table).toMatchObject({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(obj.mapSlots).toEqual([
      { map: 'outer', key: 0, innerMap: 'inner_a' },
      { map: 'outer', key: 2, innerMap: 'inner_b' },
      { map: 'jump_table', key: 1, program: 'on_udp' },
    ]);
  });

  it('reads map_extra written as __uint and as the newer __ulong (enum) form', () => {
    const maps = read('types.o').maps;
    expect(maps.map((m) => [m.name, m.type, m.valueSize, m.maxEntries, m.mapExtra])).toEqual([
      ['records', MapType.HASH, 80, 16, undefined],
      ['seen', 30, 4, 64, 3n],
      ['seen64', 30, 8, 32, 5n],
    ]);
  });

  it('reads legacy struct bpf_map_def (20 and 28 bytes) and iproute2 bpf_elf_map (36 bytes)', () => {
    expect(read('legacy_maps.o').maps).toEqual([
      { name: 'counts', type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 },
      { name: 'flows', type: MapType.HASH, keySize: 8, valueSize: 16, maxEntries: 512, flags: 1 },
    ]);
    const m28 = read('legacy_maps28.o').maps;
    expect(m28[1]).toMatchObject({ name: 'outer28', type: MapType.HASH_OF_MAPS, maxEntries: 8 });
    expect(m28[1]!.innerMap).toMatchObject({
      name: 'inner',
      type: MapType.ARRAY,
      valueSize: 4,
      maxEntries: 2,
    });
    expect(read('iproute2_maps.o').maps).toEqual([
      {
        name: 'tc_counts',
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: 8,
        maxEntries: 32,
        flags: 0,
        pinning: 1,
      },
    ]);
  });

  it('turns .rodata/.data/.bss into single-entry array maps holding the section contents', () => {
    const obj = read('globals.o');
    const [rodata, data, custom, bss, strs] = obj.maps;
    expect(custom!.readonly).toBeUndefined();
    expect(custom).toMatchObject({ valueSize: 4, contents: [{ value: Uint8Array.of(99, 0, 0, 0) }] });
    expect(strs).toMatchObject({ valueSize: 23, readonly: true });
    expect(rodata).toMatchObject({
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 39,
      maxEntries: 1,
      readonly: true,
    });
    expect(rodata!.flags & MapFlag.RDONLY_PROG).toBeTruthy();
    const value = rodata!.contents![0]!.value;
    expect(new DataView(value.buffer, value.byteOffset).getUint32(0, true)).toBe(5001);
    expect(new TextDecoder().decode(value.subarray(4, 9))).toBe('hello');
    expect(Array.from(data!.contents![0]!.value)).toEqual([
      7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0,
    ]);
    expect(bss).toMatchObject({ valueSize: 16 });
    expect(bss!.contents![0]!.value.every((b) => b === 0)).toBe(true);
    expect(obj.license).toBe('Dual MIT/GPL');
    expect(obj.kernelVersion).toBe(0x060000);
  });
});

describe('readObject agrees with llvm-readelf-19 on every relocation', () => {
  const oracle = kernelOracle();
  for (const name of FIXTURES) {
    it.skipIf(!oracle)(name, () => {
      const obj = read(name);
      const codeRelocs = readelfRelocs(name).filter((r) => obj.programs.some((p) => p.section === r.section));
      expect(codeRelocs.length).toBeGreaterThan(0);
      for (const r of codeRelocs) {
        // Programs of a section are contiguous in it; the main function is everything before funcInfo[1].
        let start = 0;
        let found: { prog: ProgramSpec; slot: number } | undefined;
        for (const p of obj.programs.filter((x) => x.section === r.section)) {
          const len = p.funcInfo?.[1]?.insn ?? p.insns.length;
          if (r.offset / 8 < start + len) {
            found = { prog: p, slot: r.offset / 8 - start };
            break;
          }
          start += len;
        }
        expect(found, `${r.section}+${r.offset}`).toBeDefined();
        const { prog, slot } = found!;
        const ins = prog.insns[slot]!;
        const what = `${name} ${r.section}+0x${r.offset.toString(16)} ${r.type} ${r.symbol}`;
        if (r.type === 'R_BPF_64_32') {
          expect(ins.code, what).toBe(0x85);
          const target = prog.funcInfo!.find((f) => f.insn === slot + ins.imm + 1);
          expect(target, what).toBeDefined();
          if (r.symbol !== '.text') expect(target!.name, what).toBe(r.symbol);
          continue;
        }
        expect(r.type, what).toBe('R_BPF_64_64');
        expect(ins.code, what).toBe(LDDW);
        const map = obj.maps.find((m) => m.name === r.symbol && !m.name.startsWith('.'));
        if (map) expect([ins.src, obj.maps[ins.imm]], what).toEqual([PseudoLddw.MAP_FD, map]);
        else if (r.symbol === 'maps') {
          // A static legacy map, through the section symbol (which record: test/elf/legacy-maps.test.ts).
          expect(ins.src, what).toBe(PseudoLddw.MAP_FD);
          expect(obj.maps[ins.imm]!.name, what).not.toMatch(/^\./);
        } else if (ins.src === PseudoLddw.FUNC)
          expect(
            prog.funcInfo!.some((f) => f.insn === slot + ins.imm + 1),
            what,
          ).toBe(true);
        else {
          expect(ins.src, what).toBe(PseudoLddw.MAP_VALUE);
          expect(obj.maps[ins.imm]!.name, what).toMatch(/^\.(rodata|data|bss)/);
        }
      }
    });
  }
});

describe('readObject agrees with llvm-objdump-19 -d on every instruction', () => {
  const oracle = kernelOracle();
  for (const name of FIXTURES) {
    it.skipIf(!oracle)(name, () => {
      const obj = read(name);
      const funcs = objdumpFunctions(name);
      let compared = 0;
      for (const p of obj.programs) {
        // Each function placed in the program (main first, then subprograms) must be objdump's function of
        // that name, slot for slot, except the fields relocation fills in (lddw imm/src, call imm).
        const starts = p.funcInfo!.map((f) => f.insn);
        p.funcInfo!.forEach((f, k) => {
          const section = k === 0 ? p.section : '.text';
          const want = funcs.find((x) => x.name === f.name && x.section === section);
          expect(want, `${name}: ${section} <${f.name}>`).toBeDefined();
          const got = encode(p.insns.slice(f.insn, starts[k + 1] ?? p.insns.length));
          expect(got.length / 8, `${name}: ${f.name} length`).toBe(want!.slots.length);
          want!.slots.forEach((raw, i) => {
            const ins = p.insns[f.insn + i]!;
            const relocated =
              ins.code === LDDW ||
              (ins.code === 0x85 && ins.src === 1) ||
              (i > 0 && p.insns[f.insn + i - 1]!.code === LDDW);
            const mine = got.subarray(i * 8, i * 8 + 8);
            if (relocated)
              expect([mine[0], mine[1]! & 0x0f, mine[2], mine[3]]).toEqual([
                raw[0],
                raw[1]! & 0x0f,
                raw[2],
                raw[3],
              ]);
            else expect(Array.from(mine), `${name}: ${f.name}+${i}`).toEqual(Array.from(raw));
            compared++;
          });
        });
      }
      expect(compared).toBeGreaterThan(10);
    });
  }
});

describe('readObject: errors', () => {
  it('rejects non-ELF input and truncated files with a FormatError naming the file', () => {
    expect(() => readObject(new Uint8Array(10), { file: 'x.o' })).toThrow(FormatError);
    expect(() => readObject(new Uint8Array(100), { file: 'x.o' })).toThrow(/x\.o.*bad magic/);
    const bytes = fixture('globals.o');
    expect(() => readObject(bytes.subarray(0, bytes.length - 100), { file: 'cut.o' })).toThrow(/cut\.o/);
  });

  it('names the section of a relocation that points at a missing symbol', () => {
    const bytes = fixture('globals.o').slice();
    const obj = read('globals.o');
    expect(obj.programs).toHaveLength(1);
    // Corrupt the symbol index of the first entry of .relxdp.
    const rel = parseElf(bytes, 'globals.o').sections.find((s) => s.name === '.relxdp')!;
    new DataView(bytes.buffer).setUint32(rel.offset + 12, 9999, true);
    expect(() => readObject(bytes, { file: 'bad.o' })).toThrow(
      /bad\.o: section \.relxdp: relocation refers to missing symbol 9999/,
    );
  });
});
