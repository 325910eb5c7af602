// Instruction selection: one eBPF function's basic blocks into WebAssembly, with the interpreter's exact
// semantics. Registers are i64 locals; memory is the runtime's linear memory (addresses < 2^32).

import { BPF_MAX_LOOPS, LOOP_E2BIG } from '../helpers/control.js';
import type { NumberArg } from '../helpers/types.js';
import {
  AluOp,
  AtomicOp,
  Class,
  classOf,
  type Insn,
  JmpOp,
  LDDW,
  lddwValue,
  MODE_MASK,
  Mode,
  OP_MASK,
  PseudoCall,
  SIZE_MASK,
  Size,
  Source,
} from '../isa/index.js';
import { Errno } from '../spec/errno.js';
import type { BasicBlock, FunctionCfg } from './cfg.js';
import { emitCountIteration } from './iterations.js';
import type { BlockEmitter } from './structure.js';
import { type Code, Op, putSleb32, putSleb64, putUleb, ValType } from './wasm/index.js';

// Local slots. A function receives every register (unverified code may read r0 or r6-r9 at entry, and
// sees the caller's values in the interpreter) and returns r0-r5 (the caller sees what the callee left
// in r1-r5); r6-r9 stay the caller's own locals, as callee-saved registers should.
const I64 = ValType.i64;
const DEPTH = 11;
const T64A = 12;
const T64B = 13;
const T32 = 14;
/** An i32 scratch local free for inline helper code. */
export const SCRATCH_I32 = T32;
export const LABEL_LOCAL = 15;
/** Checked mode: how many instructions of the current block the budget still covers. */
const LIMIT = 16;
/** Two more i32 scratch locals for inline helper code (an inline hash lookup needs three). */
export const SCRATCH_I32_B = 17;
export const SCRATCH_I32_C = 18;
/**
 * Locals declared after the parameters: two i64 scratch, i32 scratch, dispatch label, budget limit, two
 * i32 scratch for inline helpers.
 */
export const FUNC_LOCALS: [number, ValType][] = [
  [2, I64],
  [5, ValType.i32],
];

/** Instructions whose effects (memory, faults, helpers) must not run past the budget. */
function hasEffects(ins: Insn): boolean {
  const cls = classOf(ins.code);
  return (
    cls === Class.LDX ||
    cls === Class.ST ||
    cls === Class.STX ||
    (cls === Class.LD && ins.code !== LDDW) ||
    (cls === Class.JMP && (ins.code & OP_MASK) === JmpOp.CALL)
  );
}
/** Parameters of every compiled function: r0-r10, then the call depth. */
export const FUNC_PARAMS: ValType[] = [I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, ValType.i32];
/** Results of every compiled function: r0-r5. */
export const FUNC_RESULTS: ValType[] = [I64, I64, I64, I64, I64, I64];
/** Parameters of the tail-call import: r1-r5, r10, depth. */
export const TAIL_PARAMS: ValType[] = [I64, I64, I64, I64, I64, I64, ValType.i32];
/** eBPF register -> wasm local. */
const REG = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

export interface TableTailCall {
  /** Address of the program array's u32 references, and its max_entries. */
  readonly refs: number;
  readonly maxEntries: number;
  /** Addresses of the runtime's ready bytes and tail-call counter, the size of the table. */
  readonly ready: number;
  readonly counter: number;
  readonly tableSize: number;
  readonly limit: number;
  /** Type index of a table entry: (r1-r5, r10, depth) -> r0. */
  readonly entryType: number;
}

/** Faults the generated code raises through the `fault` import: an index into this list. */
export const FaultReason = {
  fallOff: 0,
  callDepth: 1,
  badInsn: 2,
} as const;

/** Everything shared by the functions of one module: imports, globals, callees, options. */
export interface EmitContext {
  readonly insns: readonly Insn[];
  readonly checked: boolean;
  /** Function index of the compiled eBPF function starting at a slot. */
  funcAt(slot: number): number;
  /** Import index for helper `id`, or undefined when no such helper exists. */
  helper(id: number): number | undefined;
  /** The import of helper `id`'s number form (arguments and result as f64), when it has one. */
  numberHelper(id: number): { index: number; args: readonly NumberArg[] } | undefined;
  /** Whether a helper is emitted inline (returns true when it wrote the call itself). */
  inlineHelper(code: Code, id: number, blockStart: number, pc: number, r: (reg: number) => number): boolean;
  /**
   * A call of helper `id` at `pc` that is bpf_loop with a constant callback (a function pointer loaded
   * into r2 earlier in the block): the callback's slot, for a loop emitted inline; otherwise undefined.
   */
  loopCallback(id: number, blockStart: number, pc: number): number | undefined;
  /** Helpers that may call back into the program get the current frame in the `frame` global first. */
  needsFrame(id: number): boolean;
  /** Helpers after which a pending tail call must unwind (tail_call itself). */
  mayTailCall(id: number): boolean;
  /**
   * A tail_call at `pc` whose program array is known: where its references are and the table path's
   * addresses (see tail-calls.ts), or undefined when every such call goes through the helper.
   */
  tableTailCall(blockStart: number, pc: number): TableTailCall | undefined;
  /**
   * Whether the function starting at a slot returns r0 alone rather than r0-r5: the main program when
   * nothing calls it (multiple results cost every run a few stores and loads).
   */
  returnsR0Only(slot: number): boolean;
  readonly hasTailCalls: boolean;
  readonly imports: {
    fault: number; // (reason i32, pc i32) -> never
    access: number; // (base hi i32, addr i64, size i32, pc i32, write i32) -> void   [checked]
    budget: number; // (block i32, index in block i32) -> never         [checked]
    refill: number; // (block i32) -> void: the next chunk of the budget, or a timeout [checked]
    legacyLoad: number; // (offset i32, size i32, pc i32, depth i32) -> i64 (-1: abort with r0 = 0); slow path
    callx: number; // (id i64, r1-r5 i64) -> i64
    tailCall: number; // (r1-r5, r10, depth) -> r0 of the tail-called program
  };
  readonly globals: {
    budget: number;
    readLo: number;
    readHi: number;
    writeLo: number;
    writeHi: number;
    tailCall: number;
    frame: number; // r10 of the helper caller (callbacks run one frame deeper)
    depth: number;
    /** Slot of the helper call in progress (for error messages). */
    pc: number;
    /** The current packet for legacy loads: start address (i32) and length (i32, -1 until known). */
    pktStart: number;
    pktLen: number;
  };
  /** The program has legacy packet loads (helpers may move the packet: its cached bounds are dropped). */
  readonly legacyLoads: boolean;
  /** Register the instruction slots of a block for budget faults; returns the block's id. */
  budgetBlock(pcs: number[]): number;
  readonly maxDepth: number;
  /** Byte distance between the r10 of consecutive call depths. */
  readonly frameStride: number;
  /**
   * Verified runs count iterations (src/vm/limits.ts): the address of the runtime's count and the import
   * that refills it, or undefined when this module counts none (checked, or nothing repeats).
   */
  readonly iterations?: { counter: number; more: number };
}

