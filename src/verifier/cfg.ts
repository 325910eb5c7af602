// Structure checks before any simulation: size limits, decodable slots, jump targets, subprogram
// boundaries, no unreachable code, no fall-through off the end, and (optionally) the
// classic rule that forbids back edges. Also computes what later passes need: subprogram starts,
// prune points (jump targets) and register liveness.

import { InvalidBytecodeError } from '../errors.js';
import type { HelperDef } from '../helpers/types.js';
import {
  Class,
  checkProgram,
  classOf,
  type Insn,
  isBranch,
  JmpOp,
  jumpTarget,
  LDDW,
  OP_MASK,
  PseudoCall,
  subprogramStarts,
} from '../isa/index.js';

export class Reject extends Error {
  constructor(
    readonly insn: number,
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Cfg {
  /** Sorted start slots of subprograms (0 first). */
  subprogs: number[];
  /** Subprogram (start slot) each slot belongs to. */
  owner: Int32Array;
  /** 1 where states are remembered and compared (jump targets, fall-through of conditional jumps). */
  prunePoint: Uint8Array;
  /** 1 for the second slot of a lddw. */
  secondHalf: Uint8Array;
  /** Successors of each slot inside its subprogram. */
  succ: number[][];
}

export const isExit = (ins: Insn): boolean => ins.code === (Class.JMP | JmpOp.EXIT);
export const isCall = (ins: Insn): boolean => ins.code === (Class.JMP | JmpOp.CALL);
export const isHelperCall = (ins: Insn): boolean => isCall(ins) && ins.src === PseudoCall.HELPER;
const isJa = (ins: Insn): boolean =>
  ins.code === (Class.JMP | JmpOp.JA) || ins.code === (Class.JMP32 | JmpOp.JA);

export interface CfgOptions {
  unprivileged: boolean;
  loops: 'bounded' | 'dfs';
  maxInsns: number;
  helper: (id: number) => HelperDef | undefined;
}

export function buildCfg(insns: readonly Insn[], opts: CfgOptions): Cfg {
  const n = insns.length;
  const limit = opts.unprivileged ? 4096 : opts.maxInsns;
  if (n > limit) {
    throw new Reject(
      0,
      'too_large',
      `the program has ${n} instructions; the limit is ${limit}${opts.unprivileged ? ' for unprivileged programs' : ''}`,
    );
  }
  try {
    // 1- and 2-byte atomics (load-acquire/store-release) are opcodes the kernel knows and rejects only
    // where a path reaches them; tsbpf's ISA has no such opcodes and its engines refuse them anywhere, so
    // they are refused here too (deliberately stricter than the kernel).
    checkProgram(insns);
  } catch (e) {
    if (e instanceof InvalidBytecodeError) throw new Reject(e.index, 'bad_insn', e.reason);
    throw e;
  }
  const secondHalf = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const why = checkedUpFront(insns[i]!) && reservedFields(insns[i]!);
    if (why) throw new Reject(i, 'reserved_fields', why);
    if (insns[i]!.code === LDDW) secondHalf[++i] = 1;
  }

  // Subprograms start at insn 0, at targets of local calls and at lddw function pointers. A bad target
  // is reported in slot order with the call kinds refused below, as one pass over the slots would.
  let subprogs: number[] = [];
  let badTarget: Reject | undefined;
  try {
    subprogs = subprogramStarts(insns);
  } catch (e) {
    if (!(e instanceof InvalidBytecodeError)) throw e;
    badTarget = new Reject(e.index, 'bad_insn', e.reason);
  }
  for (let i = 0; i < (badTarget?.insn ?? n); i++) {
    if (secondHalf[i]) continue;
    const ins = insns[i]!;
    // Kfunc calls (src KFUNC) are checked where a path reaches them (./kfuncs.ts).
    if (isCall(ins) && ins.src > PseudoCall.KFUNC) {
      throw new Reject(i, 'bad_insn', `call with unknown src ${ins.src}`);
    } else if (ins.code === (Class.JMP | JmpOp.CALL | 0x08)) {
      throw new Reject(i, 'bad_insn', 'indirect calls (callx) are not supported');
    }
  }
  if (badTarget) throw badTarget;
  const owner = new Int32Array(n);
  for (let k = 0; k < subprogs.length; k++) {
    const end = subprogs[k + 1] ?? n;
    owner.fill(subprogs[k]!, subprogs[k]!, end);
  }

  const succ: number[][] = Array.from({ length: n }, () => []);
  const prunePoint = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (secondHalf[i]) continue;
    const ins = insns[i]!;
    const cls = classOf(ins.code);
    const next = i + (ins.code === LDDW ? 2 : 1);
    if (isExit(ins)) continue;
    if (isBranch(ins)) {
      const t = jumpTarget(ins, i);
      if (owner[t] !== owner[i])
        throw new Reject(
          i,
          'bad_jump',
          `jump from ${i} to ${t} leaves its function (starting at ${owner[i]})`,
        );
      succ[i]!.push(t);
      prunePoint[t] = 1;
      if (isJa(ins)) continue;
      if (cls === Class.JMP || cls === Class.JMP32) prunePoint[next] = 1;
    }
    if (next >= n || owner[next] !== owner[i]) {
      throw new Reject(
        i,
        'fall_through',
        'execution can run past the last instruction of its function (missing exit or jump)',
      );
    }
    succ[i]!.push(next);
    if (isCall(ins)) prunePoint[next] = 1;
  }
  for (const start of subprogs) if (start > 0) prunePoint[start] = 1; // callbacks are re-entered
  for (let i = 0; i < n; i++) if (secondHalf[i]) prunePoint[i] = 0;

