// A program made ready to run: map references resolved to addresses, helpers looked up, and every slot
// pre-decoded into a flat Int32Array the interpreter can dispatch on without allocating. The JIT reads
// the same `insns` (resolved) so both engines see identical constants.
//
// Decoded layout, four words per slot (`code[slot * 4 + k]`):
//
//   k=0  opcode (bits 0-7) | variant (8-15) | dst*2 (16-23) | src*2 (24-31)
//   k=1  off, or the absolute target slot for jumps, gotol and local calls
//   k=2  imm (low 32 bits of lddw; helper table index for helper calls)
//   k=3  imm >> 31 (the sign-extended high half), or the high 32 bits of lddw
//
// `variant` names the sub-operation an opcode selects with off or imm (sdiv, movsx, bswap width, atomic
// op). One extra all-zero slot is appended so running off the end lands on an invalid opcode.
//
// `fast` is the same array with superinstructions: word 0 of the first slot of a common sequence gets a
// `Fused` opcode (its dst/src fields kept), and the interpreter runs the sequence in one dispatch, reading
// the following slots' words, which stay as they are (so jumps into the middle of a sequence still work).

import { InvalidBytecodeError } from '../errors.js';
import { helperById } from '../helpers/registry.js';
import type { HelperDef } from '../helpers/types.js';
import {
  AluOp,
  AtomicOp,
  Class,
  checkProgram,
  classOf,
  type Insn,
  isBranch,
  JmpOp,
  jumpTarget,
  LDDW,
  lddwValue,
  MODE_MASK,
  Mode,
  OP_MASK,
  PseudoCall,
  PseudoLddw,
  Source,
  subprogramStarts,
} from '../isa/index.js';
import { KFUNC_ID_BASE, kfuncHelper, kfuncHelperId } from '../kfuncs/registry.js';
import type { RuntimeMap } from '../maps/types.js';
import { kernelHelperName } from '../spec/helper-names.js';
import type { ProgramSpec } from '../spec/object.js';
import { convertCtxStores } from './ctx-stores.js';

/** How a program finds helpers by id; defaults to the shared registry. */
export type HelperLookup = (id: number) => HelperDef | undefined;

/** Options of prepareProgram. */
export interface PrepareOptions {
  /** Where helper ids are resolved (tests and hooks may add their own); default `helperById`. */
  helpers?: HelperLookup;
  /** Address of at least 4 zero bytes, used as key 0 to resolve lddw MAP_VALUE (Runtime provides it). */
  zeroKey?: number;
  /** CPU whose value a MAP_VALUE lddw points at for per-CPU maps (0). */
  cpu?: number;
  /**
   * The verifier accepted the program: an instruction no engine can run (a write to r10, a byte swap of
   * width 56, an unknown helper …) is one no path reaches — the kernel loads such programs and turns dead
   * code into traps — so it becomes a trap (a fault if ever run) instead of refusing the program.
   */
  trapInvalid?: boolean;
  /**
   * The verifier let the program read stack it never wrote (a privileged load, verifier/privileged.ts):
   * the engines zero the stack before each of its runs, so such a read gives 0 and never bytes an earlier
   * run (of any program) left there.
   */
  clearStack?: boolean;
  /**
   * The context field each context store writes, by pc (VerifyResult.ctxStores): the stores the kernel
   * converts are converted alike (ctx-stores.ts), for both engines.
   */
  ctxStores?: ReadonlyMap<number, string>;
}

/** What an instruction no path reaches becomes under `trapInvalid`: an opcode every engine faults on. */
const TRAP: Insn = { code: 0, dst: 0, src: 0, off: 0, imm: 0 };

/**
 * Kfunc calls (src KFUNC, imm an index into the program's kfunc list) become calls of the kfuncs' helper
 * ids, so both engines call them as helpers. A kfunc without a user-space implementation cannot run: its
 * call is a trap when unreached calls may be (trapInvalid), else an error naming it.
 */
