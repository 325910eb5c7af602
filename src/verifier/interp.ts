// The abstract interpreter: simulates the program instruction by instruction along every path (depth
// first, with a stack of pending branches), tracking what each register and stack byte may hold, and
// rejects the first instruction that could be unsafe on some path.

import type { Btf } from '../btf/parse.js';
import type { HelperDef } from '../helpers/types.js';
import {
  AluOp,
  Class,
  classOf,
  FRAME_POINTER,
  type Insn,
  isLocalCall,
  JmpOp,
  jumpTarget,
  LDDW,
  lddwValue,
  MODE_MASK,
  Mode,
  OP_MASK,
  PseudoCall,
  PseudoLddw,
  SIZE_BYTES,
  SIZE_MASK,
  Size,
  STACK_SIZE,
} from '../isa/index.js';
import type { MapSpec } from '../spec/maps.js';
import { MapType } from '../spec/maps.js';
import type { FuncParam, KfuncRef, KsymRef } from '../spec/object.js';
import type { ProgramType } from '../spec/program-types.js';
import { helperAllowed } from '../spec/program-types.js';
import { MAX_VAR_OFF, memAccess, samePointerKind } from './access.js';
import type { BtfTarget } from './btf-ctx.js';
import { callGlobal, callHelper, callLocal, checkCallChainStack, returnToCaller } from './calls.js';
import { type Cfg, checkedUpFront, isExit, Reject, reservedFields } from './cfg.js';
import { forgetDynptrs } from './dynptr.js';
import type { VerifierEnv } from './env.js';
import { GPL_ONLY_HELPERS, gplCompatible, MIGHT_SLEEP_HELPERS } from './gpl.js';
import { isIterNext, iterDepthsDiffer } from './iter.js';
import { callKfunc, KPTR_XCHG, kfuncRefLeak, kptrXchg, PER_CPU_PTR, perCpuPtr, typedKsym } from './kfuncs.js';
import { disasm, type SourceMap } from './log.js';
import {
  type Checkpoint,
  ExploredStates,
  finishPath,
  newSlotSet,
  slotBit,
  slotWord,
  stateSafe,
} from './pruning.js';
import {
  constant,
  isConstScalar,
  negateJmp,
  refine,
  type Scalar,
  scalarAlu,
  signExtend,
  swapJmp,
  unknownOfSize,
  zext32,
} from './ranges.js';
import {
  cloneState,
  constReg,
  curFrame,
  FLOW_KEYS_MEM,
  type Frame,
  forEachReg,
  isNullable,
  isPacketKind,
  isPointer,
  NOT_INIT,
  newFrame,
  PACKET_SLICE_MEM,
  ptrReg,
  type Reg,
  regsToString,
  regToString,
  type State,
  scalarReg,
  UNKNOWN_SCALAR,
  withId,
  withKind,
  withOff,
  withRange,
  withScalar,
} from './state.js';

export interface InterpOptions {
  unprivileged: boolean;
  /** Processed instructions allowed (the kernel's BPF_COMPLEXITY_LIMIT_INSNS). */
  maxInsns: number;
  /** States remembered at prune points allowed (a bound on memory). */
  maxStates: number;
  /** performance.now() when verification began, and how long it may take. */
  startedAt: number;
  timeLimitMs: number;
  logLevel: 0 | 1 | 2;
  /** Unwritten stack bytes read as unknown numbers (privileged kernel loads). */
  allowUninitStack: boolean;
  /**
   * Global functions (besides the main program) by start slot, with their BTF parameters (undefined:
   * a parameter kind the kernel refuses). As the kernel does, each is verified on its own with
   * parameters of those types and must return a number; a call to one checks the arguments against
   * the types and leaves r0 an unknown number.
   */
  globalFunctions: ReadonlyMap<number, readonly FuncParam[] | undefined>;
  /** The kernel's BTF (types kernel struct pointers), when given. */
  kernelBtf?: Btf;
  /** The object's BTF (bpf_obj_new's program-local types), when given. */
  objectBtf?: Btf;
  /** A tracing/lsm program's attach target (its arguments are the context). */
  btfTarget?: BtfTarget;
  /** The program's licence, when it has one (GPL-only helpers need a GPL-compatible licence). */
  license?: string;
  /** The program is loaded sleepable (helpers that may sleep need it). */
  sleepable?: boolean;
  /** The kernel functions the program calls (a kfunc call's imm indexes it). */
  kfuncs?: readonly KfuncRef[];
  /** The typed kernel variables it reads (a `lddw` src BTF_ID's imm indexes it). */
  ksyms?: readonly KsymRef[];
}

interface Pending {
  state: State;
  pc: number;
  parent: Checkpoint | undefined;
  /** Stack slots written on this path since `parent`. */
  written: Uint32Array;
  /** Queued by a branch (or a callback call), not a function verified on its own. */
  branch: boolean;
}

const MAX_TRACE_LINES = 200_000;
const MAX_PACKET_OFF = 0xffff;
/** Branches that may wait to be explored at once (the kernel's BPF_COMPLEXITY_LIMIT_JMP_SEQ). */
export const MAX_PENDING_BRANCHES = 8192;
/** The clock is read every this many processed instructions (a power of two). */
const CLOCK_EVERY = 4096;

export class Verifier implements VerifierEnv {
  state!: State;
  processed = 0;
  peakStates = 0;
  readonly explored = new ExploredStates();
  readonly trace: string[] = [];
  private idGen = 0;
  private lastSaved = 0;
  /** Jump instructions processed (the kernel's jmps_processed), and that count at the last saved state. */
  private jumps = 0;
  private jumpsAtSave = 0;
  private parentNow: Checkpoint | undefined;
  /** Stack slots fully written on the current path since its last checkpoint. */
  private writtenNow = newSlotSet();
  private readonly pending: Pending[] = [];
  /** Entries of `pending` queued by branches (the kernel's env->stack_size). */
  private branchesPending = 0;
  private readonly stackDepth = new Map<number, number>();
  /** Instructions whose unused fields were checked (on the first visit). */
  private readonly fieldsChecked: Uint8Array;
  readonly unprivileged: boolean;
  readonly kernelBtf: Btf | undefined;
  readonly objectBtf: Btf | undefined;
  readonly btfTarget: BtfTarget | undefined;
  /** The name of a kernel struct by BTF id, for the log (`task_struct`). */
  private readonly structName = (id: number): string | undefined => {
    const t = id > 0 ? this.kernelBtf?.types[id] : undefined;
    return t?.name || undefined;
  };