  // Reachability and back edges, with an iterative depth-first search per subprogram.
  const color = new Uint8Array(n); // 0 white, 1 on stack, 2 done
  for (const start of subprogs) {
    const stack: [number, number][] = [[start, 0]];
    color[start] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [v, k] = top;
      const out = succ[v]!;
      if (k < out.length) {
        top[1]++;
        const w = out[k]!;
        if (color[w] === 1) {
          if (opts.loops === 'dfs')
            throw new Reject(
              v,
              'back_edge',
              `back edge from ${v} to ${w}: loops are not allowed in this mode`,
            );
          prunePoint[w] = 1;
        } else if (color[w] === 0) {
          color[w] = 1;
          stack.push([w, 0]);
        }
      } else {
        color[v] = 2;
        stack.pop();
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (!secondHalf[i] && color[i] === 0)
      throw new Reject(i, 'unreachable', `instruction ${i} can never be reached`);
  }
  return { subprogs, owner, prunePoint, secondHalf, succ };
}

/**
 * The kernel checks the fields of loads and lddw for every instruction before it explores anything
 * (resolve_pseudo_ldimm64); those of the others only when it reaches them, so a malformed instruction on a
 * path no execution takes is accepted. `Verifier.step` checks the rest.
 */
export const checkedUpFront = (ins: Insn): boolean => classOf(ins.code) === Class.LDX || ins.code === LDDW;

/**
 * Fields an instruction does not use must be zero (the kernel rejects "uses reserved fields"): they may
 * get a meaning in a later ISA version.
 */
export function reservedFields(ins: Insn): string | undefined {
  const cls = classOf(ins.code);
  const op = ins.code & OP_MASK;
  const x = (ins.code & 0x08) !== 0;
  const offOk = (ok: readonly number[]) => ok.includes(ins.off);
  const bad = (what: string) =>
    `${what}: unused fields must be zero (dst=${ins.dst} src=${ins.src} off=${ins.off} imm=${ins.imm})`;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64:
      if (op === 0x80 || op === 0xd0) {
        if (ins.src !== 0 || ins.off !== 0 || (op === 0x80 && (x || ins.imm !== 0)))
          return bad(op === 0x80 ? 'neg' : 'byte swap');
        if (op === 0xd0 && ![16, 32, 64].includes(ins.imm)) return bad('byte swap width');
        return undefined;
      }
      if (op === 0xb0) {
        if (!x) return ins.src !== 0 || ins.off !== 0 ? bad('mov') : undefined;
        return ins.imm !== 0 || !offOk(cls === Class.ALU ? [0, 8, 16] : [0, 8, 16, 32])
          ? bad('mov')
          : undefined;
      }
      if (x ? ins.imm !== 0 : ins.src !== 0) return bad('alu');
      if (!offOk([0, 1]) || (ins.off === 1 && op !== 0x30 && op !== 0x90)) return bad('alu offset');
      return undefined;
    case Class.LDX:
      return ins.imm !== 0 ? bad('load') : undefined;
    case Class.ST:
      return ins.src !== 0 ? bad('store') : undefined;
    case Class.STX:
      if ((ins.code & 0xe0) === 0x60 && ins.imm !== 0) return bad('store');
      if (
        (ins.code & 0xe0) === 0xc0 &&
        ![0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1].includes(ins.imm)
      ) {
        return `unknown atomic operation 0x${ins.imm.toString(16)}`;
      }
      return undefined;
    case Class.LD:
      if (ins.code === LDDW) return ins.off !== 0 ? bad('lddw') : undefined;
      if (ins.dst !== 0 || ins.off !== 0 || ((ins.code & 0xe0) === 0x20 && ins.src !== 0))
        return bad('LD_ABS/LD_IND');
      return undefined;
    default:
      if (op === JmpOp.JA) {
        if (x || ins.src !== 0 || ins.dst !== 0 || (cls === Class.JMP ? ins.imm !== 0 : ins.off !== 0))
          return bad('ja');
        return undefined;
      }
      if (op === JmpOp.EXIT)
        return x || ins.imm !== 0 || ins.src !== 0 || ins.dst !== 0 || ins.off !== 0 || cls === Class.JMP32
          ? bad('exit')
          : undefined;
      if (op === JmpOp.CALL) {
        if (cls === Class.JMP32 || ins.dst !== 0 || x || (ins.src === 0 && ins.off !== 0)) return bad('call');
        return undefined;
      }
      return (x ? ins.imm !== 0 : ins.src !== 0) ? bad('conditional jump') : undefined;
  }
}

