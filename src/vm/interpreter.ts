// The reference interpreter. Registers are 32-bit halves in an Int32Array (register r: low half at 2r,
// high half at 2r+1), instructions come pre-decoded from program.ts, and the loop is one switch on the
// opcode byte — no allocation per instruction.
//
// Checked mode (the default, for unverified programs) validates every load and store against the region
// of the address space it falls in and stops after an instruction budget; unchecked mode (verified
// programs) skips the region checks but still stays inside the wasm memory. Tracing runs the same loop
// one instruction at a time, so it costs nothing when off.

import { RunLimitError, RuntimeFault, TsbpfError } from '../errors.js';
import type { HelperDef, Invocation, NumberArg } from '../helpers/types.js';
import { type Insn, insn, MAX_CALL_FRAMES } from '../isa/index.js';
import {
  atomic,
  bswap,
  divmod32,
  divmod64,
  movsx32,
  movsx64,
  mul64,
  neg64,
  regU64,
  sar64,
  setRegBig,
  setRegNumber,
  shl64,
  shr64,
  truncate,
} from './alu.js';
import { checkDeadline, DEFAULT_BUDGET, DEFAULT_ITERATIONS, IterationBudget, TIME_STEP } from './limits.js';
import { FUSED_MAX, type PreparedProgram, prepareProgram } from './program.js';
import type { CallbackRunner, Runtime } from './runtime.js';
import { type AccessWindow, checkAccess, checkHelperArgs } from './sandbox.js';

/** Tail calls per run, as in the kernel (MAX_TAIL_CALL_CNT). */
export const MAX_TAIL_CALLS = 33;

/** An instruction about to run, as a trace hook sees it. */
export interface TraceEvent {
  /** Slot index of the instruction about to execute. */
  pc: number;
  /** Call depth (0 = main program). */
  depth: number;
  program: PreparedProgram;
  insn: Insn;
  /** Register value (unsigned 64-bit) before the instruction executes. */
  reg(r: number): bigint;
}
/** Called before each instruction of a traced run (RunOptions.trace). */
export type TraceHook = (event: TraceEvent) => void;

/** Options of one interpreter run. */
export interface RunOptions {
  /** r1..r5 at entry; r1 is normally the context address. */
  args?: readonly (number | bigint)[];
  /** Validate every memory access and enforce the budget (default true). False for verified programs. */
  checked?: boolean;
  /**
   * Checked runs: the most instructions (default DEFAULT_BUDGET). Verified runs: the most loop iterations
   * — backward jumps, callback calls, tail calls (default DEFAULT_ITERATIONS). See limits.ts.
   */
  budget?: number;
  /** performance.now() time at which the run stops with a RunLimitError (checked every chunk). */
  deadline?: number;
  /** Called before every instruction. */
  trace?: TraceHook;
  /** Fields of the invocation helpers see (ctx defaults to r1, programType to the program's type). */
  invocation?: Partial<Invocation>;
  /** Simulated CPU to run on (default runtime.cpu). */
  cpu?: number;
}

/** What an interpreter run gives: r0 and the instructions it executed. */
export interface RunResult {
  /** r0 at exit, as an unsigned 64-bit value. */
  r0: bigint;
  /** Instructions executed, including those of callbacks and tail-called programs. */
  instructions: number;
}

/**
 * The register file, shared by all interpreters: a module constant lets the optimizing compiler drop the
 * map check and the length/base loads per access that a field or parameter costs. Runs do not overlap
 * (a helper that runs another interpreter gets the caller's registers back through `claim`).
 */
const REGS = new Int32Array(22);
let owner: Interpreter | undefined;
/** The program `warmUp` runs (prepared on first use). */
let warmProgram: PreparedProgram | undefined;

/** Instructions per counting chunk of `exec` (keeps its counters small integers). */
const CHUNK = 0x3fffffff;
const DONE = 0;
const LIMIT = 1;
const CALLBACK_RETURNED = 2;
/** Words per saved frame: return slot, caller's r6-r9 (8 halves). */
const FRAME_WORDS = 9;
const CALLBACK_RETURN = -1;

/** The reference interpreter: runs prepared programs on a runtime's memory, checked or at full speed. */
export class Interpreter {
  /** Registers of this interpreter's last run while another one holds the shared file (see REGS). */
  private readonly saved = new Int32Array(22);
  private readonly frames = new Int32Array((MAX_CALL_FRAMES + 1) * FRAME_WORDS);
  private readonly frameProgs: (PreparedProgram | undefined)[] = new Array(MAX_CALL_FRAMES + 1);
  private prog!: PreparedProgram;
  private pc = 0;
  private depth = 0;
  private count = 0;
  private limit = 0;
  private budget = 0;
  /** Verified runs: iterations left in the current chunk of the budget (see limits.ts). */
  private iters = 0;
  private iterations = new IterationBudget();
  private deadline = Number.POSITIVE_INFINITY;
  /** Instructions counted between deadline checks (checked runs). */
  private step = CHUNK;
  private checked = true;
  private traceHook: TraceHook | undefined;
  private stackTops: readonly number[] = [];
  /** Stack frame tops per CPU (frames never move once a runtime allocated them). */
  private readonly topsByCpu: number[][] = [];
  /** The deferred invocation of the current run (see `defer`). */
  private readonly entryFields = { ctx: 0, programType: '' };
  private extraFields: Partial<Invocation> | undefined;
  private pending = false;
  private before: ((i: number, ctx: number) => void) | undefined;
  private beforeIndex = 0;
  private installed = false;
  private previousRunner: CallbackRunner | undefined;
  /** Checked mode: the window the last access check allowed (see sandbox.ts); empty when lo > hi. */
  private readonly window: AccessWindow = { lo: 1, hi: 0, write: false };
  private readonly runCallback = this.callback.bind(this);
  /** The unchecked batch in progress (runBatch): runs batchNext..batchCount-1 are still to go. */
  private batchProg: PreparedProgram | undefined;
  private batchCtxs = 0;
  private batchOut = 0;
  private batchCount = 0;
  private batchNext = 0;
  private batchBefore: ((i: number, ctx: number) => void) | undefined;

  constructor(readonly runtime: Runtime) {}

  /** The register file after (or during) a run: register r is R[2r] (low) and R[2r+1] (high). */
  get regs(): Int32Array {
    return owner === this ? REGS : this.saved;
  }