  constructor(
    readonly insns: readonly Insn[],
    readonly type: ProgramType,
    maps: readonly MapSpec[],
    readonly helper: (id: number) => HelperDef | undefined,
    readonly cfg: Cfg,
    readonly live: Uint16Array,
    readonly src: SourceMap,
    readonly opts: InterpOptions,
  ) {
    this.unprivileged = opts.unprivileged;
    this.kernelBtf = opts.kernelBtf;
    this.objectBtf = opts.objectBtf;
    this.btfTarget = opts.btfTarget;
    this.fieldsChecked = new Uint8Array(insns.length);
    // Inner maps of map-in-map types get their own index: a lookup in the outer map yields them.
    const all = [...maps];
    maps.forEach((m, i) => {
      if (m.innerMap) this.innerOf.set(i, all.push(m.innerMap) - 1);
    });
    this.maps = all;
  }
  readonly maps: readonly MapSpec[];
  /** Outer map index -> index of its inner map spec. */
  readonly innerOf = new Map<number, number>();
  readonly ctxStores = new Map<number, string | null>();
  readonly accessKinds = new Map<number, Reg['kind']>();

  // ---- small services used by access.ts and calls.ts (VerifierEnv) ----
  get frame(): Frame {
    return curFrame(this.state);
  }
  newId(): number {
    return ++this.idGen;
  }
  describe(r: Reg): string {
    return regToString(r, this.structName);
  }
  /** `line 5` when line info exists, else `insn 12`. */
  where(pc: number): string {
    const l = this.src.at(pc);
    return l ? `line ${l.line}` : `insn ${pc}`;
  }
  noteStack(subprog: number, bytes: number): void {
    if ((this.stackDepth.get(subprog) ?? 0) < bytes) this.stackDepth.set(subprog, bytes);
  }
  read(regno: number, pc: number): Reg {
    const r = this.frame.regs[regno]!;
    if (r.kind === 'not_init') {
      throw new Reject(
        pc,
        'uninit_reg',
        `R${regno} is read before it is written on this path (not initialised)`,
      );
    }
    return r;
  }
  write(regno: number, r: Reg, pc: number): void {
    if (regno === FRAME_POINTER)
      throw new Reject(pc, 'write_fp', 'R10 is the read-only frame pointer and cannot be written');
    this.frame.regs[regno] = r;
  }
  acquire(pc: number): number {
    const id = this.newId();
    this.state.refs.push({ id, at: pc });
    return id;
  }
  /** Release a reference: every pointer into that memory becomes unusable. */
  release(ref: number): void {
    this.state.refs = this.state.refs.filter((x) => x.id !== ref);
    forgetDynptrs(this.state, ref);
    forEachReg(this.state, (r) => (r.ref === ref ? this.invalid() : undefined));
  }
  invalidatePackets(): void {
    // Slices of skb/xdp dynptrs are packet bytes too (the kernel's reg_is_dynptr_slice_pkt).
    forEachReg(this.state, (r) =>
      isPacketKind(r.kind) ||
      r.kind === 'packet_end' ||
      ((r.kind === 'mem' || r.kind === 'mem_or_null') && r.map === PACKET_SLICE_MEM)
        ? this.invalid()
        : undefined,
    );
  }
  /** What a pointer turns into when it is no longer valid (the kernel's mark_reg_invalid). */
  private invalid(): Reg {
    return this.unprivileged ? NOT_INIT : UNKNOWN_SCALAR;
  }

  // ---- the exploration loop ----
  run(): void {
    const main = newFrame(-1, 0, 0);
    main.regs[1] = ptrReg('ctx');
    this.pending.push({
      state: { frames: [main], refs: [], path: undefined },
      pc: 0,
      parent: undefined,
      written: newSlotSet(),
      branch: false,
    });
    for (const [start, params] of this.opts.globalFunctions) {
      if (!params) {
        throw new Reject(
          start,
          'unsupported',
          `global function at ${start} has a parameter type the kernel does not accept (numbers and pointers to sized types only); make it static`,
        );
      }
      const f = newFrame(-1, start, 0);
      params.forEach((p, i) => {
        f.regs[i + 1] =
          p.kind === 'scalar'
            ? UNKNOWN_SCALAR
            : p.struct === this.type.ctx.struct
              ? ptrReg('ctx')
              : ptrReg('mem_or_null', { size: p.size, id: this.newId() });
      });
      this.pending.push({
        state: { frames: [f], refs: [], path: undefined },
        pc: start,
        parent: undefined,
        written: newSlotSet(),
        branch: false,
      });
    }
    while (this.pending.length) {
      const p = this.pending.pop()!;
      if (p.branch) this.branchesPending--;
      this.state = p.state;
      this.writtenNow = p.written;
      let pc = p.pc;
      let parent = p.parent;
      for (;;) {
        // As the kernel counts: every instruction reached, the one where a path is pruned included.
        if (++this.processed > this.opts.maxInsns) this.tooManyInsns(pc);
        if ((this.processed & (CLOCK_EVERY - 1)) === 0) this.checkClock(pc);
        if (this.cfg.prunePoint[pc]) {
          const cp = this.checkpoint(pc, parent);
          if (cp === false) {
            if (this.opts.logLevel >= 2) this.log(`${pc}: safe (pruned)`);
            finishPath(parent);
            break;
          }
          parent = cp;
        }
        if (this.opts.logLevel >= 2)
          this.log(`${pc}: ${disasm(this.insns, pc)}    ; ${regsToString(this.frame, this.structName)}`);
        this.parentNow = parent;
        const next = this.step(pc, parent);
        if (next < 0) {
          finishPath(parent);
          break;
        }
        pc = next;
      }
    }
    const calls = new Map<number, Set<number>>();
    this.insns.forEach((ins, i) => {
      if (this.cfg.secondHalf[i] || !isLocalCall(ins)) return;
      const from = this.cfg.owner[i]!;
      if (!calls.has(from)) calls.set(from, new Set());
      calls.get(from)!.add(i + 1 + ins.imm);
    });
    checkCallChainStack(calls, this.stackDepth);
  }

