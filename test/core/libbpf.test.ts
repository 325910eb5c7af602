// Every CO-RE relocation of every clang-built object we have, resolved by tsbpf against the running
// kernel's BTF and by libbpf (bpftool -d prog loadall: libbpf's debug log says, per relocation, "patched
// insn #I (ALU/ALU64) imm A -> B", "(LDX/ST/STX) off A -> B", "mem_sz A -> B", "(LDIMM64) imm64 A -> B" or
// "substituting insn #I w/ invalid insn"). The same instructions must be relocated, to the same values,
// poisoned where libbpf poisons. Whether the kernel then accepts the program does not matter here (some
// corpus programs are of types tsbpf's kernel back end cannot load yet); relocation happens before.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyCoreRelocations, CORE_POISON_HELPER, CoreContext } from '../../src/btf/core/index.js';
import { parseBtfExt } from '../../src/btf/ext.js';
import { parseBtf } from '../../src/btf/parse.js';
import { parseElf } from '../../src/elf/parse.js';
import { decode, type Insn, LDDW } from '../../src/isa/index.js';
import { kernelCoreTarget } from '../../src/node/core-target.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const dir = (d: string) => new URL(`../fixtures/${d}/`, import.meta.url).pathname;
const OBJECTS = [
  ...['core', 'corpus'].flatMap((d) =>
    readdirSync(dir(d))
      .filter((f) => f.endsWith('.o'))
      .map((f) => join(dir(d), f)),
  ),
  join(dir('elf'), 'types.o'),
];

/** One relocation as libbpf's log reports it. */
interface LibbpfRelo {
  prog: string;
  insn: number;
  what: 'imm' | 'off' | 'mem_sz' | 'imm64' | 'poison';
  from?: bigint;
  to?: bigint;
}

function libbpfRelocations(file: string): { relos: LibbpfRelo[]; failed: boolean } {
  const pin = `/sys/fs/bpf/tsbpf_core_libbpf_${process.pid}`;
  // libbpf's debug log goes to stderr, whether the load then succeeds or not.
  const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', file, pin], { encoding: 'utf8' });
  rmSync(pin, { recursive: true, force: true });
  const log = r.stderr;
  const relos: LibbpfRelo[] = [];
  for (const line of log.split('\n')) {
    const m =
      /prog '([^']+)': relo #\d+: patched insn #(\d+) \([^)]+\) (imm64|imm|off|mem_sz) (\d+) -> (\d+)/.exec(
        line,
      );
    if (m)
      relos.push({
        prog: m[1]!,
        insn: Number(m[2]),
        what: m[3] as LibbpfRelo['what'],
        from: BigInt(m[4]!),
        to: BigInt(m[5]!),
      });
    const p = /prog '([^']+)': relo #\d+: substituting insn #(\d+) w\/ invalid insn/.exec(line);
    if (p) relos.push({ prog: p[1]!, insn: Number(p[2]), what: 'poison' });
  }
  return { relos, failed: /failed to relocate/.test(log) };
}

const SIZE_BYTES: Record<number, bigint> = { 0: 4n, 8: 2n, 16: 1n, 24: 8n };

