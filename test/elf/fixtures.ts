// The compiled C fixtures of test/fixtures/elf and tools to cross-check them.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/elf/', import.meta.url));

export const FIXTURES = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.o'))
  .sort();

export const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURE_DIR, name)));
export const fixturePath = (name: string): string => join(FIXTURE_DIR, name);
export const fixtureSource = (name: string): string[] =>
  readFileSync(join(FIXTURE_DIR, name.replace(/\.o$/, '.c')), 'utf8').split('\n');

/** Output of an LLVM/bpftool command; these come with clang-19 / bpftool, which CI installs. */
export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface ToolReloc {
  section: string;
  offset: number;
  type: string;
  symbol: string;
}

/** Relocations of every code section as llvm-readelf-19 lists them. */
export function readelfRelocs(name: string): ToolReloc[] {
  const out = run('llvm-readelf-19', ['-r', '--wide', fixturePath(name)]);
  const relocs: ToolReloc[] = [];
  let section = '';
  for (const line of out.split('\n')) {
    const head = /^Relocation section '\.rel(.*)' at offset/.exec(line);
    if (head) {
      section = head[1]!;
      continue;
    }
    const m = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(R_BPF_\w+)\s+[0-9a-f]{16}\s+(\S+)/.exec(line.trim());
    if (m) relocs.push({ section, offset: Number.parseInt(m[1]!, 16), type: m[2]!, symbol: m[3]! });
  }
  return relocs;
}

/** Functions as llvm-objdump-19 -d prints them: section, name, and the raw bytes of each slot. */
export function objdumpFunctions(name: string): { section: string; name: string; slots: Uint8Array[] }[] {
  const out = run('llvm-objdump-19', ['-d', fixturePath(name)]);
  const funcs: { section: string; name: string; slots: Uint8Array[] }[] = [];
  let section = '';
  for (const line of out.split('\n')) {
    const sec = /^Disassembly of section (.*):$/.exec(line);
    if (sec) section = sec[1]!;
    const fn = /^[0-9a-f]{16} <(.*)>:$/.exec(line);
    if (fn) funcs.push({ section, name: fn[1]!, slots: [] });
    const ins = /^\s+\d+:\t([0-9a-f]{2}(?: [0-9a-f]{2})*)\t/.exec(line);
    if (ins && funcs.length > 0) {
      const bytes = Uint8Array.from(ins[1]!.trim().split(' '), (h) => Number.parseInt(h, 16));
      // lddw prints both slots on one line.
      for (let at = 0; at < bytes.length; at += 8) funcs.at(-1)!.slots.push(bytes.subarray(at, at + 8));
    }
  }
  return funcs;
}