  private tooManyInsns(pc: number): never {
    const n = this.opts.maxInsns;
    throw new Reject(
      pc,
      'too_complex',
      `the program is too complex: more than ${n} instructions processed without finishing (an unbounded loop, or too many paths; the kernel says "BPF program is too large. Processed ${n + 1} insn")`,
    );
  }

  private checkClock(pc: number): void {
    const ms = performance.now() - this.opts.startedAt;
    if (ms <= this.opts.timeLimitMs) return;
    throw new Reject(
      pc,
      'too_complex',
      `the program is too complex: gave up after ${Math.round(ms)} ms (the time limit is ${this.opts.timeLimitMs} ms) with ${this.processed} instructions processed; the kernel has no time limit, so it may still load there`,
    );
  }

  /** Queue a path; the kernel's push_stack, with its limit on the branches waiting at once. */
  private push(p: Pending, at: number): void {
    this.pending.push(p);
    if (++this.branchesPending > MAX_PENDING_BRANCHES) {
      const n = this.branchesPending;
      throw new Reject(
        at,
        'too_complex',
        `the program is too complex: ${n} branches wait to be explored at once, more than ${MAX_PENDING_BRANCHES} (a loop leaves one side of a branch for later on every iteration; the kernel says "The sequence of ${n} jumps is too complex.")`,
      );
    }
  }

  private log(line: string): void {
    if (this.trace.length < MAX_TRACE_LINES) this.trace.push(line);
  }

  /** Compare with remembered states at a prune point; false = pruned, else the path's (new) checkpoint. */
  private checkpoint(pc: number, parent: Checkpoint | undefined): Checkpoint | undefined | false {
    const cur = this.state;
    const low = (subprog: number) => STACK_SIZE - (this.stackDepth.get(subprog) ?? 0);
    const liveAt = (i: number) => {
      if (i === cur.frames.length - 1) return this.live[pc]!;
      const site = cur.frames[i + 1]!.callsite + 1;
      return (this.live[site] ?? 0) & 0b1111000000; // r6-r9 survive the call; r0-r5 are redefined
    };
    const list = this.explored.list(pc);
    let inProgress = 0;
    for (let k = list.length - 1; k >= 0; k--) {
      const old = list[k]!;
      if (old.branches === 0) {
        if (stateSafe(old.state, cur, liveAt, false, low, this.opts.allowUninitStack, old.read)) {
          // This path continues as the old one did: it reads what the old one's future read.
          this.parentNow = parent;
          for (let w = 0; w < old.read.length; w++) {
            for (let bits = old.read[w]!; bits; bits &= bits - 1) {
              const slot = ((w & 1) << 5) | (31 - Math.clz32(bits & -bits));
              this.markRead(w >> 1, slot);
            }
          }
          return false;
        }
        // A loop that repeats a state exactly repeats it every iteration: the newest few suffice.
      } else if (
        ++inProgress <= 4 &&
        // An iterator's next call: an equal state there is the loop converging (./iter.ts), not an endless loop.
        !isIterNext(this.insns[pc]!, this.opts.kfuncs) &&
        stateSafe(old.state, cur, liveAt, true, low, false) &&
        !iterDepthsDiffer(old.state, cur)
      ) {
        // Entering a bpf_loop callback again in a state seen before adds nothing new: the earlier
        // exploration covers it, and the helper bounds the number of calls.
        const f = curFrame(cur);
        if (f.callback && pc === f.subprog) {
          // The earlier exploration is not finished, so what it reads is not known yet: everything.
          for (let cp = parent; cp; cp = cp.parent) cp.read.fill(0xffffffff);
          return false;
        }
        // The same state in a later call of a callback: the helper's loop going round (bounded by it).
        if (!sameCallbackCalls(old.state, cur)) continue;
        throw new Reject(
          pc,
          'infinite_loop',
          `infinite loop: instruction ${pc} is reached again with exactly the same state, so the loop never ends`,
        );
      }
    }
    // Like the kernel, remember a new state only every few instructions: comparing is cheap, storing is not.
    // A callback's entry always: its next call in the same state is pruned there.
    const top = curFrame(cur);
    const entry = top.callback !== undefined && pc === top.subprog;
    // As the kernel does (is_state_visited): a new state only after 2 jumps and 8 instructions, and inside
    // a loop (a state here is still being explored), where iterations differ and rarely prune one another,
    // only after 20 jumps or 100 instructions: a loop keeps at most one state per 8 to 100 processed.
    const insns = this.processed - this.lastSaved;
    const jumps = this.jumps - this.jumpsAtSave;
    const due = insns >= 8 && jumps >= 2 && (inProgress === 0 || insns >= 100 || jumps >= 20);
    if (!due && !entry) return parent;
    if (this.explored.count >= this.opts.maxStates) {
      throw new Reject(
        pc,
        'too_complex',
        `the program is too complex: more than ${this.opts.maxStates} states kept for pruning after ${this.processed} instructions processed (the limit on the verifier's memory, maxStates)`,
      );
    }
    this.lastSaved = this.processed;
    this.jumpsAtSave = this.jumps;
    const cp: Checkpoint = {
      state: cloneState(cur),
      pc,
      branches: 1,
      parent,
      written: this.writtenNow,
      read: newSlotSet(),
    };
    this.writtenNow = newSlotSet();
    this.explored.add(cp);
    return cp;
  }

  /**
   * A path reads stack slot `slot` of frame `frame`: unless it wrote the slot since its last checkpoint,
   * the checkpoints above it depend on the slot's content, up to the one before which the path wrote it.
   */
  markRead(frame: number, slot: number): void {
    const w = slotWord(frame, slot);
    const bit = slotBit(slot);
    if (this.writtenNow[w]! & bit) return;
    for (let cp = this.parentNow; cp; cp = cp.parent) {
      if (cp.read[w]! & bit) return; // marked before, and so were the ones above it
      cp.read[w]! |= bit;
      if (cp.written[w]! & bit) return;
    }
  }