function kfuncCallsAsHelpers(insns: Insn[], kfuncs: readonly { name: string }[], trap: boolean): void {
  for (let i = 0; i < insns.length; i++) {
    const ins = insns[i]!;
    if (ins.code !== (Class.JMP | JmpOp.CALL) || ins.src !== PseudoCall.KFUNC) continue;
    const name = kfuncs[ins.imm]?.name;
    const id = name === undefined ? undefined : kfuncHelperId(name);
    if (id !== undefined) insns[i] = { ...ins, src: PseudoCall.HELPER, imm: id, off: 0 };
    else if (trap) insns[i] = { ...TRAP };
    else
      throw new InvalidBytecodeError(
        name === undefined
          ? `kfunc call ${ins.imm} names no kfunc of the program`
          : `kernel function ${name} has no user-space implementation`,
        i,
      );
  }
}

/** A program ready for the engines: map references made addresses, slots pre-decoded, helpers resolved. */
export interface PreparedProgram {
  readonly name: string;
  /** Program type name (ProgramSpec.type), '' for raw instruction arrays. */
  readonly type: string;
  /** Slots with map lddws rewritten to plain 64-bit immediates holding the addresses (src 0). */
  readonly insns: readonly Insn[];
  /** Pre-decoded slots (see the layout above); length (insns.length + 1) * 4. */
  readonly code: Int32Array;
  /** `code` with superinstructions (see the layout above); the interpreter dispatches on it. */
  readonly fast: Int32Array;
  /** Helpers called by this program, indexed by code word k=2 of each helper call. */
  readonly helpers: readonly HelperDef[];
  /** Helper lookup for callx, whose id is only known at run time. */
  readonly lookupHelper: HelperLookup;
  readonly maps: readonly RuntimeMap[];
  /** Slot indices where functions start (subprogramStarts: 0 and every local-call / lddw FUNC target). */
  readonly functions: readonly number[];
  /** Every run starts from a zeroed stack, as checked runs do (PrepareOptions.clearStack). */
  readonly clearsStack?: boolean;
}

/**
 * Whether no engine can run this (non-lddw) instruction: what the loop below refuses slot by slot. Only
 * asked under `trapInvalid`, so the loop's messages stay the ones users see.
 */
function cannotRun(ins: Insn, lookup: HelperLookup): boolean {
  const cls = classOf(ins.code);
  const op = ins.code & OP_MASK;
  if (cls === Class.ALU || cls === Class.ALU64) {
    if (op === AluOp.DIV || op === AluOp.MOD) return ins.off !== 0 && ins.off !== 1;
    if (op === AluOp.MOV && (ins.code & Source.X) !== 0)
      return !(cls === Class.ALU64 ? [0, 8, 16, 32] : [0, 8, 16]).includes(ins.off);
    if (op === AluOp.END) return ![16, 32, 64].includes(ins.imm);
    if (ins.off !== 0) return true;
  } else if (cls === Class.STX && (ins.code & MODE_MASK) === Mode.ATOMIC) {
    if (!AtomicVariant[ins.imm]) return true;
  } else if (ins.code === (Class.JMP | JmpOp.CALL)) {
    if (ins.src === PseudoCall.HELPER && !lookup(ins.imm)) return true;
  }
  return writtenRegister(ins) === 10;
}

/**
 * Superinstruction opcodes of `fast` (values no eBPF opcode uses). Chosen from the sequences clang emits
 * most: a register copy plus a constant (pointer arithmetic, `r2 = r10; r2 += -4`), and the packet
 * bounds check `r1 = r7; r1 += 14; if r1 > r6 goto`.
 */
export const Fused = {
  /** mov64 rd, rs; add64 rd, imm. */
  MOV_ADD: 0xe8,
  /** MOV_ADD, then an unsigned 64-bit register compare-and-jump (jgt, jge, jlt, jle). */
  MOV_ADD_JCMP: 0xe9,
} as const;
/** Most slots a superinstruction covers. */
export const FUSED_MAX = 3;

/** Variants of the atomic immediate, in code word bits 8-15. */
export const AtomicVariant = {
  [AtomicOp.ADD]: 1,
  [AtomicOp.ADD | AtomicOp.FETCH]: 2,
  [AtomicOp.OR]: 3,
  [AtomicOp.OR | AtomicOp.FETCH]: 4,
  [AtomicOp.AND]: 5,
  [AtomicOp.AND | AtomicOp.FETCH]: 6,
  [AtomicOp.XOR]: 7,
  [AtomicOp.XOR | AtomicOp.FETCH]: 8,
  [AtomicOp.XCHG]: 9,
  [AtomicOp.CMPXCHG]: 10,
} as Readonly<Record<number, number>>;