describe.skipIf(!oracle)('CO-RE relocations equal libbpf’s on every object', () => {
  const target = kernelCoreTarget();
  let compared = 0;
  let poisoned = 0;
  let objects = 0;
  let relocations = 0;

  for (const file of OBJECTS) {
    const name = file.split('/fixtures/')[1]!;
    it(name, () => {
      const bytes = new Uint8Array(readFileSync(file));
      const elf = parseElf(bytes, name);
      const btfSec = elf.sectionNamed('.BTF');
      const extSec = elf.sectionNamed('.BTF.ext');
      if (!btfSec || !extSec) return;
      const btf = parseBtf(btfSec.data, name);
      const ext = parseBtfExt(extSec.data, btf);
      const total = [...ext.coreRelos.values()].reduce((n, l) => n + l.length, 0);
      if (total === 0) return;
      objects++;
      relocations += total;
      const { relos: theirs, failed } = libbpfRelocations(file);
      expect(failed, `libbpf failed to relocate ${name}`).toBe(false);

      // Ours, per section, in section slots; libbpf's are per program (a function symbol), from its start.
      const ctx = new CoreContext(btf, target!);
      const ours = new Map<
        string,
        { insns: Insn[]; before: Insn[]; poisoned: Set<number>; slots: Set<number> }
      >();
      for (const [secName, list] of ext.coreRelos) {
        const sec = elf.sectionNamed(secName)!;
        const insns = decode(sec.data);
        const before = insns.map((x) => ({ ...x }));
        const out = applyCoreRelocations(
          insns,
          list.map((r) => ({ insn: r.insnOff / 8, typeId: r.typeId, accessStr: r.accessStr, kind: r.kind })),
          ctx,
          secName,
        );
        ours.set(secName, {
          insns,
          before,
          poisoned: new Set(out.filter((o) => o.poisoned).map((o) => o.insn)),
          slots: new Set(out.map((o) => o.insn)),
        });
      }
      const where = (prog: string) => {
        for (const s of elf.sections) {
          const sym = elf.symbolsIn(s.index).find((x) => x.name === prog && x.type === 2);
          if (sym) return { section: s.name, start: sym.value / 8 };
        }
        throw new Error(`no function ${prog}`);
      };
      const seen = new Map<string, Set<number>>();
      for (const r of theirs) {
        const { section, start } = where(r.prog);
        const mine = ours.get(section)!;
        const slot = start + r.insn;
        const at = `${name} ${r.prog} insn #${r.insn} (${r.what})`;
        // libbpf poisons a lddw's second half too, and says so on a line of its own.
        const secondHalf =
          r.what === 'poison' && mine.before[slot - 1]?.code === LDDW && mine.poisoned.has(slot - 1);
        if (!seen.has(section)) seen.set(section, new Set());
        if (!secondHalf) seen.get(section)!.add(slot);
        const x = mine.insns[slot]!;
        switch (r.what) {
          case 'poison':
            expect(x, at).toEqual({ code: 0x85, dst: 0, src: 0, off: 0, imm: CORE_POISON_HELPER });
            expect(mine.poisoned.has(slot) || secondHalf, at).toBe(true);
            if (!secondHalf) poisoned++;
            break;
          case 'imm':
            expect(BigInt(x.imm >>> 0), at).toBe(BigInt.asUintN(32, r.to!));
            break;
          case 'off':
            expect(BigInt(x.off), at).toBe(r.to!);
            break;
          case 'mem_sz':
            expect(SIZE_BYTES[x.code & 0x18], at).toBe(r.to!);
            expect(SIZE_BYTES[mine.before[slot]!.code & 0x18], at).toBe(r.from!);
            break;
          case 'imm64': {
            expect(x.code, at).toBe(LDDW);
            const v = (BigInt(mine.insns[slot + 1]!.imm >>> 0) << 32n) | BigInt(x.imm >>> 0);
            expect(v, at).toBe(r.to!);
            break;
          }
        }
        compared++;
      }
      // Every relocation of ours lies where libbpf relocated one (sections libbpf relocated at all).
      for (const [section, mine] of ours) {
        const s = seen.get(section);
        if (!s) continue;
        expect(
          [...mine.slots].sort((a, b) => a - b),
          `${name} ${section}`,
        ).toEqual([...s].sort((a, b) => a - b));
      }
    });
  }

  it('compared a corpus worth the name', () => {
    console.log(
      `[core] ${objects} objects, ${relocations} CO-RE relocations: ${compared} results of libbpf's log compared, ${poisoned} poisoned`,
    );
    expect(compared).toBeGreaterThan(100);
  });
});