const CMP64: Record<number, number> = {
  [JmpOp.JEQ]: Op.i64_eq,
  [JmpOp.JNE]: Op.i64_ne,
  [JmpOp.JGT]: Op.i64_gt_u,
  [JmpOp.JGE]: Op.i64_ge_u,
  [JmpOp.JLT]: Op.i64_lt_u,
  [JmpOp.JLE]: Op.i64_le_u,
  [JmpOp.JSGT]: Op.i64_gt_s,
  [JmpOp.JSGE]: Op.i64_ge_s,
  [JmpOp.JSLT]: Op.i64_lt_s,
  [JmpOp.JSLE]: Op.i64_le_s,
};
const CMP32: Record<number, number> = {
  [JmpOp.JEQ]: Op.i32_eq,
  [JmpOp.JNE]: Op.i32_ne,
  [JmpOp.JGT]: Op.i32_gt_u,
  [JmpOp.JGE]: Op.i32_ge_u,
  [JmpOp.JLT]: Op.i32_lt_u,
  [JmpOp.JLE]: Op.i32_le_u,
  [JmpOp.JSGT]: Op.i32_gt_s,
  [JmpOp.JSGE]: Op.i32_ge_s,
  [JmpOp.JSLT]: Op.i32_lt_s,
  [JmpOp.JSLE]: Op.i32_le_s,
};
// Plain binary ALU ops: [i64 op, i32 op].
const BINOP: Record<number, [number, number]> = {
  [AluOp.ADD]: [Op.i64_add, Op.i32_add],
  [AluOp.SUB]: [Op.i64_sub, Op.i32_sub],
  [AluOp.MUL]: [Op.i64_mul, Op.i32_mul],
  [AluOp.OR]: [Op.i64_or, Op.i32_or],
  [AluOp.AND]: [Op.i64_and, Op.i32_and],
  [AluOp.XOR]: [Op.i64_xor, Op.i32_xor],
  // wasm masks shift counts to the operand width, as eBPF does.
  [AluOp.LSH]: [Op.i64_shl, Op.i32_shl],
  [AluOp.RSH]: [Op.i64_shr_u, Op.i32_shr_u],
  [AluOp.ARSH]: [Op.i64_shr_s, Op.i32_shr_s],
};
const LOAD: Record<number, number> = {
  [Size.B]: Op.i64_load8_u,
  [Size.H]: Op.i64_load16_u,
  [Size.W]: Op.i64_load32_u,
  [Size.DW]: Op.i64_load,
};
const LOADSX: Record<number, number> = {
  [Size.B]: Op.i64_load8_s,
  [Size.H]: Op.i64_load16_s,
  [Size.W]: Op.i64_load32_s,
};
const STORE: Record<number, number> = {
  [Size.B]: Op.i64_store8,
  [Size.H]: Op.i64_store16,
  [Size.W]: Op.i64_store32,
  [Size.DW]: Op.i64_store,
};
/** Read-modify-write atomics: the operation on the old value and the source. */
const RMW: Record<number, number> = {
  [AtomicOp.ADD]: Op.i64_add,
  [AtomicOp.OR]: Op.i64_or,
  [AtomicOp.AND]: Op.i64_and,
  [AtomicOp.XOR]: Op.i64_xor,
};
const BYTES: Record<number, number> = { [Size.B]: 1, [Size.H]: 2, [Size.W]: 4, [Size.DW]: 8 };
const ALIGN: Record<number, number> = { [Size.B]: 0, [Size.H]: 1, [Size.W]: 2, [Size.DW]: 3 };

// The fast path (unchecked mode): the common instructions written straight into the body's buffer with
// one capacity check each. A process's first compile runs in V8's interpreter, where a method call per
// wasm instruction costs more than everything else; these tables replace the lookups above there.
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_ADD = 0x6a;
const WRAP = 0xa7;
const EXTEND_U = 0xad;
/** Room for the longest fast instruction (a lddw: i64.const with 10 bytes of LEB128, local.set). */
const FAST_ROOM = 16;
/** By eBPF opcode byte, the wasm opcode: ALU binops, MEM/MEMSX loads, MEM stores (0: not on the fast path). */
const FAST_OP = new Uint8Array(256);
/** By eBPF opcode byte, the wasm comparison of a conditional jump (0: JSET and non-jumps). */
const COND_OP = new Uint8Array(256);
/** Log2 alignment of a load or store, by eBPF opcode byte. */
const FAST_ALIGN = new Uint8Array(256);
for (const op of Object.keys(BINOP).map(Number)) {
  for (const src of [Source.K, Source.X]) {
    FAST_OP[Class.ALU64 | op | src] = BINOP[op]![0];
    FAST_OP[Class.ALU | op | src] = BINOP[op]![1];
  }
}
for (const size of [Size.B, Size.H, Size.W, Size.DW]) {
  const set = (code: number, op: number | undefined) => {
    if (op === undefined) return;
    FAST_OP[code] = op;
    FAST_ALIGN[code] = ALIGN[size]!;
  };
  set(Class.LDX | Mode.MEM | size, LOAD[size]);
  set(Class.LDX | Mode.MEMSX | size, LOADSX[size]);
  set(Class.ST | Mode.MEM | size, STORE[size]);
  set(Class.STX | Mode.MEM | size, STORE[size]);
}
for (const op of Object.keys(CMP64).map(Number)) {
  for (const src of [Source.K, Source.X]) {
    COND_OP[Class.JMP | op | src] = CMP64[op]!;
    COND_OP[Class.JMP32 | op | src] = CMP32[op]!;
  }
}