/** Resolve, check and pre-decode a program. Throws InvalidBytecodeError naming the slot on bad input. */
export function prepareProgram(
  spec: ProgramSpec | readonly Insn[],
  maps: readonly RuntimeMap[] = [],
  options: PrepareOptions = {},
): PreparedProgram {
  const isSpec = !Array.isArray(spec);
  const source: readonly Insn[] = isSpec ? (spec as ProgramSpec).insns : (spec as readonly Insn[]);
  checkProgram(source);
  const converted = options.ctxStores ? convertCtxStores(source, options.ctxStores) : source;
  // Function addresses are checked here too (not only by the verifier): callbacks start at them.
  const functions = subprogramStarts(converted);
  // Kfuncs are called as helpers of a number space of their own (../kfuncs/registry.ts).
  const base = options.helpers ?? helperById;
  const lookup: HelperLookup = (id) => (id >= KFUNC_ID_BASE ? kfuncHelper(id) : base(id));
  const insns = converted.map((i) => ({ ...i }));
  if (isSpec) kfuncCallsAsHelpers(insns, (spec as ProgramSpec).kfuncs ?? [], options.trapInvalid === true);
  const n = insns.length;
  const code = new Int32Array((n + 1) * 4);
  const helpers: HelperDef[] = [];
  const helperIndex = new Map<number, number>();

  for (let i = 0; i < n; i++) {
    const ins = insns[i]!;
    const bad = (why: string): never => {
      throw new InvalidBytecodeError(why, i);
    };
    if (options.trapInvalid && ins.code !== LDDW && cannotRun(ins, lookup)) {
      insns[i] = { ...TRAP };
      continue;
    }
    const cls = classOf(ins.code);
    const op = ins.code & OP_MASK;
    let variant = 0;
    let w1 = ins.off;
    let w2 = ins.imm | 0;
    let w3 = w2 >> 31;

    if (ins.code === LDDW) {
      const value = resolveLddw(insns, i, maps, options, bad);
      const [lo, hi] = [Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n))];
      ins.src = ins.src === PseudoLddw.FUNC ? ins.src : 0;
      ins.imm = lo;
      insns[i + 1]!.imm = hi;
      w2 = lo;
      w3 = hi;
    } else if (cls === Class.ALU || cls === Class.ALU64) {
      if (op === AluOp.DIV || op === AluOp.MOD) {
        if (ins.off !== 0 && ins.off !== 1)
          bad(`${op === AluOp.DIV ? 'div' : 'mod'} with invalid offset ${ins.off}`);
        variant = ins.off;
      } else if (op === AluOp.MOV && (ins.code & Source.X) !== 0) {
        const widths = cls === Class.ALU64 ? [0, 8, 16, 32] : [0, 8, 16];
        variant = widths.indexOf(ins.off);
        if (variant < 0) bad(`movsx with invalid width ${ins.off}`);
      } else if (op === AluOp.END) {
        variant = [16, 32, 64].indexOf(ins.imm) + 1;
        if (variant === 0) bad(`byte swap with invalid width ${ins.imm}`);
      } else if (ins.off !== 0) {
        bad(`reserved offset field is ${ins.off}`);
      }
    } else if (cls === Class.STX && (ins.code & MODE_MASK) === Mode.ATOMIC) {
      variant = AtomicVariant[ins.imm] ?? 0;
      if (variant === 0) bad(`unknown atomic operation 0x${(ins.imm >>> 0).toString(16)}`);
    } else if (ins.code === (Class.JMP | JmpOp.CALL)) {
      if (ins.src === PseudoCall.HELPER) {
        const def = lookup(ins.imm);
        if (!def)
          bad(
            `call to unknown helper function ${kernelHelperName(ins.imm) ? `bpf_${kernelHelperName(ins.imm)} (#${ins.imm})` : ins.imm}`,
          );
        let index = helperIndex.get(ins.imm);
        if (index === undefined) {
          index = helpers.push(def!) - 1;
          helperIndex.set(ins.imm, index);
        }
        w2 = index;
      } else if (ins.src === PseudoCall.LOCAL) {
        variant = 1;
        w1 = i + 1 + ins.imm;
      } else {
        bad(`unsupported call kind src=${ins.src} (kernel functions are not available)`);
      }
    } else if (isBranch(ins)) {
      w1 = jumpTarget(ins, i);
    }

    if (writtenRegister(ins) === 10) bad('r10 (the frame pointer) is read-only');

    const p = i * 4;
    code[p] = ins.code | (variant << 8) | ((ins.dst * 2) << 16) | ((ins.src * 2) << 24);
    code[p + 1] = w1;
    code[p + 2] = w2;
    code[p + 3] = w3;
    if (ins.code === LDDW) {
      i++;
      code[p + 4] = 0; // never executed: jumps into the second half are rejected by checkProgram
    }
  }

  return {
    name: isSpec ? (spec as ProgramSpec).name : '',
    type: isSpec ? (spec as ProgramSpec).type : '',
    insns,
    code,
    fast: fuse(insns, code),
    helpers,
    lookupHelper: lookup,
    maps,
    functions,
    ...(options.clearStack ? { clearsStack: true } : {}),
  };
}