  /**
   * Take the shared register file, keeping the previous holder's registers in its `saved` (a run begins;
   * a helper or trace hook ran another interpreter).
   */
  private claim(restore: boolean): void {
    if (owner) owner.saved.set(REGS);
    if (restore) REGS.set(this.saved);
    owner = this;
  }

  /** Register r (unsigned 64-bit) after a run. */
  reg(r: number): bigint {
    return regU64(this.regs, r);
  }

  run(prog: PreparedProgram, options: RunOptions = {}): RunResult {
    const rt = this.runtime;
    const R = REGS;
    const cpu = options.cpu ?? rt.cpu;
    if (cpu < 0 || cpu >= rt.cpus) throw new RangeError(`cpu ${cpu} out of range (runtime has ${rt.cpus})`);
    rt.cpu = cpu;
    const args = options.args;
    if (args && args.length > 5) throw new RangeError('at most five arguments (r1-r5)');
    this.setup(options.checked ?? true, options.budget, options.deadline, prog);
    this.traceHook = options.trace;
    if (args) {
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        // Safe integers need no BigInt (the usual case: a context address).
        if (typeof a === 'number' && Number.isSafeInteger(a)) setRegNumber(R, i + 1, a);
        else setRegBig(R, i + 1, BigInt(a));
      }
    }
    this.defer(prog, R[2]! >>> 0, options.invocation, undefined, 0);
    this.start(prog);
    return { r0: this.reg(0), instructions: this.count };
  }

  /**
   * The hot entry (hooks, test runs): r1 = ctx, the invocation from `runtime.invocationDefaults`, on
   * `runtime.cpu`; returns the low 32 bits of r0, unsigned. Allocates nothing unless the program calls a
   * helper. `before(i, ctx)`, when given, is called once the invocation has begun (batches point it at
   * packet i); as on the JIT, that is at the run's first helper call, and never in runs that make none.
   */
  run32(
    prog: PreparedProgram,
    ctx: number,
    checked = true,
    budget?: number,
    before?: (i: number, ctx: number) => void,
    i = 0,
    deadline?: number,
  ): number {
    const R = REGS;
    this.setup(checked, budget, deadline, prog);
    this.traceHook = undefined;
    R[2] = ctx;
    this.defer(prog, ctx >>> 0, undefined, before, i);
    this.start(prog);
    return R[0]! >>> 0;
  }

  /**
   * Have V8 compile this interpreter's loop (it does so on first call, for half a millisecond) by running a
   * two-instruction program: a test run then times the program, not that compilation.
   */
  warmUp(): void {
    warmProgram ??= prepareProgram([insn(0xb7), insn(0x95)]); // r0 = 0; exit
    const space = this.runtime.space;
    // A batch of one run (context 0), through the path a test run's batches take.
    const table = space.allocate(8, 'scratch', 'warm-up batch', true);
    try {
      space.view.setUint32(table.start, 0, true);
      for (let i = 0; i < 3; i++) this.runBatch(warmProgram, table.start, 1, table.start + 4, false);
    } finally {
      space.release(table);
    }
  }

  /**
   * Many runs as run32, one per context: the u32 at `ctxs + 4i` is the context of run i, the low half of
   * its r0 goes to the u32 at `out + 4i`. What every run shares (mode, budget, stack frames) is set once.
   */
  runBatch(
    prog: PreparedProgram,
    ctxs: number,
    count: number,
    out: number,
    checked = true,
    budget?: number,
    before?: (i: number, ctx: number) => void,
    deadline?: number,
  ): void {
    const R = REGS;
    const space = this.runtime.space;
    this.traceHook = undefined;
    this.mode(checked, budget, deadline);
    if (!checked && count > 0) {
      // No budget to count per run: the runs follow one another inside exec (see nextRun).
      this.batchProg = prog;
      this.batchCtxs = ctxs;
      this.batchOut = out;
      this.batchBefore = before;
      this.batchCount = count;
      this.batchNext = 0;
      try {
        this.nextRun();
        this.start(prog);
        space.view.setUint32(out + 4 * (count - 1), R[0]!, true);
      } finally {
        this.batchCount = this.batchNext = 0;
        this.batchBefore = undefined;
      }
      return;
    }
    for (let i = 0; i < count; i++) {
      const ctx = space.view.getUint32(ctxs + 4 * i, true);
      if (owner !== this) this.claim(false);
      this.clear(prog);
      R[2] = ctx;
      this.defer(prog, ctx >>> 0, undefined, before, i);
      this.start(prog);
      // The view is fetched again: a helper may have grown the memory, which replaces its buffer.
      space.view.setUint32(out + 4 * i, R[0]!, true);
    }
  }

  /**
   * The next run of an unchecked batch: r0 of the run that just ended (if any) stored, the callback runner
   * given back, registers cleared and r1 = the next context, its invocation deferred. Returns the program.
   */
  private nextRun(): PreparedProgram {
    const i = this.batchNext++;
    const view = this.runtime.space.view;
    if (i > 0) view.setUint32(this.batchOut + 4 * (i - 1), REGS[0]!, true);
    if (this.installed) {
      this.runtime.callbackRunner = this.previousRunner;
      this.previousRunner = undefined;
      this.installed = false;
    }
    if (owner !== this) this.claim(false);
    const prog = this.batchProg!;
    this.clear(prog);
    const ctx = view.getUint32(this.batchCtxs + 4 * i, true);
    REGS[2] = ctx;
    this.defer(prog, ctx, undefined, this.batchBefore, i);
    this.forgetWindow();
    return prog;
  }

  /** Per-run state: mode, budget, registers cleared, r10 at the top of frame 0 (zeroed when checked). */
  private setup(
    checked: boolean,
    budget: number | undefined,
    deadline: number | undefined,
    prog: PreparedProgram,
  ): void {
    if (owner !== this) this.claim(false);
    this.mode(checked, budget, deadline);
    this.clear(prog);
  }

  /** Mode, budget, deadline and the stack frames of the runtime's current CPU. */
  private mode(checked: boolean, budget: number | undefined, deadline: number | undefined): void {
    const rt = this.runtime;
    this.checked = checked;
    const until = deadline ?? Number.POSITIVE_INFINITY;
    this.deadline = until;
    this.step = until === Number.POSITIVE_INFINITY ? CHUNK : TIME_STEP;
    // Checked runs count instructions, verified runs iterations (limits.ts).
    this.budget = checked ? (budget ?? DEFAULT_BUDGET) : Number.MAX_SAFE_INTEGER;
    if (!checked) {
      const it = this.iterations;
      const wanted = budget ?? DEFAULT_ITERATIONS;
      if (it.budget !== wanted) this.iterations = new IterationBudget(wanted, until);
      else it.deadline = until;
    }
    let tops = this.topsByCpu[rt.cpu];
    if (!tops) {
      tops = rt.stackFrames(rt.cpu).map((f) => f.end);
      this.topsByCpu[rt.cpu] = tops;
    }
    this.stackTops = tops;
  }

  /** Registers cleared, r10 at the top of frame 0; the stack zeroed when checked (the file is ours). */
  private clear(prog: PreparedProgram): void {
    const rt = this.runtime;
    if (this.checked || prog.clearsStack)
      for (const f of rt.stackFrames(rt.cpu)) rt.space.bytes.fill(0, f.start, f.end);
    const tops = this.stackTops;
    const R = REGS;
    // Straight-line stores at constant indices of a constant array: no bounds checks, no loop (a loop or
    // R.fill cost more than the rest of the setup).
    R[0] = R[1] = R[2] = R[3] = R[4] = R[5] = R[6] = R[7] = R[8] = R[9] = 0;
    R[10] = R[11] = R[12] = R[13] = R[14] = R[15] = R[16] = R[17] = R[18] = R[19] = 0;
    R[20] = tops[0]!;
    R[21] = 0;
    this.iters = this.checked ? Number.MAX_SAFE_INTEGER : this.iterations.start();
  }

  /** A verified run used up its chunk of iterations at `pc`: the next chunk, or a RunLimitError. */
  private moreIterations(pc: number): void {
    this.iters = this.iterations.more(pc);
  }

  /**
   * Only helpers (and legacy packet loads, and checked-mode metadata accesses) see the invocation, so it
   * begins at the first of those: runs that make none allocate nothing and leave the callback runner alone.
   */
  private defer(
    prog: PreparedProgram,
    ctx: number,
    fields: Partial<Invocation> | undefined,
    before: ((i: number, ctx: number) => void) | undefined,
    i: number,
  ): void {
    this.pending = true;
    this.entryFields.ctx = ctx;
    this.entryFields.programType = prog.type;
    this.extraFields = fields;
    this.before = before;
    this.beforeIndex = i;
  }

  /** Begin the deferred invocation and install the engine as the callback runner (until the run ends). */
  private begin(): void {
    this.pending = false;
    const rt = this.runtime;
    const f = this.entryFields;
    const extra = this.extraFields;
    rt.beginInvocation(extra ? { ctx: f.ctx, programType: f.programType, ...extra } : f);
    this.previousRunner = rt.callbackRunner;
    rt.callbackRunner = this.runCallback;
    this.installed = true;
    this.before?.(this.beforeIndex, f.ctx);
  }

  /** Run from slot 0 with the registers set up. */
  private start(prog: PreparedProgram): void {
    this.prog = prog;
    this.pc = 0;
    this.depth = 0;
    this.count = 0;
    this.forgetWindow();
    try {
      if (this.traceHook) this.loop();
      else {
        this.limit = this.budget;
        if (this.exec() === LIMIT) this.budgetFault();
      }
    } finally {
      if (this.installed) {
        this.runtime.callbackRunner = this.previousRunner;
        this.previousRunner = undefined;
        this.installed = false;
      }
    }
  }

  private budgetFault(): never {
    throw new RunLimitError(`instruction budget of ${this.budget} exhausted`, this.pc, 'budget');
  }

  /** Run until the program (or the current callback) returns, handling the budget and tracing. */
  private loop(): number {
    for (;;) {
      this.limit = this.traceHook ? Math.min(this.count, this.budget) : this.budget;
      if (this.traceHook && this.count < this.budget) {
        this.traceHook(this.traceEvent());
        if (owner !== this) this.claim(true);
        this.limit = this.count + 1;
      }
      const status = this.exec();
      if (status !== LIMIT) return status;
      if (this.count >= this.budget) this.budgetFault();
    }
  }

  private traceEvent(): TraceEvent {
    const R = REGS;
    return {
      pc: this.pc,
      depth: this.depth,
      program: this.prog,
      insn: this.prog.insns[this.pc] ?? { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
      reg: (r: number) => regU64(R, r),
    };
  }

  /** The hot loop. Returns DONE, LIMIT or CALLBACK_RETURNED; state is saved in fields on return. */
  private exec(): number {
    const R = REGS;
    const rt = this.runtime;
    const checked = this.checked;
    const hard = this.limit;
    let prog = this.prog;
    // Dispatch on the fused copy of the code while far enough from the limit for a whole superinstruction
    // (`soft`); near it, in checked mode and when tracing (limit one ahead), on the plain code, so the
    // budget stops at the exact instruction.
    let code = prog.fast;
    let pc = this.pc;
    // Instructions counted from `base` in chunks, so the counter and the limits stay small integers.
    let base = this.count;
    let n = 0;
    const step = this.step;
    let limit = Math.min(hard - base, step);
    let soft = checked ? -1 : limit - FUSED_MAX;
    let dv = rt.space.view;
    try {
      for (;;) {
        if (n >= soft) {
          if (n >= limit) {
            if (base + n < hard) {
              checkDeadline(this.deadline, pc);
              base += n;
              n = 0;
              limit = Math.min(hard - base, step);
              soft = checked ? -1 : limit - FUSED_MAX;
              code = prog.fast;
              continue;
            }
            this.prog = prog;
            this.pc = pc;
            this.count = base + n;
            return LIMIT;
          }
          code = prog.code;
        }
        n++;
        const p = pc << 2;
        const w = code[p]!;
        const d = (w >> 16) & 0xff;
        const s = w >>> 24;
        // Each case is labelled with its mnemonic and effect, as the kernel's interpreter labels its own:
        // rd, rs the registers, wd, ws their low 32 bits (the result zero-extends), s> a signed compare.
        switch (w & 0xff) {
          // ---------------------------------------------------------------- superinstructions (program.ts)
          // Literal labels: an imported constant would be loaded and compared before the jump table.
          case 0xe8: {
            // Fused.MOV_ADD
            // rd = rs; rd += imm
            const a = R[s]!;
            const r = (a + code[p + 6]!) | 0;
            R[d + 1] = (R[s + 1]! + code[p + 7]! + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
            R[d] = r;
            n++;
            pc += 2;
            continue;
          }
          case 0xe9: {
            // Fused.MOV_ADD_JCMP
            // rd = rs; rd += imm; if r_x <op> r_y goto (unsigned 64-bit compare of registers)
            const a = R[s]!;
            const r = (a + code[p + 6]!) | 0;
            R[d + 1] = (R[s + 1]! + code[p + 7]! + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
            R[d] = r;
            n += 2;
            const w2 = code[p + 8]!;
            const x = (w2 >> 16) & 0xff;
            const y = w2 >>> 24;
            const ah = R[x + 1]! >>> 0;
            const bh = R[y + 1]! >>> 0;
            const al = R[x]! >>> 0;
            const bl = R[y]! >>> 0;
            const c = ah === bh ? (al === bl ? 0 : al > bl ? 1 : -1) : ah > bh ? 1 : -1;
            if (taken(w2 & 0xf0, c)) {
              // A backward jump is an iteration (limits.ts).
              if (code[p + 9]! <= pc + 2 && --this.iters < 0) this.moreIterations(pc + 2);
              pc = code[p + 9]!;
            } else pc += 3;
            continue;
          }

          // ---------------------------------------------------------------- ALU64, immediate / register
          // Low halves wrap in int32; the carry (borrow) is an unsigned compare.
          case 0x07: {
            // add: rd += imm
            const a = R[d]!;
            const r = (a + code[p + 2]!) | 0;
            R[d] = r;
            R[d + 1] = (R[d + 1]! + code[p + 3]! + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x0f: {
            // add: rd += rs
            const a = R[d]!;
            const bh = R[s + 1]!;
            const r = (a + R[s]!) | 0;
            R[d] = r;
            R[d + 1] = (R[d + 1]! + bh + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x17: {
            // sub: rd -= imm
            const a = R[d]!;
            const b = code[p + 2]!;
            R[d] = (a - b) | 0;
            R[d + 1] = (R[d + 1]! - code[p + 3]! - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x1f: {
            // sub: rd -= rs
            const a = R[d]!;
            const b = R[s]!;
            const bh = R[s + 1]!;
            R[d] = (a - b) | 0;
            R[d + 1] = (R[d + 1]! - bh - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
            break;
          }
          case 0x27: // mul: rd *= imm
            mul64(R, d, code[p + 2]!, code[p + 3]!);
            break;
          case 0x2f: // mul: rd *= rs
            mul64(R, d, R[s]!, R[s + 1]!);
            break;
          case 0x37: // div: rd /= imm (sdiv when off = 1)
            divmod64(R, d, code[p + 2]!, code[p + 3]!, (w & 0xff00) !== 0, false);
            break;
          case 0x3f: // div: rd /= rs (sdiv when off = 1)
            divmod64(R, d, R[s]!, R[s + 1]!, (w & 0xff00) !== 0, false);
            break;
          case 0x47: // or: rd |= imm
            R[d] = R[d]! | code[p + 2]!;
            R[d + 1] = R[d + 1]! | code[p + 3]!;
            break;
          case 0x4f: // or: rd |= rs
            R[d] = R[d]! | R[s]!;
            R[d + 1] = R[d + 1]! | R[s + 1]!;
            break;
          case 0x57: // and: rd &= imm
            R[d] = R[d]! & code[p + 2]!;
            R[d + 1] = R[d + 1]! & code[p + 3]!;
            break;
          case 0x5f: // and: rd &= rs
            R[d] = R[d]! & R[s]!;
            R[d + 1] = R[d + 1]! & R[s + 1]!;
            break;
          case 0x67: // lsh: rd <<= imm
            shl64(R, d, code[p + 2]! & 63);
            break;
          case 0x6f: // lsh: rd <<= rs
            shl64(R, d, R[s]! & 63);
            break;
          case 0x77: // rsh: rd >>= imm
            shr64(R, d, code[p + 2]! & 63);
            break;
          case 0x7f: // rsh: rd >>= rs
            shr64(R, d, R[s]! & 63);
            break;
          case 0x87: // neg: rd = -rd
            neg64(R, d);
            break;
          case 0x97: // mod: rd %= imm (smod when off = 1)
            divmod64(R, d, code[p + 2]!, code[p + 3]!, (w & 0xff00) !== 0, true);
            break;
          case 0x9f: // mod: rd %= rs (smod when off = 1)
            divmod64(R, d, R[s]!, R[s + 1]!, (w & 0xff00) !== 0, true);
            break;
          case 0xa7: // xor: rd ^= imm
            R[d] = R[d]! ^ code[p + 2]!;
            R[d + 1] = R[d + 1]! ^ code[p + 3]!;
            break;
          case 0xaf: // xor: rd ^= rs
            R[d] = R[d]! ^ R[s]!;
            R[d + 1] = R[d + 1]! ^ R[s + 1]!;
            break;
          case 0xb7: // mov: rd = imm
            R[d] = code[p + 2]!;
            R[d + 1] = code[p + 3]!;
            break;
          case 0xbf: // mov: rd = rs (movsx: rd = (s8/s16/s32)rs when off = 8/16/32)
            if ((w & 0xff00) === 0) {
              R[d] = R[s]!;
              R[d + 1] = R[s + 1]!;
            } else movsx64(R, d, s, (w >> 8) & 0xff);
            break;
          case 0xc7: // arsh: rd s>>= imm
            sar64(R, d, code[p + 2]! & 63);
            break;
          case 0xcf: // arsh: rd s>>= rs
            sar64(R, d, R[s]! & 63);
            break;
          case 0xd7: // bswap16/32/64: rd = bswap(rd)
            bswap(R, d, (w >> 8) & 0xff);
            break;

          // ---------------------------------------------------------------- ALU (32-bit, zero-extends)
          case 0x04: // add32: wd += imm
            R[d] = R[d]! + code[p + 2]!;
            R[d + 1] = 0;
            break;
          case 0x0c: // add32: wd += ws
            R[d] = R[d]! + R[s]!;
            R[d + 1] = 0;
            break;
          case 0x14: // sub32: wd -= imm
            R[d] = R[d]! - code[p + 2]!;
            R[d + 1] = 0;
            break;
          case 0x1c: // sub32: wd -= ws
            R[d] = R[d]! - R[s]!;
            R[d + 1] = 0;
            break;
          case 0x24: // mul32: wd *= imm
            R[d] = Math.imul(R[d]!, code[p + 2]!);
            R[d + 1] = 0;
            break;
          case 0x2c: // mul32: wd *= ws
            R[d] = Math.imul(R[d]!, R[s]!);
            R[d + 1] = 0;
            break;
          case 0x34: // div32: wd /= imm (sdiv32 when off = 1)
            divmod32(R, d, code[p + 2]!, (w & 0xff00) !== 0, false);
            break;
          case 0x3c: // div32: wd /= ws (sdiv32 when off = 1)
            divmod32(R, d, R[s]!, (w & 0xff00) !== 0, false);
            break;
          case 0x44: // or32: wd |= imm
            R[d] = R[d]! | code[p + 2]!;
            R[d + 1] = 0;
            break;
          case 0x4c: // or32: wd |= ws
            R[d] = R[d]! | R[s]!;
            R[d + 1] = 0;
            break;
          case 0x54: // and32: wd &= imm
            R[d] = R[d]! & code[p + 2]!;
            R[d + 1] = 0;
            break;
          case 0x5c: // and32: wd &= ws
            R[d] = R[d]! & R[s]!;
            R[d + 1] = 0;
            break;
          case 0x64: // lsh32: wd <<= imm
            R[d] = R[d]! << (code[p + 2]! & 31);
            R[d + 1] = 0;
            break;
          case 0x6c: // lsh32: wd <<= ws
            R[d] = R[d]! << (R[s]! & 31);
            R[d + 1] = 0;
            break;
          case 0x74: // rsh32: wd >>= imm
            R[d] = R[d]! >>> (code[p + 2]! & 31);
            R[d + 1] = 0;
            break;
          case 0x7c: // rsh32: wd >>= ws
            R[d] = R[d]! >>> (R[s]! & 31);
            R[d + 1] = 0;
            break;
          case 0x84: // neg32: wd = -wd
            R[d] = -R[d]!;
            R[d + 1] = 0;
            break;
          case 0x94: // mod32: wd %= imm (smod32 when off = 1)
            divmod32(R, d, code[p + 2]!, (w & 0xff00) !== 0, true);
            break;
          case 0x9c: // mod32: wd %= ws (smod32 when off = 1)
            divmod32(R, d, R[s]!, (w & 0xff00) !== 0, true);
            break;
          case 0xa4: // xor32: wd ^= imm
            R[d] = R[d]! ^ code[p + 2]!;
            R[d + 1] = 0;
            break;
          case 0xac: // xor32: wd ^= ws
            R[d] = R[d]! ^ R[s]!;
            R[d + 1] = 0;
            break;
          case 0xb4: // mov32: wd = imm
            R[d] = code[p + 2]!;
            R[d + 1] = 0;
            break;
          case 0xbc: // mov32: wd = ws (movsx32: wd = (s8/s16)ws when off = 8/16)
            if ((w & 0xff00) === 0) {
              R[d] = R[s]!;
              R[d + 1] = 0;
            } else movsx32(R, d, s, (w >> 8) & 0xff);
            break;
          case 0xc4: // arsh32: wd s>>= imm
            R[d] = R[d]! >> (code[p + 2]! & 31);
            R[d + 1] = 0;
            break;
          case 0xcc: // arsh32: wd s>>= ws
            R[d] = R[d]! >> (R[s]! & 31);
            R[d + 1] = 0;
            break;
          case 0xd4: // le16/32/64: rd = htole(rd) (a truncation on this little-endian machine)
            truncate(R, d, (w >> 8) & 0xff);
            break;
          case 0xdc: // be16/32/64: rd = htobe(rd) (a byte swap)
            bswap(R, d, (w >> 8) & 0xff);
            break;

          // ---------------------------------------------------------------- JMP (64-bit compares)
          case 0x05: // ja: goto +off
          case 0x06: // gotol: target precomputed from imm
            if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
            pc = code[p + 1]!;
            continue;
          case 0x15: // jeq: if rd == imm goto
            if (R[d] === code[p + 2] && R[d + 1] === code[p + 3]) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          case 0x1d: // jeq: if rd == rs goto
            if (R[d] === R[s] && R[d + 1] === R[s + 1]) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          case 0x55: // jne: if rd != imm goto
            if (R[d] !== code[p + 2] || R[d + 1] !== code[p + 3]) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          case 0x5d: // jne: if rd != rs goto
            if (R[d] !== R[s] || R[d + 1] !== R[s + 1]) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          case 0x45: // jset: if rd & imm goto
            if ((R[d]! & code[p + 2]!) !== 0 || (R[d + 1]! & code[p + 3]!) !== 0) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          case 0x4d: // jset: if rd & rs goto
            if ((R[d]! & R[s]!) !== 0 || (R[d + 1]! & R[s + 1]!) !== 0) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          case 0x25: // jgt: if rd > imm goto
          case 0x2d: // jgt: if rd > rs goto
          case 0x35: // jge: if rd >= imm goto
          case 0x3d: // jge: if rd >= rs goto
          case 0xa5: // jlt: if rd < imm goto
          case 0xad: // jlt: if rd < rs goto
          case 0xb5: // jle: if rd <= imm goto
          case 0xbd: {
            // jle: if rd <= rs goto
            // Unsigned: compare high halves, then low halves.
            const x = (w & 8) !== 0;
            const ah = R[d + 1]! >>> 0;
            const bh = (x ? R[s + 1]! : code[p + 3]!) >>> 0;
            const al = R[d]! >>> 0;
            const bl = (x ? R[s]! : code[p + 2]!) >>> 0;
            const c = ah === bh ? (al === bl ? 0 : al > bl ? 1 : -1) : ah > bh ? 1 : -1;
            if (taken(w & 0xf0, c)) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          }
          case 0x65: // jsgt: if rd s> imm goto
          case 0x6d: // jsgt: if rd s> rs goto
          case 0x75: // jsge: if rd s>= imm goto
          case 0x7d: // jsge: if rd s>= rs goto
          case 0xc5: // jslt: if rd s< imm goto
          case 0xcd: // jslt: if rd s< rs goto
          case 0xd5: // jsle: if rd s<= imm goto
          case 0xdd: {
            // jsle: if rd s<= rs goto
            // Signed: high halves as int32, low halves unsigned.
            const x = (w & 8) !== 0;
            const ah = R[d + 1]!;
            const bh = x ? R[s + 1]! : code[p + 3]!;
            const al = R[d]! >>> 0;
            const bl = (x ? R[s]! : code[p + 2]!) >>> 0;
            const c = ah === bh ? (al === bl ? 0 : al > bl ? 1 : -1) : ah > bh ? 1 : -1;
            if (taken(w & 0xf0, c)) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;
          }

          // ---------------------------------------------------------------- JMP32 (low halves)
          case 0x16: // jeq32: if wd == imm goto
          case 0x1e: // jeq32: if wd == ws goto
          case 0x56: // jne32: if wd != imm goto
          case 0x5e: // jne32: if wd != ws goto
          case 0x46: // jset32: if wd & imm goto
          case 0x4e: // jset32: if wd & ws goto
          case 0x26: // jgt32: if wd > imm goto
          case 0x2e: // jgt32: if wd > ws goto
          case 0x36: // jge32: if wd >= imm goto
          case 0x3e: // jge32: if wd >= ws goto
          case 0xa6: // jlt32: if wd < imm goto
          case 0xae: // jlt32: if wd < ws goto
          case 0xb6: // jle32: if wd <= imm goto
          case 0xbe: // jle32: if wd <= ws goto
          case 0x66: // jsgt32: if wd s> imm goto
          case 0x6e: // jsgt32: if wd s> ws goto
          case 0x76: // jsge32: if wd s>= imm goto
          case 0x7e: // jsge32: if wd s>= ws goto
          case 0xc6: // jslt32: if wd s< imm goto
          case 0xce: // jslt32: if wd s< ws goto
          case 0xd6: // jsle32: if wd s<= imm goto
          case 0xde: // jsle32: if wd s<= ws goto
            if (jump32(w & 0xf0, R[d]!, (w & 8) !== 0 ? R[s]! : code[p + 2]!)) {
              if (code[p + 1]! <= pc && --this.iters < 0) this.moreIterations(pc);
              pc = code[p + 1]!;
              continue;
            }
            break;

          // ---------------------------------------------------------------- calls and exit
          case 0x85: // call: helper imm (src 0), or the function at pc + imm + 1 (src 1)
            if ((w & 0xff00) !== 0) {
              this.pushFrame(pc + 1, prog, pc);
              pc = code[p + 1]!;
              continue;
            }
            this.prog = prog;
            this.pc = pc;
            this.count = base + n;
            this.callHelper(prog.helpers[code[p + 2]!]!);
            n = this.count - base;
            dv = rt.space.view;
            if (rt.invocation.tailCall !== undefined) {
              const next = this.takeTailCall();
              if (next) {
                prog = next;
                code = prog.fast;
                pc = 0;
                continue;
              }
            }
            break;
          case 0x8d: {
            // callx: call the helper whose id is in rd
            // callx: the register holds a helper id.
            const id = R[d]!;
            const helper = R[d + 1] === 0 ? prog.lookupHelper(id) : undefined;
            if (!helper) throw new RuntimeFault(`callx to unknown helper ${regU64(R, d >> 1)}`, pc);
            this.prog = prog;
            this.pc = pc;
            this.count = base + n;
            this.callHelper(helper);
            n = this.count - base;
            dv = rt.space.view;
            break;
          }
          case 0x95: {
            // exit: return r0 to the caller, or end the run
            const depth = this.depth;
            if (depth === 0) {
              if (this.batchNext < this.batchCount) {
                // An unchecked batch goes on in this loop: the next run, without leaving and re-entering.
                prog = this.nextRun();
                code = prog.fast;
                pc = 0;
                continue;
              }
              this.prog = prog;
              this.pc = pc;
              this.count = base + n;
              return DONE;
            }
            const f = depth * FRAME_WORDS;
            const F = this.frames;
            for (let k = 0; k < 8; k++) R[12 + k] = F[f + 1 + k]!;
            R[20] = this.stackTops[depth - 1]!;
            R[21] = 0;
            this.depth = depth - 1;
            prog = this.frameProgs[depth]!;
            code = prog.fast;
            pc = F[f]!;
            if (pc === CALLBACK_RETURN) {
              this.prog = prog;
              this.count = base + n;
              return CALLBACK_RETURNED;
            }
            continue;
          }

          // ---------------------------------------------------------------- LD: lddw, legacy packet loads
          case 0x18: // lddw: rd = imm64 (two slots)
            R[d] = code[p + 2]!;
            R[d + 1] = code[p + 3]!;
            pc += 2;
            continue;
          case 0x20: // ldabsw: r0 = ntohl(*(u32 *)(pkt + imm))
          case 0x28: // ldabsh: r0 = ntohs(*(u16 *)(pkt + imm))
          case 0x30: // ldabsb: r0 = *(u8 *)(pkt + imm)
          case 0x40: // ldindw: r0 = ntohl(*(u32 *)(pkt + rs + imm))
          case 0x48: // ldindh: r0 = ntohs(*(u16 *)(pkt + rs + imm))
          case 0x50: // ldindb: r0 = *(u8 *)(pkt + rs + imm)
            if (!this.loadPacket(w, code[p + 2]!, pc)) {
              this.prog = prog;
              this.pc = pc;
              this.count = base + n;
              return DONE;
            }
            break;

          // ---------------------------------------------------------------- LDX
          case 0x61: {
            // ldxw: rd = *(u32 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 4, false, pc);
            R[d] = dv.getInt32(a, true);
            R[d + 1] = 0;
            break;
          }
          case 0x69: {
            // ldxh: rd = *(u16 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 2, false, pc);
            R[d] = dv.getUint16(a, true);
            R[d + 1] = 0;
            break;
          }
          case 0x71: {
            // ldxb: rd = *(u8 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 1, false, pc);
            R[d] = dv.getUint8(a);
            R[d + 1] = 0;
            break;
          }
          case 0x79: {
            // ldxdw: rd = *(u64 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 8, false, pc);
            const lo = dv.getInt32(a, true);
            R[d + 1] = dv.getInt32(a + 4, true);
            R[d] = lo;
            break;
          }
          case 0x81: {
            // ldxsw: rd = *(s32 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 4, false, pc);
            const v = dv.getInt32(a, true);
            R[d] = v;
            R[d + 1] = v >> 31;
            break;
          }
          case 0x89: {
            // ldxsh: rd = *(s16 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 2, false, pc);
            const v = dv.getInt16(a, true);
            R[d] = v;
            R[d + 1] = v >> 31;
            break;
          }
          case 0x91: {
            // ldxsb: rd = *(s8 *)(rs + off)
            const a = (R[s]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[s + 1]!, a, 1, false, pc);
            const v = dv.getInt8(a);
            R[d] = v;
            R[d + 1] = v >> 31;
            break;
          }

          // ---------------------------------------------------------------- ST (immediate) and STX
          case 0x62: {
            // stw: *(u32 *)(rd + off) = imm
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 4, true, pc);
            dv.setInt32(a, code[p + 2]!, true);
            break;
          }
          case 0x6a: {
            // sth: *(u16 *)(rd + off) = imm
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 2, true, pc);
            dv.setInt16(a, code[p + 2]!, true);
            break;
          }
          case 0x72: {
            // stb: *(u8 *)(rd + off) = imm
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 1, true, pc);
            dv.setInt8(a, code[p + 2]!);
            break;
          }
          case 0x7a: {
            // stdw: *(u64 *)(rd + off) = imm
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 8, true, pc);
            dv.setInt32(a, code[p + 2]!, true);
            dv.setInt32(a + 4, code[p + 3]!, true);
            break;
          }
          case 0x63: {
            // stxw: *(u32 *)(rd + off) = rs
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 4, true, pc);
            dv.setInt32(a, R[s]!, true);
            break;
          }
          case 0x6b: {
            // stxh: *(u16 *)(rd + off) = rs
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 2, true, pc);
            dv.setInt16(a, R[s]!, true);
            break;
          }
          case 0x73: {
            // stxb: *(u8 *)(rd + off) = rs
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 1, true, pc);
            dv.setInt8(a, R[s]!);
            break;
          }
          case 0x7b: {
            // stxdw: *(u64 *)(rd + off) = rs
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, 8, true, pc);
            dv.setInt32(a, R[s]!, true);
            dv.setInt32(a + 4, R[s + 1]!, true);
            break;
          }
          case 0xc3: // atomic32: add/and/or/xor (fetch), xchg, cmpxchg on *(u32 *)(rd + off) with rs
          case 0xdb: {
            // atomic64: add/and/or/xor (fetch), xchg, cmpxchg on *(u64 *)(rd + off) with rs
            const wide = (w & 0xff) === 0xdb;
            const a = (R[d]! >>> 0) + code[p + 1]!;
            if (checked) this.check(R[d + 1]!, a, wide ? 8 : 4, true, pc);
            atomic(R, dv, a, s, (w >> 8) & 0xff, wide);
            break;
          }

          default:
            throw new RuntimeFault(
              pc >= prog.insns.length
                ? 'execution ran past the end of the program (missing exit)'
                : `invalid opcode 0x${(w & 0xff).toString(16).padStart(2, '0')}`,
              pc,
            );
        }
        pc++;
      }
    } catch (e) {
      this.prog = prog;
      this.pc = pc;
      this.count = base + n;
      throw toFault(e, pc);
    }
  }

  /** bpf-to-bpf call (or callback entry): save r6-r9 and where to return, give the callee a new frame. */
  private pushFrame(returnTo: number, caller: PreparedProgram, pc: number): void {
    const depth = this.depth + 1;
    if (depth >= MAX_CALL_FRAMES) {
      throw new RuntimeFault(`call nesting exceeds ${MAX_CALL_FRAMES} frames`, pc);
    }
    const R = REGS;
    const F = this.frames;
    const f = depth * FRAME_WORDS;
    F[f] = returnTo;
    for (let k = 0; k < 8; k++) F[f + 1 + k] = R[12 + k]!;
    this.frameProgs[depth] = caller;
    R[20] = this.stackTops[depth]!;
    R[21] = 0;
    this.depth = depth;
  }

  private callHelper(helper: HelperDef): void {
    if (this.pending) this.begin();
    const R = REGS;
    const numbers = helper.numbers;
    if (this.checked) {
      // The helper must not reach what the program could not (sandbox.ts); what it changes (packet
      // bounds, samples) invalidates the cached window.
      const k = numbers?.args;
      checkHelperArgs(
        this.runtime,
        this.prog,
        helper,
        k ? (i) => numberArg(k[i - 1], i) : (i) => regU64(R, i),
        this.pc,
      );
      this.forgetWindow();
    }
    if (numbers) {
      // The helper's number form: arguments straight from the register halves, no BigInt.
      const k = numbers.args;
      let ret: number;
      try {
        ret = numbers.call(
          this.runtime,
          numberArg(k[0], 1),
          numberArg(k[1], 2),
          numberArg(k[2], 3),
          numberArg(k[3], 4),
          numberArg(k[4], 5),
        );
      } catch (e) {
        throw this.helperFault(helper, e);
      }
      if (owner !== this) this.claim(true);
      if (this.checked) this.forgetWindow();
      // r0 = the result (a safe integer), truncated toward zero as the JIT's conversion does.
      R[0] = ret >>> 0;
      R[1] = Math.floor(Math.trunc(ret) / 0x1_0000_0000) | 0;
      return;
    }
    const argc = helper.proto.args.length;
    const arg = (r: number): bigint => (r <= argc ? regU64(R, r) : 0n);
    let ret: bigint;
    try {
      ret = helper.call(this.runtime, arg(1), arg(2), arg(3), arg(4), arg(5));
    } catch (e) {
      throw this.helperFault(helper, e);
    }
    if (owner !== this) this.claim(true);
    if (this.checked) this.forgetWindow();
    setRegBig(R, 0, typeof ret === 'bigint' ? ret : BigInt(ret ?? 0));
  }

  /** A helper's exception as a fault at the calling instruction (errors of ours pass through). */
  private helperFault(helper: HelperDef, e: unknown): unknown {
    if (e instanceof TsbpfError) return e;
    return new RuntimeFault(
      `helper ${helper.name} failed: ${e instanceof Error ? e.message : String(e)}`,
      this.pc,
    );
  }

  /** After a helper asked for a tail call: the program to continue in, or undefined (falls through). */
  private takeTailCall(): PreparedProgram | undefined {
    const inv = this.runtime.invocation;
    const id = inv.tailCall!;
    inv.tailCall = undefined;
    const next = this.runtime.program(id);
    if (!next || inv.tailCalls >= MAX_TAIL_CALLS) return undefined;
    // Each tail call taken is an iteration (limits.ts).
    if (--this.iters < 0) this.moreIterations(this.pc);
    inv.tailCalls++;
    this.prog = next;
    // r1 still holds the context the helper received; the new program keeps the current frame.
    return next;
  }

  /** HelperEnv.callback: run the function at slot `target` of the running program with r1-r5. */
  private callback(target: number, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint): bigint {
    const prog = this.prog;
    const pc = this.pc;
    if (!prog.functions.includes(target)) {
      throw new RuntimeFault(`callback target ${target} is not the start of a function`, pc);
    }
    // Each callback call is an iteration (limits.ts).
    if (--this.iters < 0) this.moreIterations(pc);
    this.pushFrame(CALLBACK_RETURN, prog, pc);
    const R = REGS;
    setRegBig(R, 1, r1);
    setRegBig(R, 2, r2);
    setRegBig(R, 3, r3);
    setRegBig(R, 4, r4);
    setRegBig(R, 5, r5);
    this.pc = target;
    const status = this.loop();
    if (status !== CALLBACK_RETURNED) {
      throw new RuntimeFault('callback ended the program instead of returning', this.pc);
    }
    this.prog = prog;
    this.pc = pc;
    return regU64(R, 0);
  }

  /** Legacy LD_ABS/LD_IND: big-endian load from the packet into r0; false when out of bounds. */
  private loadPacket(w: number, imm: number, pc: number): boolean {
    if (this.pending) this.begin();
    const R = REGS;
    const packet = this.runtime.invocation.packet;
    if (!packet) throw new RuntimeFault('legacy packet load (LD_ABS/LD_IND) without a packet', pc);
    const size = [4, 2, 1, 8][(w >> 3) & 3]!;
    const off = (w & 0x40) !== 0 ? (R[w >>> 24]! + imm) | 0 : imm;
    if (off < 0 || off + size > packet.end - packet.start) {
      if (this.depth > 0) throw new RuntimeFault('legacy packet load out of bounds inside a function', pc);
      R[0] = R[1] = 0;
      return false;
    }
    const dv = this.runtime.space.view;
    const a = packet.start + off;
    R[0] = size === 4 ? dv.getInt32(a, false) : size === 2 ? dv.getUint16(a, false) : dv.getUint8(a);
    R[1] = 0;
    return true;
  }

  /** Checked mode: [addr, addr+size) must lie in the cached window, or pass the sandbox's check. */
  private check(hi: number, addr: number, size: number, write: boolean, pc: number): void {
    const w = this.window;
    if (hi === 0 && addr >= w.lo && addr + size <= w.hi && (w.write || !write)) return;
    this.checkSlow(hi, addr, size, write, pc);
  }

  /**
   * The sandbox's check (sandbox.ts), whose window is cached. Shared with the JIT's checked mode, which
   * calls it through `checkAccessOf` so both engines apply the same rules with the same messages.
   */
  private checkSlow(hi: number, addr: number, size: number, write: boolean, pc: number): void {
    if (hi !== 0) {
      const what = `${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'}`;
      throw new RuntimeFault(`invalid ${what}: the address is outside the 32-bit address space`, pc, addr);
    }
    // The rules read the invocation (its context, packet, ring-buffer samples): begin it first.
    if (this.pending) this.begin();
    checkAccess(this.runtime, this.prog, addr, size, write, pc, this.window);
  }

  /** Forget the cached window (a new run; a helper may have moved the packet or released a sample). */
  private forgetWindow(): void {
    this.window.lo = 1;
    this.window.hi = 0;
  }
}

/** Register r as its number-form helper argument kind says (0 beyond the helper's arguments). */
function numberArg(kind: NumberArg | undefined, r: number): number {
  const lo = REGS[2 * r]!;
  if (kind === 'word') return REGS[2 * r + 1]! * 0x1_0000_0000 + (lo >>> 0);
  return kind === 'u32' ? lo >>> 0 : kind === 's32' ? lo : 0;
}

/** Does a jump with op bits `op` go, given the comparison result c (-1, 0, 1)? */
function taken(op: number, c: number): boolean {
  switch (op) {
    case 0x20: // jgt, jsgt
    case 0x60:
      return c > 0;
    case 0x30: // jge, jsge
    case 0x70:
      return c >= 0;
    case 0xa0: // jlt, jslt
    case 0xc0:
      return c < 0;
    default: // jle, jsle
      return c <= 0;
  }
}

function jump32(op: number, a: number, b: number): boolean {
  switch (op) {
    case 0x10:
      return a === b;
    case 0x50:
      return a !== b;
    case 0x40:
      return (a & b) !== 0;
    case 0x20:
      return a >>> 0 > b >>> 0;
    case 0x30:
      return a >>> 0 >= b >>> 0;
    case 0xa0:
      return a >>> 0 < b >>> 0;
    case 0xb0:
      return a >>> 0 <= b >>> 0;
    case 0x60:
      return a > b;
    case 0x70:
      return a >= b;
    case 0xc0:
      return a < b;
    default:
      return a <= b;
  }
}

function toFault(e: unknown, pc: number): unknown {
  if (e instanceof TsbpfError) return e;
  // DataView bounds errors: in unchecked mode the wasm memory is the only fence.
  if (e instanceof RangeError) return new RuntimeFault('memory access outside the address space', pc);
  return e;
}

/** Run a prepared program once on a runtime (creates an Interpreter; reuse one for many runs). */
export function interpret(runtime: Runtime, prog: PreparedProgram, options: RunOptions = {}): RunResult {
  return new Interpreter(runtime).run(prog, options);
}