/**
 * The i32 address of a load or store: the base register, wrapped, plus a negative offset (a memarg
 * offset is unsigned; non-negative offsets go there). Returns the new position.
 */
function putAddress(buf: Uint8Array, at: number, reg: number, off: number): number {
  buf[at++] = LOCAL_GET;
  buf[at++] = reg;
  buf[at++] = WRAP;
  if (off < 0) {
    buf[at++] = I32_CONST;
    at = putSleb32(buf, at, off);
    buf[at++] = I32_ADD;
  }
  return at;
}

/**
 * Write the instructions from slot `pc` up to `stop` in unchecked mode while they are plain ALU ops,
 * moves, memory loads and stores or lddw, exactly as the general path would; returns the slot of the
 * first other instruction (or `stop`). One loop for a whole run: a call per instruction costs.
 */
function emitFastRun(code: Code, insns: readonly Insn[], pc: number, stop: number): number {
  let buf = code.buf;
  let at = code.length;
  run: for (; pc < stop; pc++) {
    if (at + FAST_ROOM > buf.length) {
      code.length = at;
      buf = code.room(FAST_ROOM);
    }
    const ins = insns[pc]!;
    const op = ins.code;
    const w = FAST_OP[op]!;
    const dst = ins.dst;
    switch (op & 0x07) {
      case Class.ALU64:
        if (w !== 0) {
          buf[at++] = LOCAL_GET;
          buf[at++] = dst;
          if (op & Source.X) {
            buf[at++] = LOCAL_GET;
            buf[at++] = ins.src;
          } else {
            buf[at++] = I64_CONST;
            at = putSleb32(buf, at, ins.imm);
          }
          buf[at++] = w;
        } else if (op === (Class.ALU64 | AluOp.MOV | Source.K)) {
          buf[at++] = I64_CONST;
          at = putSleb32(buf, at, ins.imm);
        } else if (op === (Class.ALU64 | AluOp.MOV | Source.X) && ins.off === 0) {
          buf[at++] = LOCAL_GET;
          buf[at++] = ins.src;
        } else break run;
        break;
      case Class.ALU:
        if (w !== 0) {
          buf[at++] = LOCAL_GET;
          buf[at++] = dst;
          buf[at++] = WRAP;
          if (op & Source.X) {
            buf[at++] = LOCAL_GET;
            buf[at++] = ins.src;
            buf[at++] = WRAP;
          } else {
            buf[at++] = I32_CONST;
            at = putSleb32(buf, at, ins.imm);
          }
          buf[at++] = w;
          buf[at++] = EXTEND_U;
        } else if (op === (Class.ALU | AluOp.MOV | Source.K)) {
          // The zero-extended immediate as an i64: its halves are (imm, 0).
          buf[at++] = I64_CONST;
          at = putSleb64(buf, at, ins.imm, 0);
        } else if (op === (Class.ALU | AluOp.MOV | Source.X) && ins.off === 0) {
          buf[at++] = LOCAL_GET;
          buf[at++] = ins.src;
          buf[at++] = WRAP;
          buf[at++] = EXTEND_U;
        } else break run;
        break;
      case Class.LDX: {
        if (w === 0) break run;
        at = putAddress(buf, at, ins.src, ins.off);
        buf[at++] = w;
        buf[at++] = FAST_ALIGN[op]!;
        at = putUleb(buf, at, Math.max(ins.off, 0));
        break;
      }
      case Class.ST:
      case Class.STX: {
        if (w === 0) break run;
        at = putAddress(buf, at, dst, ins.off);
        if ((op & 0x07) === Class.ST) {
          buf[at++] = I64_CONST;
          at = putSleb32(buf, at, ins.imm);
        } else {
          buf[at++] = LOCAL_GET;
          buf[at++] = ins.src;
        }
        buf[at++] = w;
        buf[at++] = FAST_ALIGN[op]!;
        at = putUleb(buf, at, Math.max(ins.off, 0));
        continue;
      }
      case Class.LD:
        if (op !== LDDW) break run;
        buf[at++] = I64_CONST;
        at = putSleb64(buf, at, ins.imm, insns[pc + 1]?.imm ?? 0);
        buf[at++] = LOCAL_SET;
        buf[at++] = dst;
        pc++;
        continue;
      default:
        break run;
    }
    buf[at++] = LOCAL_SET;
    buf[at++] = dst;
  }
  code.length = at;
  return pc;
}

export class FunctionEmitter implements BlockEmitter {
  /**
   * `exitFrame`: where an exit goes. -1: the function returns; otherwise the body is inlined in a loop (the
   * batch entry) and an exit branches out of the block open at that depth of `code`, r0 its result.
   */
  constructor(
    private readonly code: Code,
    private readonly cfg: FunctionCfg,
    private readonly cx: EmitContext,
    private readonly exitFrame = -1,
  ) {}

  /** Leave the function (or the inlined body) with its results on the stack. */
  private ret(): void {
    if (this.exitFrame < 0) this.code.op(Op.return);
    else this.code.br(this.code.depth - 1 - this.exitFrame);
  }