  /** A path wrote all 8 bytes of a stack slot: later reads do not see older contents. */
  markWritten(frame: number, slot: number): void {
    this.writtenNow[slotWord(frame, slot)]! |= slotBit(slot);
  }

  /** Simulate one instruction; returns the next slot, or -1 when the path ends. */
  private step(pc: number, parent: Checkpoint | undefined): number {
    const ins = this.insns[pc]!;
    if (!this.fieldsChecked[pc]) {
      const why = !checkedUpFront(ins) && reservedFields(ins);
      if (why) throw new Reject(pc, 'reserved_fields', why);
      this.fieldsChecked[pc] = 1;
    }
    const cls = classOf(ins.code);
    switch (cls) {
      case Class.ALU:
      case Class.ALU64:
        this.alu(pc, ins, cls === Class.ALU64);
        return pc + 1;
      case Class.LDX:
        this.load(pc, ins);
        return pc + 1;
      case Class.ST:
      case Class.STX:
        this.store(pc, ins, cls === Class.STX);
        return pc + 1;
      case Class.LD:
        if (ins.code === LDDW) {
          this.lddw(pc, ins);
          return pc + 2;
        }
        this.ldAbs(pc, ins);
        return pc + 1;
      default:
        this.jumps++;
        return this.jmp(pc, ins, cls === Class.JMP32, parent);
    }
  }

  // ---- ALU ----
  private alu(pc: number, ins: Insn, alu64: boolean): void {
    const op = ins.code & OP_MASK;
    const x = (ins.code & 0x08) !== 0;
    if (ins.dst === FRAME_POINTER)
      throw new Reject(pc, 'write_fp', 'R10 is the read-only frame pointer and cannot be written');
    if (op === AluOp.END) {
      const d = this.read(ins.dst, pc);
      if (isPointer(d)) this.pointerLeak(pc, ins.dst, 'byte swap');
      const bits = ins.imm;
      if (![16, 32, 64].includes(bits)) throw new Reject(pc, 'bad_insn', `invalid byte swap width ${bits}`);
      const toLe = !alu64 && !x;
      let s: Scalar;
      if (toLe) s = bits === 64 ? d.s : scalarAlu(AluOp.AND, d.s, constant((1n << BigInt(bits)) - 1n), true);
      else if (isConstScalar(d.s)) s = constant(bswap(d.s.var.value, bits));
      else s = unknownOfSize(bits / 8);
      this.write(ins.dst, scalarReg(s), pc);
      return;
    }
    if (op === AluOp.MOV) {
      this.mov(pc, ins, alu64, x);
      return;
    }
    if ((op === AluOp.DIV || op === AluOp.MOD) && !x && ins.imm === 0)
      throw new Reject(pc, 'div_zero', 'division by the constant zero');
    if (
      (op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) &&
      !x &&
      (ins.imm < 0 || ins.imm >= (alu64 ? 64 : 32))
    ) {
      throw new Reject(
        pc,
        'bad_shift',
        `shift by ${ins.imm} is out of range for a ${alu64 ? 64 : 32}-bit operation`,
      );
    }
    if (op === AluOp.NEG && x) throw new Reject(pc, 'bad_insn', 'neg with a source register');
    const d = this.read(ins.dst, pc);
    const s = op === AluOp.NEG ? constReg(0n) : x ? this.read(ins.src, pc) : constReg(BigInt(ins.imm));
    if (!isPointer(d) && !isPointer(s)) {
      this.write(ins.dst, scalarReg(scalarAlu(op, d.s, s.s, alu64, ins.off)), pc);
      return;
    }
    this.write(ins.dst, this.ptrAlu(pc, ins, op, alu64, d, s), pc);
  }

  private mov(pc: number, ins: Insn, alu64: boolean, x: boolean): void {
    if (!x) {
      this.write(ins.dst, constReg(alu64 ? BigInt(ins.imm) : BigInt(ins.imm >>> 0)), pc);
      return;
    }
    let s = this.read(ins.src, pc);
    if (ins.off !== 0) {
      if (![8, 16, 32].includes(ins.off) || (!alu64 && ins.off === 32))
        throw new Reject(pc, 'bad_insn', `invalid movsx width ${ins.off}`);
      if (isPointer(s)) this.pointerLeak(pc, ins.src, 'sign extension');
      const r = signExtend(s.s, (ins.off / 8) as 1 | 2 | 4);
      this.write(ins.dst, scalarReg(alu64 ? r : zext32(r)), pc);
      return;
    }
    if (!alu64) {
      if (isPointer(s)) {
        this.pointerLeak(pc, ins.src, 'a 32-bit copy');
        this.write(ins.dst, scalarReg(zext32(UNKNOWN_SCALAR.s)), pc);
        return;
      }
      this.write(ins.dst, scalarReg(zext32(s.s)), pc);
      return;
    }
    if (s.kind === 'scalar' && !isConstScalar(s.s) && s.id === 0) {
      // Link the copies so that a comparison on one refines the other.
      s = withId(s, this.newId());
      this.frame.regs[ins.src] = s;
    }
    this.write(ins.dst, s, pc);
  }

  /** Turning a pointer into a number: allowed privileged (a kernel address leak), not unprivileged. */
  private pointerLeak(pc: number, regno: number, what: string): void {
    if (this.unprivileged)
      throw new Reject(
        pc,
        'ptr_leak',
        `R${regno} holds a pointer: ${what} of a pointer would leak a kernel address`,
      );
  }