const UNSIGNED_JCMP_X = new Set([0x2d, 0x3d, 0xad, 0xbd]);

/** `code` with the first slot of each fusable sequence re-tagged with its `Fused` opcode. */
function fuse(insns: readonly Insn[], code: Int32Array): Int32Array {
  const fast = code.slice();
  const n = insns.length;
  for (let i = 0; i + 1 < n; i++) {
    const a = insns[i]!;
    if (a.code === LDDW) {
      i++;
      continue;
    }
    const b = insns[i + 1]!;
    // A plain mov (off 0; movsx has a width there), then an add of a constant to the same register.
    if (a.code !== 0xbf || a.off !== 0 || b.code !== 0x07 || b.dst !== a.dst) continue;
    const c = insns[i + 2];
    const op = c && UNSIGNED_JCMP_X.has(c.code) ? Fused.MOV_ADD_JCMP : Fused.MOV_ADD;
    fast[i * 4] = (code[i * 4]! & ~0xff) | op;
    i += op === Fused.MOV_ADD_JCMP ? 2 : 1;
  }
  return fast;
}

/** The register an instruction writes (besides r0 for calls), if any. */
function writtenRegister(ins: Insn): number | undefined {
  const cls = classOf(ins.code);
  if (cls === Class.ALU || cls === Class.ALU64 || cls === Class.LDX || ins.code === LDDW) return ins.dst;
  if (cls === Class.STX && (ins.code & MODE_MASK) === Mode.ATOMIC && (ins.imm & AtomicOp.FETCH) !== 0) {
    return ins.imm === AtomicOp.CMPXCHG ? 0 : ins.src;
  }
  return undefined;
}

/** The 64-bit value a lddw loads once its pseudo source is resolved. */
function resolveLddw(
  insns: readonly Insn[],
  i: number,
  maps: readonly RuntimeMap[],
  options: PrepareOptions,
  bad: (why: string) => never,
): bigint {
  const ins = insns[i]!;
  const map = (): RuntimeMap => {
    const m = maps[ins.imm];
    if (!m) bad(`lddw refers to map ${ins.imm}, but the program was given ${maps.length} map(s)`);
    return m!;
  };
  switch (ins.src) {
    case PseudoLddw.IMM64:
      return lddwValue(insns, i);
    case PseudoLddw.MAP_FD:
    case PseudoLddw.MAP_IDX:
      return BigInt(map().addr);
    case PseudoLddw.MAP_VALUE:
    case PseudoLddw.MAP_IDX_VALUE: {
      const m = map();
      if (options.zeroKey === undefined)
        bad('lddw of a map value needs a runtime (prepare it with Runtime.prepare)');
      const value = m.lookupPtr(options.zeroKey!, options.cpu ?? 0);
      if (value === 0) bad(`map ${m.spec.name} has no value at key 0 for a direct value address`);
      const offset = insns[i + 1]!.imm >>> 0;
      if (offset >= m.spec.valueSize) bad(`offset ${offset} is outside the value of map ${m.spec.name}`);
      return BigInt(value + offset);
    }
    case PseudoLddw.FUNC:
      // A function pointer is the slot index of the function (subprogramStarts checked that it is one):
      // callbacks (bpf_loop ...) take it as is.
      return BigInt(i + 1 + ins.imm);
    default:
      return bad(`unsupported lddw source ${ins.src}`);
  }
}