  private get(reg: number): Code {
    return this.code.localGet(REG[reg]!);
  }

  private set(reg: number): void {
    this.code.localSet(REG[reg]!);
  }

  private blockStart = 0;

  /** Whether the jump from block `from` to block `to` goes backward (an iteration, src/vm/limits.ts). */
  counts(from: number, to: number): boolean {
    if (!this.cx.iterations) return false;
    const blocks = this.cfg.blocks;
    return blocks[to]!.start <= blocks[from]!.last;
  }

  /** Count the jump from `from` to `to` when it is an iteration. */
  edge(from: number, to: number): void {
    if (this.counts(from, to)) this.countIteration(this.cfg.blocks[from]!.last);
  }

  private countIteration(pc: number): void {
    const it = this.cx.iterations;
    if (it) emitCountIteration(this.code, it.counter, pc, it.more);
  }

  body(id: number): void {
    const b = this.cfg.blocks[id]!;
    this.blockStart = b.start;
    const insns = this.cx.insns;
    const stop = b.jumpAtEnd ? b.last : b.end;
    if (!this.cx.checked) {
      const code = this.code;
      for (let pc = emitFastRun(code, insns, b.start, stop); pc < stop; ) {
        const ins = insns[pc]!;
        this.insn(ins, pc);
        pc = emitFastRun(code, insns, pc + (ins.code === LDDW ? 2 : 1), stop);
      }
      return;
    }
    const budget = this.chargeBudget(b);
    let index = 0;
    for (let pc = b.start; pc < stop; pc++, index++) {
      const ins = insns[pc]!;
      // Within the budget's last block, an instruction with effects (memory, calls) runs only if the
      // budget still covers it, so memory and faults match the interpreter's step-by-step count.
      if (budget && hasEffects(ins)) this.budgetCheck(budget, index, Op.i32_le_s);
      this.insn(ins, pc);
      if (ins.code === LDDW) pc++;
    }
    if (budget) this.budgetCheck(budget, budget.length, Op.i32_lt_s);
  }

  /**
   * Checked mode: take the block's instructions from the budget; when it runs short, LIMIT holds how many
   * of them may still run (else the block length).
   */
  private chargeBudget(b: BasicBlock): { id: number; length: number } | undefined {
    const pcs: number[] = [];
    for (let pc = b.start; pc < b.end; pc += this.cx.insns[pc]!.code === LDDW ? 2 : 1) pcs.push(pc);
    if (pcs.length === 0) return undefined;
    const c = this.code;
    const g = this.cx.globals.budget;
    const id = this.cx.budgetBlock(pcs);
    c.globalGet(g).i64Const(pcs.length).op(Op.i64_sub).globalSet(g);
    // The budget is handed out in chunks (a deadline is checked between them): ask for the next first.
    c.globalGet(g).i64Const(0).op(Op.i64_lt_s).if().i32Const(id).call(this.cx.imports.refill).end();
    c.globalGet(g).i64Const(0).op(Op.i64_lt_s).if(ValType.i32);
    c.globalGet(g).op(Op.i32_wrap_i64).i32Const(pcs.length).op(Op.i32_add);
    c.else().i32Const(pcs.length).end().localSet(LIMIT);
    return { id, length: pcs.length };
  }

  /** Fault unless `index` is below the limit: `cmp` is i32.le_s (LIMIT <= index) or lt_s (LIMIT < length). */
  private budgetCheck(budget: { id: number; length: number }, index: number, cmp: number): void {
    const c = this.code;
    c.localGet(LIMIT).i32Const(index).op(cmp).if();
    c.i32Const(budget.id).localGet(LIMIT).call(this.cx.imports.budget).op(Op.unreachable);
    c.end();
  }

  condition(id: number): void {
    const ins = this.cx.insns[this.cfg.blocks[id]!.last]!;
    const c = this.code;
    const cmp = COND_OP[ins.code]!;
    if (cmp !== 0) {
      const buf = c.room(FAST_ROOM);
      let at = c.length;
      const wide = (ins.code & 0x07) === Class.JMP;
      buf[at++] = LOCAL_GET;
      buf[at++] = ins.dst;
      if (!wide) buf[at++] = WRAP;
      if (ins.code & Source.X) {
        buf[at++] = LOCAL_GET;
        buf[at++] = ins.src;
        if (!wide) buf[at++] = WRAP;
      } else {
        buf[at++] = wide ? I64_CONST : I32_CONST;
        at = putSleb32(buf, at, ins.imm);
      }
      buf[at++] = cmp;
      c.length = at;
      return;
    }
    const op = ins.code & OP_MASK;
    const useX = (ins.code & Source.X) !== 0;
    if (classOf(ins.code) === Class.JMP) {
      this.get(ins.dst);
      if (useX) this.get(ins.src);
      else c.i64Const(ins.imm);
      if (op === JmpOp.JSET) c.op(Op.i64_and).i64Const(0).op(Op.i64_ne);
      else c.op(CMP64[op]!);
    } else {
      this.get(ins.dst).op(Op.i32_wrap_i64);
      if (useX) this.get(ins.src).op(Op.i32_wrap_i64);
      else c.i32Const(ins.imm);
      if (op === JmpOp.JSET) c.op(Op.i32_and).i32Const(0).op(Op.i32_ne);
      else c.op(CMP32[op]!);
    }
  }

  exit(): void {
    this.leave();
  }

  /** Return r0-r5, or r0 alone (r0 already replaced when `r0` pushes something else first). */
  private leave(r0?: () => void): void {
    if (r0) r0();
    else this.get(0);
    if (!this.cx.returnsR0Only(this.cfg.start)) for (let r = 1; r <= 5; r++) this.get(r);
    this.ret();
  }