  private ptrAlu(pc: number, ins: Insn, op: number, alu64: boolean, d: Reg, s: Reg): Reg {
    const dst = ins.dst;
    if (!alu64) {
      if (op === AluOp.SUB && !this.unprivileged) return scalarReg(zext32(UNKNOWN_SCALAR.s));
      throw new Reject(pc, 'ptr_alu32', `R${dst}: 32-bit arithmetic on a pointer is not allowed`);
    }
    if (isPointer(d) && isPointer(s)) {
      if (op === AluOp.SUB && !this.unprivileged) return UNKNOWN_SCALAR;
      throw new Reject(
        pc,
        'ptr_ptr',
        `R${dst}: ${op === AluOp.SUB ? 'subtracting' : 'combining'} two pointers (${regToString(d, this.structName)}, ${regToString(s, this.structName)}) is not allowed`,
      );
    }
    const opName = ALU_NAMES[op] ?? `op 0x${op.toString(16)}`;
    if (op === AluOp.AND || op === AluOp.OR || op === AluOp.XOR) {
      throw new Reject(pc, 'ptr_op', `R${dst}: bitwise ${opName} on a pointer is not allowed`);
    }
    if (op !== AluOp.ADD && op !== AluOp.SUB)
      throw new Reject(
        pc,
        'ptr_op',
        `R${dst}: ${opName} on a pointer is not allowed (only adding or subtracting a number)`,
      );
    // The kernel forbids any subtraction from a stack pointer (JITs may not handle it).
    if (op === AluOp.SUB && d.kind === 'stack')
      throw new Reject(
        pc,
        'ptr_op',
        `R${dst}: subtracting from a stack pointer is not allowed; add a negative number instead`,
      );
    if (op === AluOp.SUB && !isPointer(d))
      throw new Reject(pc, 'ptr_op', `R${dst}: subtracting a pointer from a number is not allowed`);
    const ptr = isPointer(d) ? d : s;
    const num = isPointer(d) ? s : d;
    if (isNullable(ptr.kind)) {
      throw new Reject(
        pc,
        'null_arith',
        `R${dst}: arithmetic on a pointer that may be NULL (${regToString(ptr, this.structName)}); check it against 0 first`,
      );
    }
    const known = isConstScalar(num.s);
    const okKinds = ['ctx', 'stack', 'packet', 'packet_meta', 'map_value', 'mem', 'btf_ptr'];
    if (
      !okKinds.includes(ptr.kind) &&
      !(ptr.kind === 'map_ptr' && known && num.s.var.value === 0n && op === AluOp.ADD)
    ) {
      throw new Reject(
        pc,
        'ptr_op',
        `R${dst}: arithmetic on ${regToString(ptr, this.structName)} is not allowed`,
      );
    }
    if (known) {
      const c = Number(BigInt.asIntN(64, num.s.var.value));
      const off = op === AluOp.ADD ? ptr.off + c : ptr.off - c;
      if (Math.abs(c) >= MAX_VAR_OFF || Math.abs(off) >= MAX_VAR_OFF) {
        throw new Reject(
          pc,
          'ptr_range',
          `R${dst}: adding ${c} moves the pointer out of any possible region`,
        );
      }
      return withOff(ptr, off);
    }
    if (
      num.s.smin === -(1n << 63n) ||
      num.s.smin <= -BigInt(MAX_VAR_OFF) ||
      num.s.smin >= BigInt(MAX_VAR_OFF)
    ) {
      throw new Reject(
        pc,
        'unbounded',
        `R${dst}: adding a number with no lower bound (${regToString(num, this.structName)}) to ${regToString(ptr, this.structName)} is not allowed; bound it first`,
      );
    }
    if (this.unprivileged && ptr.kind === 'stack') {
      throw new Reject(
        pc,
        'var_stack',
        `R${dst}: variable offsets into the stack are not allowed unprivileged`,
      );
    }
    const v = scalarAlu(op, ptr.s, num.s, true);
    const out = withScalar(ptr, v);
    return isPacketKind(ptr.kind) ? withRange(withId(out, this.newId()), 0, -1) : out;
  }

  // ---- loads and stores ----
  private load(pc: number, ins: Insn): void {
    const mode = ins.code & MODE_MASK;
    if (mode !== Mode.MEM && mode !== Mode.MEMSX) throw new Reject(pc, 'bad_insn', 'unknown load mode');
    const size = SIZE_BYTES[ins.code & SIZE_MASK]!;
    const p = this.read(ins.src, pc);
    if (ins.dst === FRAME_POINTER)
      throw new Reject(pc, 'write_fp', 'R10 is the read-only frame pointer and cannot be written');
    let r = memAccess(this, pc, ins.src, p, ins.off, size, false);
    samePointerKind(this, pc, p);
    if (mode === Mode.MEMSX && size < 8) {
      if (isPointer(r)) throw new Reject(pc, 'bad_insn', 'sign-extending load of a pointer');
      r = scalarReg(signExtend(r.s, size as 1 | 2 | 4));
    }
    this.write(ins.dst, r, pc);
  }

  private store(pc: number, ins: Insn, stx: boolean): void {
    const mode = ins.code & MODE_MASK;
    const size = SIZE_BYTES[ins.code & SIZE_MASK]!;
    const p = this.read(ins.dst, pc);
    if (stx && mode === Mode.ATOMIC) {
      this.atomic(pc, ins, p, size);
      return;
    }
    if (mode !== Mode.MEM) throw new Reject(pc, 'bad_insn', 'unknown store mode');
    if (stx) memAccess(this, pc, ins.dst, p, ins.off, size, true, this.read(ins.src, pc));
    else memAccess(this, pc, ins.dst, p, ins.off, size, true, undefined, ins.imm);
    samePointerKind(this, pc, p);
  }