// ---- register liveness (static, backward) -----------------------------------------------------------

const bit = (r: number) => 1 << r;
const ARGS = 0b111110; // r1-r5
const CALLER_SAVED = 0b111111; // r0-r5

/** Registers read and written by one instruction, as bit masks. */
function useDef(ins: Insn): [number, number] {
  const cls = classOf(ins.code);
  const op = ins.code & OP_MASK;
  const x = (ins.code & 0x08) !== 0;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      if (op === 0xb0) return [x ? bit(ins.src) : 0, bit(ins.dst)];
      return [bit(ins.dst) | (x && op !== 0xd0 ? bit(ins.src) : 0), bit(ins.dst)];
    }
    case Class.LDX:
      return [bit(ins.src), bit(ins.dst)];
    case Class.ST:
      return [bit(ins.dst), 0];
    case Class.STX: {
      let use = bit(ins.dst) | bit(ins.src);
      let def = 0;
      if ((ins.code & 0xe0) === 0xc0) {
        if (ins.imm & 1) def |= bit(ins.src);
        if (ins.imm === 0xf1) {
          use |= 1;
          def |= 1;
        }
      }
      return [use, def];
    }
    case Class.LD:
      if (ins.code === LDDW) return [0, bit(ins.dst)];
      return [bit(6) | ((ins.code & 0xe0) === 0x40 ? bit(ins.src) : 0), CALLER_SAVED];
    default: {
      if (op === JmpOp.CALL) return [ARGS, CALLER_SAVED];
      if (op === JmpOp.EXIT) return [1, 0];
      if (op === JmpOp.JA) return [0, 0];
      return [bit(ins.dst) | (x ? bit(ins.src) : 0), 0];
    }
  }
}

/** Registers live on entry to each slot (bit r set: r may be read before written). r10 always. */
export function liveness(insns: readonly Insn[], cfg: Cfg): Uint16Array {
  const n = insns.length;
  const live = new Uint16Array(n);
  const ud = insns.map((ins, i) => (cfg.secondHalf[i] ? [0, 0] : useDef(ins)));
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      if (cfg.secondHalf[i]) continue;
      let out = 0;
      for (const s of cfg.succ[i]!) out |= live[s]!;
      const [use, def] = ud[i]!;
      const inn = (use | (out & ~def) | bit(10)) & 0xffff;
      if (inn !== live[i]) {
        live[i] = inn;
        changed = true;
      }
    }
  }
  return live;
}