  /** Running off the end of the function: into the next function (as the interpreter does), or a fault. */
  fault(_id: number): void {
    const c = this.code;
    const next = this.cfg.end;
    if (next >= this.cx.insns.length) {
      c.i32Const(FaultReason.fallOff).i32Const(next).call(this.cx.imports.fault).op(Op.unreachable);
      return;
    }
    // The next function continues in this frame and returns to our caller: a call, then return.
    for (let r = 0; r <= 10; r++) this.get(r);
    c.localGet(DEPTH).call(this.cx.funcAt(next));
    if (this.cx.returnsR0Only(this.cfg.start)) for (let r = 1; r <= 5; r++) c.op(Op.drop);
    this.ret();
  }

  private badInsn(pc: number): void {
    this.code.i32Const(FaultReason.badInsn).i32Const(pc).call(this.cx.imports.fault).op(Op.unreachable);
  }

  private insn(ins: Insn, pc: number): void {
    const cls = classOf(ins.code);
    switch (cls) {
      case Class.ALU64: {
        this.alu(ins, true);
        return;
      }
      case Class.ALU: {
        this.alu(ins, false);
        return;
      }
      case Class.LDX: {
        this.load(ins, pc);
        return;
      }
      case Class.ST:
      case Class.STX: {
        this.store(ins, pc);
        return;
      }
      case Class.LD: {
        this.ld(ins, pc);
        return;
      }
      default:
        if ((ins.code & ~Source.X) === (Class.JMP | JmpOp.CALL)) {
          this.callInsn(ins, pc);
          return;
        }
        {
          this.badInsn(pc);
          return;
        }
    }
  }

  // --- arithmetic ---------------------------------------------------------------------------------

  /** Push the source operand: a register or the immediate (sign-extended for 64-bit ops). */
  private operand(ins: Insn, wide: boolean): void {
    if (ins.code & Source.X) {
      this.get(ins.src);
      if (!wide) this.code.op(Op.i32_wrap_i64);
    } else if (wide) this.code.i64Const(ins.imm);
    else this.code.i32Const(ins.imm);
  }

  private alu(ins: Insn, wide: boolean): void {
    const c = this.code;
    const op = ins.code & OP_MASK;
    const zext = () => {
      if (!wide) c.op(Op.i64_extend_i32_u);
      this.set(ins.dst);
    };
    const dst = () => {
      this.get(ins.dst);
      if (!wide) c.op(Op.i32_wrap_i64);
    };
    const bin = BINOP[op];
    if (bin) {
      dst();
      this.operand(ins, wide);
      c.op(wide ? bin[0] : bin[1]);
      zext();
      return;
    }
    switch (op) {
      case AluOp.MOV:
        if (ins.code & Source.X) {
          this.get(ins.src);
          if (wide) {
            if (ins.off === 8) c.op(Op.i64_extend8_s);
            else if (ins.off === 16) c.op(Op.i64_extend16_s);
            else if (ins.off === 32) c.op(Op.i64_extend32_s);
            this.set(ins.dst);
            return;
          }
          c.op(Op.i32_wrap_i64);
          if (ins.off === 8) c.op(Op.i32_extend8_s);
          else if (ins.off === 16) c.op(Op.i32_extend16_s);
          zext();
          return;
        }
        if (wide) c.i64Const(ins.imm);
        else c.i64Const(ins.imm >>> 0);
        {
          this.set(ins.dst);
          return;
        }
      case AluOp.NEG:
        if (wide) c.i64Const(0);
        else c.i32Const(0);
        dst();
        c.op(wide ? Op.i64_sub : Op.i32_sub);
        {
          zext();
          return;
        }
      case AluOp.DIV:
      case AluOp.MOD: {
        this.divmod(ins, wide, op === AluOp.MOD, ins.off === 1);
        return;
      }
      case AluOp.END: {
        this.endian(ins, wide);
        return;
      }
    }
  }

  /**
   * Division and modulo without traps: x / 0 = 0, x % 0 = x (zero-extended for 32 bits), and for signed
   * division by -1 the negation (INT_MIN / -1 = INT_MIN; INT_MIN % -1 = 0, which rem_s already gives).
   */
  private divmod(ins: Insn, wide: boolean, mod: boolean, signed: boolean): void {
    const c = this.code;
    const t = wide ? ValType.i64 : ValType.i32;
    const O = wide
      ? {
          eqz: Op.i64_eqz,
          eq: Op.i64_eq,
          sub: Op.i64_sub,
          divU: Op.i64_div_u,
          divS: Op.i64_div_s,
          remU: Op.i64_rem_u,
          remS: Op.i64_rem_s,
        }
      : {
          eqz: Op.i32_eqz,
          eq: Op.i32_eq,
          sub: Op.i32_sub,
          divU: Op.i32_div_u,
          divS: Op.i32_div_s,
          remU: Op.i32_rem_u,
          remS: Op.i32_rem_s,
        };
    const konst = (v: number) => (wide ? c.i64Const(v) : c.i32Const(v));
    const dst = () => {
      this.get(ins.dst);
      if (!wide) c.op(Op.i32_wrap_i64);
    };
    const finish = () => {
      if (!wide) c.op(Op.i64_extend_i32_u);
      this.set(ins.dst);
    };
    const divide = () => {
      dst();
      if (ins.code & Source.X) c.localGet(wide ? T64A : T32);
      else konst(ins.imm);
      c.op(mod ? (signed ? O.remS : O.remU) : signed ? O.divS : O.divU);
    };
    if (!(ins.code & Source.X)) {
      // Immediate divisor: the special cases are known now.
      if (ins.imm === 0) {
        if (mod) dst();
        else konst(0);
      } else if (signed && ins.imm === -1) {
        if (mod) konst(0);
        else {
          konst(0);
          dst();
          c.op(O.sub);
        }
      } else divide();
      finish();
      return;
    }
    this.get(ins.src);
    if (!wide) c.op(Op.i32_wrap_i64);
    c.localTee(wide ? T64A : T32)
      .op(O.eqz)
      .if(t);
    if (mod) dst();
    else konst(0);
    c.else();
    if (signed && !mod) {
      c.localGet(wide ? T64A : T32);
      konst(-1);
      c.op(O.eq).if(t);
      konst(0);
      dst();
      c.op(O.sub).else();
      divide();
      c.end();
    } else divide();
    c.end();
    finish();
  }

