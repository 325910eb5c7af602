// Classic BPF (src/cbpf): random socket filters as bytes — mostly allowed opcodes with random and edge
// fields, some arbitrary codes, some truncated — go through decodeFilter and checkFilter, which accept or
// throw an InvalidBytecodeError naming an instruction of the input. What the checker accepts prints in
// every format (the -ddd text parses back to the same program), runs on the classic interpreter to a u32
// verdict, and translates to eBPF that our verifier accepts and that both engines run to the classic
// interpreter's verdict. The -ddd text parser takes damaged text too: a program or a TsbpfError.

import {
  ALLOWED_CODES,
  Ancillary,
  C,
  cbpfToEbpf,
  checkFilter,
  cls,
  createPacketFilter,
  decodeFilter,
  encodeFilter,
  formatAsm,
  formatC,
  formatDecimal,
  isCondJump,
  mode,
  parseDecimal,
  runFilter,
  SKF_AD_OFF,
  type SockFilter,
} from '../../src/cbpf/index.js';
import { InvalidBytecodeError, TsbpfError } from '../../src/errors.js';
import { Runtime } from '../../src/vm/runtime.js';
import { randomPacket, randomSkb } from '../support/cbpf-inputs.js';
import { check, describeThrown, fuzzTarget, printNow, type Rng } from './harness.js';