  private atomic(pc: number, ins: Insn, p: Reg, size: number): void {
    const v = this.read(ins.src, pc);
    if (size !== 4 && size !== 8) throw new Reject(pc, 'bad_insn', 'atomic operations are 4 or 8 bytes');
    if (p.kind === 'ctx' || isPacketKind(p.kind))
      throw new Reject(pc, 'atomic_region', `atomic operations on ${p.kind} memory are not allowed`);
    if (p.kind === 'mem' && p.map === FLOW_KEYS_MEM)
      throw new Reject(pc, 'atomic_region', 'atomic operations on the flow keys are not allowed');
    // A pointer as the operand leaks an address into memory: refused unprivileged only, as the kernel.
    if (isPointer(v) && this.unprivileged)
      throw new Reject(pc, 'ptr_leak', `R${ins.src}: atomic operations on pointers are not allowed`);
    // Atomics are always checked for alignment, on every kind of memory (strict, as the kernel does;
    // the stack's own check, with its message, comes with the access below).
    const low = BigInt(size - 1);
    const fixed = BigInt(p.off + ins.off);
    const aligned = (p.s.var.mask & low) === 0n && ((p.s.var.value + fixed) & low) === 0n;
    if (p.kind !== 'stack' && !aligned) {
      throw new Reject(
        pc,
        'misaligned',
        `misaligned atomic access: ${size} bytes at ${regToString(p, this.structName)}${ins.off >= 0 ? '+' : ''}${ins.off} (must be ${size}-byte aligned)`,
      );
    }
    const fetch = (ins.imm & 1) !== 0;
    const cmpxchg = ins.imm === 0xf1;
    if (cmpxchg) this.read(0, pc);
    // An atomic op reads and then writes the location.
    const old = memAccess(this, pc, ins.dst, p, ins.off, size, false);
    if (isPointer(old)) throw new Reject(pc, 'atomic_region', 'atomic operation on a saved pointer');
    memAccess(this, pc, ins.dst, p, ins.off, size, true, UNKNOWN_SCALAR);
    // The fetched value is what the location held (a constant spilled on the stack stays known, as in
    // the kernel, whose atomic load reads the slot like any load).
    const loaded = old.kind === 'scalar' ? old : scalarReg(unknownOfSize(size));
    if (cmpxchg) this.write(0, loaded, pc);
    else if (fetch) this.write(ins.src, loaded, pc);
  }

  private lddw(pc: number, ins: Insn): void {
    const dst = ins.dst;
    switch (ins.src) {
      case PseudoLddw.IMM64:
        this.write(dst, constReg(lddwValue(this.insns, pc)), pc);
        return;
      case PseudoLddw.MAP_FD:
      case PseudoLddw.MAP_IDX:
      case PseudoLddw.MAP_VALUE:
      case PseudoLddw.MAP_IDX_VALUE: {
        const m = this.maps[ins.imm];
        if (!m)
          throw new Reject(
            pc,
            'bad_map',
            `map reference ${ins.imm} is not in the program's map list (${this.maps.length} maps)`,
          );
        if (ins.src === PseudoLddw.MAP_FD || ins.src === PseudoLddw.MAP_IDX) {
          this.write(dst, ptrReg('map_ptr', { map: ins.imm }), pc);
          return;
        }
        const off = this.insns[pc + 1]!.imm;
        if (m.type !== MapType.ARRAY || m.maxEntries !== 1) {
          throw new Reject(
            pc,
            'bad_map',
            `direct value access needs a single-element array map; '${m.name}' is not one`,
          );
        }
        if (off < 0 || off >= m.valueSize)
          throw new Reject(
            pc,
            'bad_map',
            `offset ${off} is outside the ${m.valueSize}-byte value of '${m.name}'`,
          );
        this.write(dst, ptrReg('map_value', { map: ins.imm, off }), pc);
        return;
      }
      case PseudoLddw.FUNC:
        this.write(dst, ptrReg('func', { target: pc + 1 + ins.imm }), pc);
        return;
      case PseudoLddw.BTF_ID:
        this.write(dst, typedKsym(this, pc, this.opts.ksyms?.[ins.imm]), pc);
        return;
      default:
        throw new Reject(
          pc,
          'unsupported',
          `lddw with src ${ins.src} (kernel BTF variables) is not supported`,
        );
    }
  }

  /** Legacy packet loads (LD_ABS/LD_IND): r6 must be the skb context; r0 gets the bytes; r1-r5 clobbered. */
  private ldAbs(pc: number, ins: Insn): void {
    if (!['socket_filter', 'sched_cls', 'sched_act'].includes(this.type.name)) {
      throw new Reject(
        pc,
        'ld_abs',
        `legacy packet loads (LD_ABS/LD_IND) are not allowed in ${this.type.name} programs`,
      );
    }
    const size = SIZE_BYTES[ins.code & SIZE_MASK]!;
    if ((ins.code & SIZE_MASK) === Size.DW)
      throw new Reject(pc, 'bad_insn', 'LD_ABS/LD_IND of 8 bytes does not exist');
    const r6 = this.read(6, pc);
    if (r6.kind !== 'ctx') throw new Reject(pc, 'ld_abs', 'LD_ABS/LD_IND need the context pointer in R6');
    if ((ins.code & MODE_MASK) === Mode.IND && this.read(ins.src, pc).kind !== 'scalar') {
      throw new Reject(pc, 'ld_abs', `R${ins.src} (the LD_IND offset) must be a number`);
    }
    if (this.state.refs.length)
      throw new Reject(pc, 'ref_leak', 'LD_ABS/LD_IND may exit the program while ringbuf memory is held');
    if (this.state.lock)
      throw new Reject(
        pc,
        'lock_held',
        `LD_ABS/LD_IND while holding the bpf_spin_lock taken at ${this.where(this.state.lock.at)}: the load may end the program`,
      );
    for (let r = 1; r <= 5; r++) this.frame.regs[r] = NOT_INIT;
    this.frame.regs[0] = scalarReg(unknownOfSize(size));
  }