  private endian(ins: Insn, wide: boolean): void {
    const c = this.code;
    // ALU64 END is bswap; ALU END with TO_BE swaps, TO_LE (this little-endian machine) only truncates.
    const swap = wide || (ins.code & Source.X) !== 0;
    const width = ins.imm;
    if (!swap) {
      if (width === 64) return;
      this.get(ins.dst)
        .i64Const(width === 16 ? 0xffff : 0xffffffff)
        .op(Op.i64_and);
      this.set(ins.dst);
      return;
    }
    if (width === 16) {
      this.get(ins.dst)
        .op(Op.i32_wrap_i64)
        .localTee(T32)
        .i32Const(8)
        .op(Op.i32_shl)
        .i32Const(0xff00)
        .op(Op.i32_and);
      c.localGet(T32).i32Const(8).op(Op.i32_shr_u).i32Const(0xff).op(Op.i32_and).op(Op.i32_or);
      c.op(Op.i64_extend_i32_u);
      this.set(ins.dst);
      return;
    }
    if (width === 32) {
      this.get(ins.dst).op(Op.i32_wrap_i64);
      this.bswap32();
      c.op(Op.i64_extend_i32_u);
      this.set(ins.dst);
      return;
    }
    // 64: swap each half and exchange them.
    this.get(ins.dst).op(Op.i32_wrap_i64);
    this.bswap32();
    c.op(Op.i64_extend_i32_u).i64Const(32).op(Op.i64_shl);
    this.get(ins.dst).i64Const(32).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
    this.bswap32();
    c.op(Op.i64_extend_i32_u).op(Op.i64_or);
    this.set(ins.dst);
  }

  /** i32 on the stack -> its byte swap (rotations of the odd and even bytes). */
  private bswap32(): void {
    const c = this.code;
    c.localTee(T32).i32Const(0xff00ff00).op(Op.i32_and).i32Const(8).op(Op.i32_rotl);
    c.localGet(T32).i32Const(0x00ff00ff).op(Op.i32_and).i32Const(8).op(Op.i32_rotr);
    c.op(Op.i32_or);
  }

  // --- memory -------------------------------------------------------------------------------------

  /**
   * Push the i32 address of `reg + off` and return the memarg offset to use with it. Checked mode
   * validates the 64-bit address against the cached region first and asks the runtime on a miss.
   */
  private address(reg: number, off: number, size: number, write: boolean, pc: number): number {
    const c = this.code;
    if (!this.cx.checked) {
      this.get(reg).op(Op.i32_wrap_i64);
      if (off >= 0) return off;
      c.i32Const(off).op(Op.i32_add);
      return 0;
    }
    const g = this.cx.globals;
    const [lo, hi] = write ? [g.writeLo, g.writeHi] : [g.readLo, g.readHi];
    // As the interpreter computes it: a = low half of the base + off; the base's high half must be 0.
    this.get(reg).i64Const(0xffffffff).op(Op.i64_and);
    if (off !== 0) c.i64Const(off).op(Op.i64_add);
    c.localTee(T64B).globalGet(lo).op(Op.i64_lt_u);
    c.localGet(T64B).globalGet(hi).i64Const(size).op(Op.i64_sub).op(Op.i64_gt_u);
    c.op(Op.i32_or);
    this.get(reg).i64Const(32).op(Op.i64_shr_u).op(Op.i64_eqz).op(Op.i32_eqz);
    c.op(Op.i32_or).if();
    this.get(reg).i64Const(32).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
    c.localGet(T64B)
      .i32Const(size)
      .i32Const(pc)
      .i32Const(write ? 1 : 0)
      .call(this.cx.imports.access);
    c.end();
    c.localGet(T64B).op(Op.i32_wrap_i64);
    return 0;
  }

  private load(ins: Insn, pc: number): void {
    const size = ins.code & SIZE_MASK;
    const mode = ins.code & MODE_MASK;
    const o = mode === Mode.MEMSX ? LOADSX[size] : mode === Mode.MEM ? LOAD[size] : undefined;
    if (o === undefined) {
      this.badInsn(pc);
      return;
    }
    const offset = this.address(ins.src, ins.off, BYTES[size]!, false, pc);
    this.code.mem(o, ALIGN[size]!, offset);
    this.set(ins.dst);
  }

  private store(ins: Insn, pc: number): void {
    const c = this.code;
    const size = ins.code & SIZE_MASK;
    const mode = ins.code & MODE_MASK;
    if (mode === Mode.ATOMIC && classOf(ins.code) === Class.STX) {
      this.atomic(ins, pc);
      return;
    }
    if (mode !== Mode.MEM) {
      this.badInsn(pc);
      return;
    }
    const offset = this.address(ins.dst, ins.off, BYTES[size]!, true, pc);
    if (classOf(ins.code) === Class.ST) c.i64Const(ins.imm);
    else this.get(ins.src);
    c.mem(STORE[size]!, ALIGN[size]!, offset);
  }

