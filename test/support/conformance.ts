// Loader of conformance test files in the bpf_conformance text format, shared by every engine's tests.
//
// A file holds one or more cases. Sections start with a line containing `--`:
//   -- test NAME   starts a new case in the same file (tsbpf extension; upstream files have one case)
//   -- asm         mnemonic-syntax program (comments start with #)
//   -- raw         the program as 64-bit hex words, one instruction slot each (little-endian fields)
//   -- mem         input memory as hex bytes (r1 points at a copy, r2 is its length)
//   -- result      expected r0 (hex with 0x, or decimal); compared as a full 64-bit value
//   -- error       expected error: the run must fail with a message containing this text
// Other `--` directives of upstream files (`-- no register offset`, `-- c`) are ignored with their body.

import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConformanceCase {
  /** `file.data` or `file.data: name`. */
  name: string;
  file: string;
  /** Mnemonic assembly text (empty when the case is given as raw words). */
  asm: string;
  /** Raw 64-bit instruction words, when given with `-- raw`. */
  raw?: bigint[];
  mem: Uint8Array;
  result?: bigint;
  error?: string;
}

/** The folder holding tsbpf's conformance files. */
export const CONFORMANCE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'conformance');

/** Every `.data` file of the folder, sorted. */
export function conformanceFiles(dir = CONFORMANCE_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.data'))
    .sort()
    .map((f) => join(dir, f));
}

export function loadConformanceFile(path: string): ConformanceCase[] {
  return parseConformance(readFileSync(path, 'utf8'), basename(path));
}

type Section = 'ignore' | 'asm' | 'raw' | 'mem' | 'result' | 'error';

export function parseConformance(text: string, file: string): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  let name: string | undefined;
  let asm: string[] = [];
  let raw: string[] = [];
  let mem: string[] = [];
  let result: string | undefined;
  let error: string | undefined;
  let section: Section = 'ignore';
  let started = false;

  const flush = (lineNo: number) => {
    if (!started) return;
    const label = name ? `${file}: ${name}` : file;
    if (result === undefined && error === undefined) {
      throw new Error(`${label} (before line ${lineNo}): no '-- result' or '-- error' section`);
    }
    if (asm.length === 0 && raw.length === 0) throw new Error(`${label}: no program`);
    const c: ConformanceCase = {
      name: label,
      file,
      asm: asm.join('\n'),
      mem: parseHexBytes(mem.join(' '), label),
    };
    if (raw.length > 0)
      c.raw = raw
        .join(' ')
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => BigInt(w));
    if (result !== undefined) c.result = BigInt.asUintN(64, BigInt(result));
    if (error !== undefined) c.error = error;
    cases.push(c);
  };

  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const directive = /^\s*--\s*(.*?)\s*$/.exec(line);
    if (directive) {
      const d = directive[1]!;
      if (d.startsWith('test')) {
        flush(i + 1);
        name = d.slice(4).trim();
        asm = [];
        raw = [];
        mem = [];
        result = undefined;
        error = undefined;
        section = 'ignore';
        started = true;
        return;
      }
      started = true;
      section = d === 'asm' || d === 'raw' || d === 'mem' || d === 'result' || d === 'error' ? d : 'ignore';
      return;
    }
    const body = section === 'asm' ? line.replace(/#.*/, '').trimEnd() : line.trim();
    if (body.trim() === '' || (section !== 'asm' && body.startsWith('#'))) return;
    if (section === 'asm') asm.push(body);
    else if (section === 'raw') raw.push(body);
    else if (section === 'mem') mem.push(body);
    else if (section === 'result') result = body;
    else if (section === 'error') error = body;
  });
  flush(lines.length);
  return cases;
}

function parseHexBytes(text: string, label: string): Uint8Array {
  const words = text.split(/\s+/).filter(Boolean);
  return Uint8Array.from(words, (w) => {
    if (!/^(0x)?[0-9a-f]{1,2}$/i.test(w)) throw new Error(`${label}: bad memory byte '${w}'`);
    return Number.parseInt(w.replace(/^0x/i, ''), 16);
  });
}

/** Slots of a `-- raw` case: each word holds code, regs, off, imm in little-endian bit order. */
export function rawWordsToBytes(words: readonly bigint[]): Uint8Array {
  const bytes = new Uint8Array(words.length * 8);
  const view = new DataView(bytes.buffer);
  for (const [i, w] of words.entries()) view.setBigUint64(i * 8, BigInt.asUintN(64, w), true);
  return bytes;
}