  // ---- jumps, calls, exit ----
  private jmp(pc: number, ins: Insn, jmp32: boolean, parent: Checkpoint | undefined): number {
    const op = ins.code & OP_MASK;
    if (op === JmpOp.JA) return jumpTarget(ins, pc);
    if (op === JmpOp.CALL) {
      if (isLocalCall(ins)) {
        const target = pc + 1 + ins.imm;
        const global = this.opts.globalFunctions.get(target);
        return global ? callGlobal(this, pc, target, global) : callLocal(this, pc, target);
      }
      if (ins.src === PseudoCall.KFUNC) {
        const gpl = this.opts.license === undefined || gplCompatible(this.opts.license);
        const go = callKfunc(this, pc, this.opts.kfuncs?.[ins.imm], {
          sleepable: this.opts.sleepable ?? false,
          gpl,
        });
        return go ? pc + 1 : -1;
      }
      if (ins.src === 0) this.checkLicenceAndSleep(pc, ins.imm);
      if (ins.src === 0 && ins.imm === KPTR_XCHG && this.helper(KPTR_XCHG)) kptrXchg(this, pc);
      else if (ins.src === 0 && PER_CPU_PTR.has(ins.imm) && this.helper(ins.imm))
        perCpuPtr(this, pc, ins.imm);
      else callHelper(this, pc, ins.imm);
      return pc + 1;
    }
    if (isExit(ins)) return this.exit(pc);
    const x = (ins.code & 0x08) !== 0;
    const d = this.read(ins.dst, pc);
    const s = x ? this.read(ins.src, pc) : constReg(BigInt(ins.imm));
    const target = jumpTarget(ins, pc);
    if (d.kind === 'scalar' && s.kind === 'scalar') {
      // Decide feasibility first so that a decided branch costs no copy of the state.
      const t = refine(op, d.s, s.s, jmp32);
      const f =
        op === JmpOp.JSET ? refine(op, d.s, s.s, jmp32, true) : refine(negateJmp(op), d.s, s.s, jmp32);
      const apply = (st: State, r: [Scalar, Scalar]) => {
        this.setScalar(st, ins.dst, r[0]);
        if (x) this.setScalar(st, ins.src, r[1]);
      };
      if (t && f) {
        const taken = cloneState(this.state);
        apply(taken, t);
        apply(this.state, f);
        return this.forkBranch(pc, target, taken, parent);
      }
      if (t) {
        apply(this.state, t);
        return target;
      }
      if (f) {
        apply(this.state, f);
        return pc + 1;
      }
      return -1;
    }
    const taken = cloneState(this.state);
    const fall = this.state;
    const [tOk, fOk] = this.branch(pc, ins, op, jmp32, x, d, s, taken, fall);
    if (tOk && fOk) return this.forkBranch(pc, target, taken, parent);
    if (tOk) {
      this.state = taken;
      return target;
    }
    if (fOk) return pc + 1;
    return -1; // neither side can happen: this path is dead
  }

  /**
   * A GPL-only helper called under a licence that is not GPL-compatible: refused once the helper is known
   * to be available to the program type (the kernel's order; the unavailable ones are refused by callHelper).
   */
  private checkLicenceAndSleep(pc: number, id: number): void {
    const license = this.opts.license;
    const gpl = GPL_ONLY_HELPERS.has(id) && license !== undefined && !gplCompatible(license);
    const sleeps = MIGHT_SLEEP_HELPERS.has(id) && !this.opts.sleepable;
    if (!gpl && !sleeps) return;
    const h = this.helper(id);
    if (!h || !helperAllowed(this.type, h)) return;
    if (gpl) {
      throw new Reject(
        pc,
        'gpl_only',
        `${h.name} (#${id}) may only be called by GPL-compatible programs, and ${license === '' ? 'the object has no license section (loaded, as libbpf loads it, with an empty licence)' : `the licence is '${license}'`} (the kernel says "cannot call GPL-restricted function from non-GPL compatible program")`,
      );
    }
    throw new Reject(
      pc,
      'might_sleep',
      `${h.name} (#${id}) may sleep: only sleepable programs may call it (a '.s' section such as fentry.s/ or uprobe.s/, or a syscall program)`,
    );
  }

  /** Queue another path (a bpf_loop callback call, made at `at`) that starts at `pc` in state `st`. */
  fork(st: State, pc: number, at: number): void {
    if (this.parentNow) this.parentNow.branches++;
    this.push({ state: st, pc, parent: this.parentNow, written: this.writtenNow.slice(), branch: true }, at);
  }

  /** Both sides are possible: continue with the fall-through, queue the taken side. */
  private forkBranch(pc: number, target: number, taken: State, parent: Checkpoint | undefined): number {
    const fall = this.state;
    taken.path = { insn: pc, taken: true, prev: fall.path };
    fall.path = { insn: pc, taken: false, prev: fall.path };
    if (parent) parent.branches++;
    this.push({ state: taken, pc: target, parent, written: this.writtenNow.slice(), branch: true }, pc);
    return pc + 1;
  }

  /** Refine both successor states; returns which of them are feasible. */
  private branch(
    pc: number,
    ins: Insn,
    op: number,
    jmp32: boolean,
    x: boolean,
    d: Reg,
    s: Reg,
    taken: State,
    fall: State,
  ): [boolean, boolean] {
    if (d.kind === 'scalar' && s.kind === 'scalar') {
      const apply = (st: State, r: [Scalar, Scalar] | undefined): boolean => {
        if (!r) return false;
        this.setScalar(st, ins.dst, r[0]);
        if (x) this.setScalar(st, ins.src, r[1]);
        return true;
      };
      const t = op === JmpOp.JSET ? refine(op, d.s, s.s, jmp32) : refine(op, d.s, s.s, jmp32);
      const f =
        op === JmpOp.JSET ? refine(op, d.s, s.s, jmp32, true) : refine(negateJmp(op), d.s, s.s, jmp32);
      return [apply(taken, t), apply(fall, f)];
    }
    // A pointer compared with NULL.
    const zero = (r: Reg) => r.kind === 'scalar' && isConstScalar(r.s) && r.s.var.value === 0n;
    if (!jmp32 && (op === JmpOp.JEQ || op === JmpOp.JNE) && (zero(s) || zero(d))) {
      const p = zero(s) ? d : s;
      if (isNullable(p.kind)) {
        const [isNull, nonNull] = op === JmpOp.JEQ ? [taken, fall] : [fall, taken];
        this.markNull(isNull, p, true);
        this.markNull(nonNull, p, false);
        return [true, true];
      }
      // A kernel struct pointer may still be NULL at run time (the kernel's loads through it are guarded):
      // both sides stay possible, as the kernel explores them.
      if (isPointer(p) && p.kind !== 'func' && p.kind !== 'btf_ptr')
        return op === JmpOp.JEQ ? [false, true] : [true, false];
    }
    // Packet bounds checks: data' against data_end, or meta' against data.
    if (!jmp32 && [JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE].includes(op as 0x20)) {
      const endOf = (k: string) => (k === 'packet' ? 'packet_end' : k === 'packet_meta' ? 'packet' : '');
      let pkt: Reg | undefined;
      let o = op;
      if (isPacketKind(d.kind) && s.kind === endOf(d.kind)) pkt = d;
      else if (isPacketKind(s.kind) && d.kind === endOf(s.kind)) {
        pkt = s;
        o = swapJmp(op);
      }
      if (pkt) {
        // pkt' > end / pkt' >= end: the fall-through side has the bytes; pkt' < end / <= end: the taken side.
        const safe = o === JmpOp.JGT || o === JmpOp.JGE ? fall : taken;
        const strict = o === JmpOp.JGE || o === JmpOp.JLT;
        this.markPacketRange(safe, pkt, strict, pc);
        return [true, true];
      }
    }
    if (isPointer(d) || isPointer(s)) {
      if (this.unprivileged)
        throw new Reject(
          pc,
          'ptr_cmp',
          `comparing pointers (${regToString(d, this.structName)} with ${regToString(s, this.structName)}) is not allowed unprivileged`,
        );
      return [true, true];
    }
    return [true, true];
  }