const CODES = [...ALLOWED_CODES].sort((a, b) => a - b);
const EDGE_K = [0, 1, 2, 4, 14, 31, 32, 33, 63, 0xff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const ANCILLARY = Object.values(Ancillary) as number[];

function randomK(r: Rng, code: number, pc: number, n: number): number {
  if (code === (C.JMP | C.JA)) return r.chance(0.9) ? r.int(Math.max(1, n - pc - 1)) : r.u32();
  if (code === (C.LD | C.MEM) || code === (C.LDX | C.MEM) || code === C.ST || code === C.STX)
    return r.chance(0.9) ? r.int(4) : r.int(18);
  if (cls(code) === C.LD && (mode(code) === C.ABS || mode(code) === C.IND)) {
    if (mode(code) === C.ABS && r.chance(0.15))
      return SKF_AD_OFF + (r.chance(0.9) ? r.pick(ANCILLARY) : r.int(80));
    return r.chance(0.8) ? r.int(70) : r.chance(0.5) ? r.pick(EDGE_K) : r.u32();
  }
  return r.chance(0.5) ? r.pick(EDGE_K) : r.chance(0.5) ? r.int(300) : r.u32();
}

/** A filter as bytes: stores first (so scratch reads often pass the checker), any opcode, then a return. */
function randomFilter(r: Rng): Uint8Array {
  const n = 1 + r.int(24);
  const prog: SockFilter[] = [];
  for (let pc = 0; pc < n - 1; pc++) {
    const code = r.chance(0.03)
      ? r.int(0x10000)
      : pc < 2 && r.chance(0.5)
        ? r.pick([C.ST, C.STX])
        : r.pick(CODES);
    const room = Math.max(0, n - pc - 2);
    const jt = isCondJump(code) && r.chance(0.95) ? r.int(room + 1) : r.int(256);
    const jf = isCondJump(code) && r.chance(0.95) ? r.int(room + 1) : r.int(256);
    prog.push({ code, jt, jf, k: randomK(r, code, pc, n) >>> 0 });
  }
  prog.push({ code: r.chance(0.7) ? C.RET | C.A : C.RET | C.K, jt: 0, jf: 0, k: r.u32() });
  const bytes = encodeFilter(prog);
  return r.chance(0.05) ? bytes.subarray(0, r.int(bytes.length)) : bytes;
}

/** -ddd text damaged: a number changed to a word, a sign, a huge value, a line lost or repeated. */
function damagedDecimal(r: Rng, text: string): string {
  const lines = text.split('\n');
  const at = r.int(lines.length);
  const words = lines[at]!.split(' ');
  switch (r.int(4)) {
    case 0:
      words[r.int(words.length)] = r.pick([
        'x',
        '-1',
        '1e3',
        '4294967296',
        '65536',
        '256',
        '0x10',
        '',
        '1.5',
        'NaN',
      ]);
      lines[at] = words.join(' ');
      break;
    case 1:
      lines.splice(at, 1);
      break;
    case 2:
      lines.splice(at, 0, lines[r.int(lines.length)]!);
      break;
    default:
      lines[0] = String(r.int(40));
  }
  return lines.join('\n');
}

const runtime = new Runtime();

fuzzTarget(
  'cbpf',
  {
    seconds: 5,
    after: (counts, n) => {
      check((counts.checked ?? 0) > n / 20, `only ${counts.checked} of ${n} filters passed the checker`);
      check((counts['engines agree'] ?? 0) > 0, 'no filter was run on the eBPF engines');
    },
  },
  ({ r, verbose, count, size }) => {
    const bytes = randomFilter(r);
    size(bytes.length);
    const hex = Buffer.from(bytes).toString('hex');
    if (verbose) printNow(`cbpf input: ${hex}`);
    let prog: SockFilter[];
    try {
      prog = decodeFilter(bytes);
      checkFilter(prog);
    } catch (e) {
      check(e instanceof InvalidBytecodeError, () => `${hex}: decode/check threw ${describeThrown(e)}`);
      check(e.index >= 0 && e.index <= bytes.length / 8, `${hex}: the error names instruction ${e.index}`);
      count('rejected');
      return;
    }
    count('checked');
    check(Buffer.from(encodeFilter(prog)).toString('hex') === hex, `${hex}: encode(decode(bytes)) differs`);
    formatAsm(prog);
    formatC(prog);
    const decimal = formatDecimal(prog);
    check(
      JSON.stringify(parseDecimal(decimal)) === JSON.stringify(prog),
      `${hex}: -ddd text does not parse back`,
    );
    // Checked last, so a known parser defect does not hide what the engines do.
    const textProblem = parseDamaged(damagedDecimal(r, decimal), count);
    engines(r, prog, hex, count);
    check(textProblem === undefined, () => textProblem!);
  },
);

/** What is wrong with parseDecimal's answer to damaged -ddd text, if anything. */
function parseDamaged(damaged: string, count: (what: string) => void): string | undefined {
  let back: SockFilter[];
  try {
    back = parseDecimal(damaged);
  } catch (e) {
    if (e instanceof TsbpfError) return undefined;
    return `parseDecimal(${JSON.stringify(damaged)}) threw ${describeThrown(e)}`;
  }
  const fits = (v: number, max: number) => Number.isInteger(v) && v >= 0 && v <= max;
  if (
    !back.every((f) => fits(f.code, 0xffff) && fits(f.jt, 0xff) && fits(f.jf, 0xff) && fits(f.k, 0xffffffff))
  )
    return `parseDecimal(${JSON.stringify(damaged)}) gave fields out of range: ${JSON.stringify(back)}`;
  count('damaged text parsed');
  return undefined;
}

/** The classic interpreter's verdicts, and the same from the eBPF translation on one of the engines. */
function engines(r: Rng, prog: SockFilter[], hex: string, count: (what: string) => void): void {
  const inputs = Array.from({ length: 4 }, () => {
    const packet = randomPacket(r);
    return { packet, wireLen: packet.length + (r.chance(0.3) ? r.int(100) : 0), skb: randomSkb(r) };
  });
  const want = inputs.map(({ packet, wireLen, skb }) => runFilter(prog, packet, { wireLen, skb }));
  check(
    want.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff),
    `${hex}: classic verdicts ${want}`,
  );
  try {
    cbpfToEbpf(prog);
  } catch (e) {
    // Ancillary loads with no eBPF field (the kernel calls helpers for them) are refused by name.
    check(
      e instanceof TsbpfError && /ancillary load \d+ has no eBPF translation/.test(e.message),
      () => `${hex}: cbpfToEbpf threw ${describeThrown(e)}`,
    );
    count('untranslatable');
    return;
  }
  const engine = r.chance(0.3) ? 'jit' : 'interp';
  const filter = createPacketFilter(prog, { engine, runtime });
  try {
    check(filter.verified, () => `${hex}: the verifier rejected the translation: ${filter.verifierLog}`);
    inputs.forEach(({ packet, wireLen, skb }, i) => {
      const got = filter.run(packet, wireLen, skb);
      check(
        got === want[i],
        () => `${hex} [${engine}] on ${Buffer.from(packet).toString('hex')}: ${got}, classic ${want[i]}`,
      );
    });
  } finally {
    filter.close();
  }
  count('engines agree');
}
