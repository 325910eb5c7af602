// The kernel's checks for classic socket filters (bpf_check_classic + check_load_and_stores):
// known opcodes, jumps forward and in range, scratch index < 16, no division by a constant zero, shifts
// by constants < 32, ends in a return, and no scratch word read before it is written on every path.

import { InvalidBytecodeError } from '../errors.js';
import {
  ALLOWED_CODES,
  C,
  cls,
  isCondJump,
  MAXINSNS,
  MEMWORDS,
  mode,
  op,
  SKF_AD_OFF,
  type SockFilter,
} from './insn.js';

/** Ancillary offsets (SKF_AD_OFF + n) this implementation understands. */
export const Ancillary = {
  PROTOCOL: 0,
  PKTTYPE: 4,
  IFINDEX: 8,
  MARK: 20,
  QUEUE: 24,
  HATYPE: 28,
  RXHASH: 32,
  CPU: 36,
  VLAN_TAG: 44,
  VLAN_TAG_PRESENT: 48,
  PAY_OFFSET: 52,
  RANDOM: 56,
  VLAN_TPID: 60,
} as const;
const KNOWN_ANC = new Set<number>(Object.values(Ancillary));

/** Options of checkFilter. */
export interface CheckOptions {
  /**
   * Accept a `ja` whose offset wraps around to an earlier instruction (libpcap's protochain loop). The
   * kernel never does; the classic interpreter runs such programs with an instruction budget.
   */
  backwardJumps?: boolean;
}

/** Throws InvalidBytecodeError (with the instruction index) when the kernel would reject the filter. */
export function checkFilter(prog: readonly SockFilter[], opts: CheckOptions = {}): void {
  const n = prog.length;
  if (n === 0 || n > MAXINSNS)
    throw new InvalidBytecodeError(`classic BPF program length ${n} not in 1..${MAXINSNS}`, 0);
  for (let pc = 0; pc < n; pc++) {
    const f = prog[pc] as SockFilter;
    const bad = (why: string) => new InvalidBytecodeError(why, pc);
    if (!ALLOWED_CODES.has(f.code)) throw bad(`unknown classic BPF opcode 0x${f.code.toString(16)}`);
    if (
      cls(f.code) === C.ALU &&
      (op(f.code) === C.DIV || op(f.code) === C.MOD) &&
      (f.code & C.X) === 0 &&
      f.k === 0
    )
      throw bad('division by constant zero');
    if (
      cls(f.code) === C.ALU &&
      (op(f.code) === C.LSH || op(f.code) === C.RSH) &&
      (f.code & C.X) === 0 &&
      f.k >= 32
    )
      throw bad(`shift by ${f.k} (must be < 32)`);
    if (
      (f.code === (C.LD | C.MEM) || f.code === (C.LDX | C.MEM) || f.code === C.ST || f.code === C.STX) &&
      f.k >= MEMWORDS
    )
      throw bad(`scratch memory index ${f.k} out of range (0..15)`);
    if (f.code === (C.JMP | C.JA) && f.k >= n - pc - 1) {
      const back = (pc + 1 + f.k) >>> 0;
      if (!opts.backwardJumps || back > pc) throw bad(`jump offset ${f.k} out of range`);
    }
    if (isCondJump(f.code) && (pc + f.jt + 1 >= n || pc + f.jf + 1 >= n))
      throw bad(`conditional jump (jt ${f.jt}, jf ${f.jf}) out of range`);
    if (
      cls(f.code) === C.LD &&
      mode(f.code) === C.ABS &&
      f.k >= SKF_AD_OFF &&
      !KNOWN_ANC.has(f.k - SKF_AD_OFF)
    )
      throw bad(`unknown ancillary load at offset ${f.k | 0}`);
  }
  const last = prog[n - 1] as SockFilter;
  if (last.code !== (C.RET | C.K) && last.code !== (C.RET | C.A))
    throw new InvalidBytecodeError('classic BPF program must end with a return', n - 1);
  checkLoadsAfterStores(prog);
}

/** Every M[k] read must follow a write on all paths (masks of valid words propagate along jumps). */
function checkLoadsAfterStores(prog: readonly SockFilter[]): void {
  const masks = new Array<number>(prog.length).fill(0xffff);
  let valid = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    valid &= masks[pc] as number;
    const f = prog[pc] as SockFilter;
    if (f.code === C.ST || f.code === C.STX) valid |= 1 << f.k;
    else if (f.code === (C.LD | C.MEM) || f.code === (C.LDX | C.MEM)) {
      if (!(valid & (1 << f.k)))
        throw new InvalidBytecodeError(`scratch memory M[${f.k}] read before it is written`, pc);
    } else if (f.code === (C.JMP | C.JA)) {
      // A backward jump (allowed only on request) returns to code already checked with fewer valid words.
      if (pc + 1 + f.k < prog.length) masks[pc + 1 + f.k] = (masks[pc + 1 + f.k] as number) & valid;
      valid = 0xffff;
    } else if (isCondJump(f.code)) {
      masks[pc + 1 + f.jt] = (masks[pc + 1 + f.jt] as number) & valid;
      masks[pc + 1 + f.jf] = (masks[pc + 1 + f.jf] as number) & valid;
      valid = 0xffff;
    }
  }
}