  /** Set a scalar register and every register linked to it by id (copies share what a branch learned). */
  private setScalar(st: State, regno: number, s: Scalar): void {
    const f = curFrame(st);
    const r = f.regs[regno]!;
    if (r.id !== 0) {
      const id = r.id;
      forEachReg(st, (x) => (x.kind === 'scalar' && x.id === id ? withScalar(x, s) : undefined));
    } else f.regs[regno] = withScalar(r, s);
  }

  private markNull(st: State, p: Reg, isNull: boolean): void {
    const id = p.id;
    // A NULL from an acquiring helper holds nothing to release; a NULL cast (sk_fullsock) leaves its source's.
    if (isNull && p.ref && p.ref === id) st.refs = st.refs.filter((x) => x.id !== p.ref);
    forEachReg(st, (r) => {
      if (r.id !== id || !isNullable(r.kind)) return undefined;
      if (isNull) return constReg(0n);
      const kind = NON_NULL[r.kind] ?? r.kind;
      return withKind(r, kind);
    });
  }

  private markPacketRange(st: State, pkt: Reg, strict: boolean, pc: number): void {
    if (pkt.off < 0 || (pkt.off === 0 && strict)) return;
    if (pkt.s.umax > BigInt(MAX_PACKET_OFF) || pkt.s.umax + BigInt(pkt.off) > BigInt(MAX_PACKET_OFF)) return;
    // pkt' < end (strict) proves one byte more than pkt' <= end, as the kernel counts it.
    const range = strict ? pkt.off + 1 : pkt.off;
    forEachReg(st, (r) =>
      r.kind === pkt.kind && r.id === pkt.id && r.range < range ? withRange(r, range, pc) : undefined,
    );
  }

  private exit(pc: number): number {
    // A static function may return holding the lock (its caller releases it); the program may not.
    if (this.state.lock && this.state.frames.length === 1) {
      throw new Reject(
        pc,
        'lock_held',
        `exit while holding the bpf_spin_lock taken at ${this.where(this.state.lock.at)}: release it with bpf_spin_unlock first`,
      );
    }
    if (this.state.frames.length > 1 || this.frame.callback) return returnToCaller(this, pc);
    // A struct_ops program implementing a void member returns nothing: R0 is not looked at.
    const t = this.btfTarget;
    if (t?.structOps && t.retVoid && this.frame.subprog === 0 && !this.state.refs.length) return -1;
    const r0 = this.read(0, pc);
    if (this.frame.subprog !== 0) {
      // A global function verified on its own: it returns a number to whoever calls it.
      if (r0.kind !== 'scalar') {
        throw new Reject(
          pc,
          'bad_return',
          `a global function must return a number (the kernel checks it on its own), but R0 is ${this.describe(r0)}`,
        );
      }
      return -1;
    }
    if (this.state.refs.length) {
      const r = this.state.refs[0]!;
      throw new Reject(
        pc,
        'ref_leak',
        kfuncRefLeak(this, r.id, this.where(r.at)) ??
          `ringbuf memory reserved at ${this.where(r.at)} is neither submitted nor discarded on this path (reference leak)`,
      );
    }
    const range = this.type.ret;
    if (isPointer(r0)) {
      if (range || this.unprivileged)
        throw new Reject(
          pc,
          'bad_return',
          `the program returns a pointer (${regToString(r0, this.structName)}); ${this.type.name} programs must return a number`,
        );
      return -1;
    }
    // LSM hooks return int: the kernel checks the low 32 bits as a signed value there.
    const [lo, hi] = this.type.ret32 ? [r0.s.s32min, r0.s.s32max] : [r0.s.smin, r0.s.smax];
    if (range && (lo < BigInt(range.min) || hi > BigInt(range.max))) {
      throw new Reject(
        pc,
        'bad_return',
        `${this.type.name}${this.type.attachType && this.type.attachType !== this.type.name ? ` (${this.type.attachType})` : ''} programs must return a value in [${range.min}, ${range.max}]${this.type.ret32 ? ' (as a 32-bit int)' : ''}, but R0 may be ${regToString(r0, this.structName)}`,
      );
    }
    return -1;
  }

  /** The register summary of the current frame, for diagnostics. */
  regsNow(): string {
    return this.state ? regsToString(this.frame, this.structName) : '';
  }
}

const NON_NULL: Partial<Record<Reg['kind'], Reg['kind']>> = {
  btf_ptr_or_null: 'btf_ptr',
  sock_or_null: 'sock',
  sock_common_or_null: 'sock_common',
  map_value_or_null: 'map_value',
  mem_or_null: 'mem',
  map_ptr_or_null: 'map_ptr',
};

const ALU_NAMES: Record<number, string> = {
  [AluOp.MUL]: 'multiplication',
  [AluOp.DIV]: 'division',
  [AluOp.MOD]: 'modulo',
  [AluOp.AND]: 'and',
  [AluOp.OR]: 'or',
  [AluOp.XOR]: 'xor',
  [AluOp.LSH]: 'left shift',
  [AluOp.RSH]: 'right shift',
  [AluOp.ARSH]: 'arithmetic right shift',
  [AluOp.NEG]: 'negation',
};

function bswap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Whether two states are in the same call of every bpf_loop callback on their frame stacks. */
function sameCallbackCalls(a: State, b: State): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) {
    if (a.frames[i]!.callbackCall !== b.frames[i]!.callbackCall) return false;
  }
  return true;
}
