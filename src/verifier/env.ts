// What the checks of memory accesses (access.ts) and calls (calls.ts) need from the abstract interpreter:
// the current state, the program's maps and type, and a few services (fresh ids, forking a path,
// marking stack reads and writes for pruning). The interpreter implements it; the checks import only
// this, so the interpreter can import them without a cycle (the kernel's struct bpf_verifier_env plays
// the same part).

import type { Btf } from '../btf/parse.js';
import type { HelperDef } from '../helpers/types.js';
import type { MapSpec } from '../spec/maps.js';
import type { ProgramType } from '../spec/program-types.js';
import type { BtfTarget } from './btf-ctx.js';
import type { Frame, Reg, State } from './state.js';

export interface VerifierEnv {
  /** The path being simulated. */
  readonly state: State;
  /** Its innermost frame. */
  readonly frame: Frame;
  readonly type: ProgramType;
  /** The kernel's BTF, when the caller gave it (kernel struct pointers are typed by it). */
  readonly kernelBtf: Btf | undefined;
  /** The object's own BTF (bpf_obj_new's program-local types), when the caller gave it. */
  readonly objectBtf: Btf | undefined;
  /** For a tracing/lsm program: its attach target's arguments (the context). */
  readonly btfTarget: BtfTarget | undefined;
  /** The program's maps, then the inner maps of map-in-map types (see `innerOf`). */
  readonly maps: readonly MapSpec[];
  /** Outer map index -> index of its inner map spec in `maps`. */
  readonly innerOf: ReadonlyMap<number, number>;
  readonly helper: (id: number) => HelperDef | undefined;
  readonly unprivileged: boolean;
  readonly opts: {
    /** Unwritten stack bytes read as unknown numbers (privileged kernel loads). */
    readonly allowUninitStack: boolean;
    /** The program is loaded sleepable (outside bpf_rcu_read_lock it is not in an RCU read section). */
    readonly sleepable?: boolean;
  };
  /**
   * Stores seen so far by pc: the context field a store writes, or null when the same pc also stores
   * elsewhere (the engines rewrite the stores the kernel converts: vm/ctx-stores.ts).
   */
  readonly ctxStores: Map<number, string | null>;
  /** The kind of pointer each load or store instruction used on the first path through it (samePointerKind). */
  readonly accessKinds: Map<number, Reg['kind']>;
  /** A fresh id (pointer identity for null checks, references, packet ranges). */
  newId(): number;
  /** A register as the log shows it. */
  describe(r: Reg): string;
  /** `line 5` when line info exists, else `insn 12`. */
  where(pc: number): string;
  /** Read register `regno` at `pc`: refuses one not written on this path. */
  read(regno: number, pc: number): Reg;
  /** Acquire a reference (a ring buffer reservation …) at `pc`; returns its id. */
  acquire(pc: number): number;
  /** Release a reference: every pointer into that memory becomes unusable. */
  release(ref: number): void;
  /** A helper may have moved the packet: packet pointers become unusable. */
  invalidatePackets(): void;
  /** Subprogram `subprog` uses `bytes` of its stack frame (for the call chain's 512-byte limit). */
  noteStack(subprog: number, bytes: number): void;
  /** The path reads stack slot `slot` of frame `frame` (for pruning). */
  markRead(frame: number, slot: number): void;
  /** The path writes all of stack slot `slot` of frame `frame` (for pruning). */
  markWritten(frame: number, slot: number): void;
  /** Queue state `st` to be explored from `pc`; `at` is the instruction that forked it. */
  fork(st: State, pc: number, at: number): void;
}