  /** Atomics on a non-shared memory in one thread: plain load, operate, store. */
  private atomic(ins: Insn, pc: number): void {
    const c = this.code;
    const size = ins.code & SIZE_MASK;
    if (size !== Size.W && size !== Size.DW) {
      this.badInsn(pc);
      return;
    }
    const wide = size === Size.DW;
    const ld = wide ? Op.i64_load : Op.i64_load32_u;
    const st = wide ? Op.i64_store : Op.i64_store32;
    const al = wide ? 3 : 2;
    // Addresses are < 2^32 and the region check (if any) covers the read and the write.
    const offset = this.address(ins.dst, ins.off, wide ? 8 : 4, true, pc);
    if (offset !== 0) c.i32Const(offset).op(Op.i32_add);
    c.localSet(T32);
    c.localGet(T32).mem(ld, al).localSet(T64A); // the old value (zero-extended for 32 bits)
    const op = ins.imm & ~AtomicOp.FETCH;
    const fetch = (ins.imm & AtomicOp.FETCH) !== 0;
    if (ins.imm === AtomicOp.CMPXCHG) {
      c.localGet(T64A);
      this.get(0);
      if (!wide) c.i64Const(0xffffffff).op(Op.i64_and);
      c.op(Op.i64_eq).if();
      c.localGet(T32);
      this.get(ins.src);
      c.mem(st, al).end();
      c.localGet(T64A);
      this.set(0);
      return;
    }
    c.localGet(T32);
    if (ins.imm === AtomicOp.XCHG) this.get(ins.src);
    else {
      const o = RMW[op];
      if (o === undefined) {
        this.badInsn(pc);
        return;
      }
      c.localGet(T64A);
      this.get(ins.src);
      c.op(o);
    }
    c.mem(st, al);
    if (fetch) {
      c.localGet(T64A);
      this.set(ins.src);
    }
  }

  private ld(ins: Insn, pc: number): void {
    const c = this.code;
    if (ins.code === LDDW) {
      c.i64Const(lddwValue(this.cx.insns, pc));
      this.set(ins.dst);
      return;
    }
    const mode = ins.code & MODE_MASK;
    if ((mode !== Mode.ABS && mode !== Mode.IND) || (ins.code & SIZE_MASK) === Size.DW) {
      this.badInsn(pc);
      return;
    }
    // Legacy packet loads (network byte order). In bounds of the cached packet: an inline big-endian
    // load. Otherwise (out of bounds, or the packet not known yet this run) the runtime decides: it
    // caches the packet and loads, ends the program with r0 = 0 (-1), or faults as the interpreter does.
    const size = BYTES[ins.code & SIZE_MASK]!;
    const g = this.cx.globals;
    if (mode === Mode.IND) this.get(ins.src).op(Op.i32_wrap_i64).i32Const(ins.imm).op(Op.i32_add);
    else c.i32Const(ins.imm);
    c.localTee(T32).op(Op.i64_extend_i32_u).i64Const(size).op(Op.i64_add);
    c.globalGet(g.pktLen).op(Op.i64_extend_i32_s).op(Op.i64_le_s).if(ValType.i64);
    c.globalGet(g.pktStart).localGet(T32).op(Op.i32_add);
    if (size === 1) c.mem(Op.i64_load8_u, 0);
    else if (size === 2) {
      c.mem(Op.i32_load16_u, 0).localTee(T32).i32Const(8).op(Op.i32_shl);
      c.localGet(T32).i32Const(8).op(Op.i32_shr_u).op(Op.i32_or).i32Const(0xffff).op(Op.i32_and);
      c.op(Op.i64_extend_i32_u);
    } else {
      c.mem(Op.i32_load, 0);
      this.bswap32();
      c.op(Op.i64_extend_i32_u);
    }
    c.else();
    c.localGet(T32).i32Const(size).i32Const(pc).localGet(DEPTH).call(this.cx.imports.legacyLoad);
    c.localTee(T64A).i64Const(-1).op(Op.i64_eq).if();
    this.leave(() => c.i64Const(0));
    c.end();
    c.localGet(T64A);
    c.end();
    this.set(0);
  }

  // --- calls --------------------------------------------------------------------------------------

  private callInsn(ins: Insn, pc: number): void {
    const c = this.code;
    if (ins.code !== (Class.JMP | JmpOp.CALL)) {
      // callx: the register holds a helper id, known only now.
      c.i32Const(pc).globalSet(this.cx.globals.pc);
      this.get(ins.dst);
      for (let r = 1; r <= 5; r++) this.get(r);
      c.call(this.cx.imports.callx);
      this.set(0);
      if (this.cx.checked) this.forgetRegions();
      if (this.cx.legacyLoads) this.forgetPacket();
      return;
    }
    if (ins.src === PseudoCall.LOCAL) {
      this.checkCallDepth(pc);
      for (let r = 0; r <= 9; r++) this.get(r);
      this.nextFrame();
      c.call(this.cx.funcAt(pc + 1 + ins.imm));
      for (let r = 5; r >= 0; r--) this.set(r);
      return;
    }
    if (ins.src !== PseudoCall.HELPER) {
      this.badInsn(pc);
      return;
    }
    const callback = this.cx.loopCallback(ins.imm, this.blockStart, pc);
    if (callback !== undefined) {
      this.inlineLoop(callback, pc);
      return;
    }
    if (this.cx.inlineHelper(c, ins.imm, this.blockStart, pc, (r) => REG[r]!)) return;
    const numbers = this.cx.numberHelper(ins.imm);
    const fn = this.cx.helper(ins.imm);
    if (fn === undefined && !numbers) {
      this.badInsn(pc);
      return;
    }
    if (this.cx.mayTailCall(ins.imm)) this.tableTailCall(pc);
    c.i32Const(pc).globalSet(this.cx.globals.pc);
    if (numbers) {
      // No BigInt on either side: each argument as the double its kind says, r0 back from a double.
      numbers.args.forEach((kind, i) => {
        this.get(i + 1);
        if (kind === 'word') c.op(Op.f64_convert_i64_s);
        else c.op(Op.i32_wrap_i64).op(kind === 'u32' ? Op.f64_convert_i32_u : Op.f64_convert_i32_s);
      });
      c.call(numbers.index).truncSatF64S();
      this.set(0);
      if (this.cx.checked) this.forgetRegions();
      if (this.cx.legacyLoads) this.forgetPacket();
      return;
    }
    if (this.cx.needsFrame(ins.imm)) {
      this.get(10).globalSet(this.cx.globals.frame);
      c.localGet(DEPTH).globalSet(this.cx.globals.depth);
    }
    for (let r = 1; r <= 5; r++) this.get(r);
    c.call(fn!);
    this.set(0);
    if (this.cx.checked) this.forgetRegions();
    if (this.cx.legacyLoads) this.forgetPacket();
    if (this.cx.mayTailCall(ins.imm)) {
      // The helper accepted a tail call: the next program replaces this function (same frame, depth).
      const g = this.cx.globals.tailCall;
      c.globalGet(g).if();
      c.i32Const(0).globalSet(g);
      for (let r = 1; r <= 5; r++) this.get(r);
      this.get(10);
      c.localGet(DEPTH).call(this.cx.imports.tailCall).localSet(T64A);
      this.leave(() => c.localGet(T64A));
      c.end();
    }
  }

  /** A call from `pc` faults unless one more frame fits. */
  private checkCallDepth(pc: number): void {
    const c = this.code;
    c.localGet(DEPTH)
      .i32Const(this.cx.maxDepth - 1)
      .op(Op.i32_ge_u)
      .if();
    c.i32Const(FaultReason.callDepth).i32Const(pc).call(this.cx.imports.fault).op(Op.unreachable);
    c.end();
  }

  /** A callee's last two arguments: r10 one frame further, and the depth plus one. */
  private nextFrame(): void {
    this.get(10).i64Const(this.cx.frameStride).op(Op.i64_add);
    this.code.localGet(DEPTH).i32Const(1).op(Op.i32_add);
  }

  /**
   * bpf_loop(nr_loops = r1, callback, ctx = r3, flags = r4) as a wasm loop calling the callback's function
   * directly, as a bpf-to-bpf call one frame deeper: callback(i, ctx, 0, 0, 0) for i < nr_loops until it
   * returns non-zero; r0 = the iterations run, or -EINVAL (flags) / LOOP_E2BIG (more than BPF_MAX_LOOPS),
   * as the helper (and the kernel's own inlined bpf_loop) computes them.
   */
  private inlineLoop(callback: number, pc: number): void {
    const c = this.code;
    c.i32Const(pc).globalSet(this.cx.globals.pc);
    c.block();
    this.get(4).op(Op.i64_eqz).op(Op.i32_eqz).if();
    c.i64Const(-Errno.EINVAL);
    this.set(0);
    c.br(1).end();
    this.get(1).i64Const(BPF_MAX_LOOPS).op(Op.i64_gt_u).if();
    c.i64Const(LOOP_E2BIG);
    this.set(0);
    c.br(1).end();
    // r0 = nr_loops unless a callback stops the loop early; T64A counts, T64B holds nr_loops.
    this.get(1).localTee(T64B);
    this.set(0);
    c.i64Const(0).localSet(T64A);
    c.loop();
    c.localGet(T64A).localGet(T64B).op(Op.i64_ge_u).brIf(1);
    this.countIteration(pc);
    this.checkCallDepth(pc);
    c.i64Const(0).localGet(T64A);
    this.get(3);
    for (let r = 3; r <= 9; r++) c.i64Const(0);
    this.nextFrame();
    c.call(this.cx.funcAt(callback));
    for (let r = 1; r <= 5; r++) c.op(Op.drop);
    // The callback's r0 stays on the stack: 0 continues with i + 1, anything else stops with r0 = i + 1.
    c.localGet(T64A).i64Const(1).op(Op.i64_add).localSet(T64A);
    c.op(Op.i64_eqz).brIf(0);
    c.localGet(T64A);
    this.set(0);
    c.end(); // loop
    c.end(); // block
    if (this.cx.legacyLoads) this.forgetPacket();
  }

  /**
   * tail_call through the runtime's table when the target is compiled and the limit allows: index in
   * range, a program in the slot, its entry ready, fewer than 33 tail calls so far. Anything else falls
   * through to the helper (which also compiles and installs the target for the next time).
   */
  private tableTailCall(pc: number): void {
    const t = this.cx.tableTailCall(this.blockStart, pc);
    if (!t) return;
    const c = this.code;
    c.block();
    this.get(3).i64Const(t.maxEntries).op(Op.i64_ge_u).brIf(0);
    this.get(3).op(Op.i32_wrap_i64).i32Const(2).op(Op.i32_shl).mem(Op.i32_load, 2, t.refs).localTee(T32);
    c.i32Const(t.tableSize).op(Op.i32_ge_u).brIf(0);
    c.localGet(T32).op(Op.i32_eqz).brIf(0);
    c.localGet(T32).mem(Op.i32_load8_u, 0, t.ready).op(Op.i32_eqz).brIf(0);
    c.i32Const(0).mem(Op.i32_load, 2, t.counter).i32Const(t.limit).op(Op.i32_ge_u).brIf(0);
    c.i32Const(0).i32Const(0).mem(Op.i32_load, 2, t.counter).i32Const(1).op(Op.i32_add);
    c.mem(Op.i32_store, 2, t.counter);
    this.countIteration(pc);
    for (let r = 1; r <= 5; r++) this.get(r);
    this.get(10);
    c.localGet(DEPTH).localGet(T32).callIndirect(t.entryType).localSet(T64A);
    this.leave(() => c.localGet(T64A));
    c.end();
  }

  /** Helpers may move the packet: legacy loads ask the runtime for it again. */
  private forgetPacket(): void {
    this.code.i32Const(-1).globalSet(this.cx.globals.pktLen);
  }

  /** Helpers may move packet bounds: drop the cached regions. */
  private forgetRegions(): void {
    const c = this.code;
    const g = this.cx.globals;
    c.i64Const(-1).globalSet(g.readLo).i64Const(0).globalSet(g.readHi);
    c.i64Const(-1).globalSet(g.writeLo).i64Const(0).globalSet(g.writeHi);
  }
}
