// The abstract machine state along one path: registers, stack slots per call frame, acquired references.
// Registers are immutable values (replace, never mutate), so copying a state copies arrays, not registers.

import { FRAME_POINTER, STACK_SIZE } from '../isa/index.js';
import { constant, type Scalar, scalarToString, UNKNOWN } from './ranges.js';

export type RegKind =
  | 'not_init'
  | 'scalar'
  | 'ctx'
  | 'stack'
  | 'packet'
  | 'packet_end'
  | 'packet_meta'
  | 'map_value'
  | 'map_value_or_null'
  | 'map_ptr'
  | 'map_ptr_or_null'
  | 'mem'
  | 'mem_or_null'
  | 'func'
  | 'sock_or_null'
  // Sockets the kernel hands over (a context's sk): `sock` reads struct bpf_sock, `sock_common` only the fields
  // every socket has; neither may be written or moved.
  | 'sock'
  | 'sock_common'
  | 'sock_common_or_null'
  // A pointer to a kernel struct typed by the kernel's BTF (the kernel's PTR_TO_BTF_ID): loads through it
  // are checked against the struct's members; `btf` is the struct's type id (0: unknown without BTF).
  | 'btf_ptr'
  | 'btf_ptr_or_null'
  // A dynptr held in two stack slots (only ever a spilled value, never a register): `size` is its kind
  // (DynptrKind), `ref` the reference of a ring-buffer reservation (0: none), `id` its identity.
  | 'dynptr'
  // A pointer to a dynptr the kernel owns (the kernel's CONST_PTR_TO_DYNPTR: a user ring buffer
  // callback's r1): usable by the dynptr helpers that read, never released or overwritten.
  | 'dynptr_ptr';

export interface Reg {
  readonly kind: RegKind;
  /** The value of a scalar, or the variable part of a pointer's offset. */
  readonly s: Scalar;
  /** Fixed byte offset of a pointer from its base. */
  readonly off: number;
  /** Links copies: the NULL check of one applies to all; packet pointers with one id share a range. */
  readonly id: number;
  /** Acquired reference (ringbuf memory) this pointer belongs to, 0 if none. */
  readonly ref: number;
  /** Packet pointers: bytes from the base proven to lie before data_end. */
  readonly range: number;
  /** Instruction of the comparison that proved `range` (-1 if none); for messages. */
  readonly rangeAt: number;
  /** Map index (map_ptr, map_value, map_value_or_null). */
  readonly map: number;
  /** Size of the memory a `mem` pointer points to. */
  readonly size: number;
  /** Frame a stack pointer points into. */
  readonly frame: number;
  /** Subprogram start of a function pointer. */
  readonly target: number;
  /** BTF type id (in the kernel's BTF) of the struct a btf_ptr points to. */
  readonly btf: number;
}

const BASE: Reg = {
  kind: 'not_init',
  s: UNKNOWN,
  off: 0,
  id: 0,
  ref: 0,
  range: 0,
  rangeAt: -1,
  map: -1,
  size: 0,
  frame: 0,
  target: -1,
  btf: 0,
};

export const NOT_INIT: Reg = BASE;
export const UNKNOWN_SCALAR: Reg = { ...BASE, kind: 'scalar' };

/**
 * A register with every field written out: one object shape for all registers, and no object spread, which
 * V8 runs an order of magnitude slower than a literal (`{ ...r, s }` was the verifier's hottest line).
 */
function reg(
  kind: RegKind,
  s: Scalar,
  off: number,
  id: number,
  ref: number,
  range: number,
  rangeAt: number,
  map: number,
  size: number,
  frame: number,
  target: number,
  btf: number,
): Reg {
  return { kind, s, off, id, ref, range, rangeAt, map, size, frame, target, btf };
}

export const scalarReg = (s: Scalar): Reg => reg('scalar', s, 0, 0, 0, 0, -1, -1, 0, 0, -1, 0);
/** `r` with another value (a scalar) or variable offset (a pointer). */
export const withScalar = (r: Reg, s: Scalar): Reg =>
  reg(r.kind, s, r.off, r.id, r.ref, r.range, r.rangeAt, r.map, r.size, r.frame, r.target, r.btf);
/** `r` with another fixed offset. */
export const withOff = (r: Reg, off: number): Reg =>
  reg(r.kind, r.s, off, r.id, r.ref, r.range, r.rangeAt, r.map, r.size, r.frame, r.target, r.btf);
/** `r` with another id. */
export const withId = (r: Reg, id: number): Reg =>
  reg(r.kind, r.s, r.off, id, r.ref, r.range, r.rangeAt, r.map, r.size, r.frame, r.target, r.btf);
/** `r` with another kind (a NULL check's outcome). */
export const withKind = (r: Reg, kind: RegKind): Reg =>
  reg(kind, r.s, r.off, r.id, r.ref, r.range, r.rangeAt, r.map, r.size, r.frame, r.target, r.btf);
/** A packet pointer with a new proven range (and the comparison that proved it). */
export const withRange = (r: Reg, range: number, rangeAt: number): Reg =>
  reg(r.kind, r.s, r.off, r.id, r.ref, range, rangeAt, r.map, r.size, r.frame, r.target, r.btf);
export const constReg = (v: bigint): Reg => scalarReg(constant(v));
/** A pointer of `kind` with a zero offset; fields override. */
export const ptrReg = (kind: RegKind, fields: Partial<Reg> = {}): Reg => ({
  ...BASE,
  kind,
  s: constant(0n),
  ...fields,
});

/** Kinds of dynptr (the kernel's BPF_DYNPTR_TYPE_*, as its bpf_dynptr_kern numbers them). */
// ITER_NUM: not a dynptr but an open-coded bpf_iter_num, an 8-byte stack object kept the same way (./iter.ts).
export const DynptrKind = { LOCAL: 1, RINGBUF: 2, SKB: 3, XDP: 4, ITER_NUM: 5 } as const;
const DYNPTR_KINDS: Record<number, string> = { 1: 'local', 2: 'ringbuf', 3: 'skb', 4: 'xdp', 5: 'iter_num' };

/** `map` of a `mem` pointer to a flow dissector's `bpf_flow_keys` (atomics are refused there). */
export const FLOW_KEYS_MEM = -3;
/** `map` of a `mem` pointer to a writable tracepoint's buffer (constant offsets only). */
export const TP_BUFFER_MEM = -4;
/** `map` of a `mem` pointer to memory programs read only (a for_each_map_elem callback's key). */
export const READONLY_MEM = -5;
/** `map` of a `mem` pointer into a dynptr's data (bpf_dynptr_data): never ring-buffer memory to submit. */
export const DYNPTR_SLICE_MEM = -6;
/**
 * `map` of a `mem` pointer to a read-only slice of an skb or xdp dynptr (bpf_dynptr_slice): the packet's
 * bytes, so a helper that may move the packet invalidates it as it does packet pointers.
 */
export const PACKET_SLICE_MEM = -7;
/** `map` of a `mem` pointer to an object from bpf_obj_new (`btf` its type id in the object's BTF). */
export const ALLOC_MEM = -8;

export const isPointer = (r: Reg): boolean => r.kind !== 'scalar' && r.kind !== 'not_init';
export const isPacketKind = (k: RegKind): boolean => k === 'packet' || k === 'packet_meta';
export const isNullable = (k: RegKind): boolean =>
  k === 'map_value_or_null' ||
  k === 'mem_or_null' ||
  k === 'sock_or_null' ||
  k === 'sock_common_or_null' ||
  k === 'map_ptr_or_null' ||
  k === 'btf_ptr_or_null';

/** Slot byte types, as the kernel's STACK_*. */
export const Slot = { INVALID: 0, MISC: 1, ZERO: 2, SPILL: 3, DYNPTR: 4 } as const;

/**
 * A callback frame (bpf_loop, for_each_map_elem, user_ringbuf_drain, find_vma, a timer's callback): what
 * it gets in r1-r5 on each call, the largest value it may return (the smallest is 0), and whether it runs
 * later on its own (a timer's: the frame is the bottom of a state of its own, with no caller to return to).
 */
export interface CallbackFrame {
  /** The helper that calls it, as the log names it (`bpf_loop`). */
  readonly helper: string;
  readonly args: readonly Reg[];
  readonly retMax: bigint;
  readonly async: boolean;
  /** References held when it was called: it must return holding no more. */
  readonly refs: number;
}

export interface Frame {
  regs: Reg[];
  /** One type per stack byte; byte i is at fp - STACK_SIZE + i. */
  slots: Uint8Array;
  /** Spilled registers, one per 8-byte slot (index (fp-relative offset + 512) / 8). */
  spills: (Reg | undefined)[];
  /** Slot index of the call instruction that created this frame (-1 for the main frame). */
  callsite: number;
  /** Start slot of the subprogram running in this frame. */
  subprog: number;
  /** For a callback frame: who calls it and with what (see CallbackFrame). */
  callback?: CallbackFrame;
  /**
   * For a callback frame: which call of the callback this is on the path (1 = the first). A
   * state that repeats at another call is the helper's bounded loop going round, not an infinite loop
   * (the kernel's callback_depth).
   */
  callbackCall?: number;
  /** `slots` and `spills` may be shared with another state (copy on write: see ownStack). */
  shared: boolean;
}

/** Make a frame's stack arrays its own before changing them (states share them until one writes). */
export function ownStack(f: Frame): Frame {
  if (f.shared) {
    f.slots = f.slots.slice();
    f.spills = f.spills.slice();
    f.shared = false;
  }
  return f;
}

export interface RefState {
  id: number;
  /** Instruction that acquired it. */
  at: number;
}

/** One branch decision on the path that led to the current state (a persistent list, newest first). */
export interface PathNode {
  readonly insn: number;
  readonly taken: boolean;
  readonly prev: PathNode | undefined;
}

/** The bpf_spin_lock a path holds: the map value it is in (map index and the value pointer's id). */
export interface LockState {
  map: number;
  id: number;
  /** Instruction that took it. */
  at: number;
}

export interface State {
  frames: Frame[];
  refs: RefState[];
  path: PathNode | undefined;
  /** The spin lock held, if any. */
  lock?: LockState;
}

export function newFrame(callsite: number, subprog: number, frameNo: number): Frame {
  const regs: Reg[] = Array(11).fill(NOT_INIT);
  regs[FRAME_POINTER] = ptrReg('stack', { frame: frameNo });
  return {
    regs,
    slots: new Uint8Array(STACK_SIZE),
    spills: Array(STACK_SIZE / 8).fill(undefined),
    callsite,
    subprog,
    shared: false,
  };
}

export function cloneState(s: State): State {
  const frames: Frame[] = [];
  for (const f of s.frames) {
    // Most paths write few stack bytes between copies: share the stack until one of them writes.
    f.shared = true;
    const c: Frame = {
      regs: f.regs.slice(),
      slots: f.slots,
      spills: f.spills,
      callsite: f.callsite,
      subprog: f.subprog,
      shared: true,
    };
    if (f.callback) {
      c.callback = f.callback;
      c.callbackCall = f.callbackCall;
    }
    frames.push(c);
  }
  const c: State = { frames, refs: s.refs.slice(), path: s.path };
  if (s.lock) c.lock = s.lock;
  return c;
}

export const curFrame = (s: State): Frame => s.frames[s.frames.length - 1]!;

/** Every register (and spilled register) in every frame, with a setter; for id-wide updates. */
export function forEachReg(s: State, fn: (r: Reg) => Reg | undefined): void {
  for (const f of s.frames) {
    for (let i = 0; i < f.regs.length; i++) {
      const n = fn(f.regs[i]!);
      if (n) f.regs[i] = n;
    }
    for (let i = 0; i < f.spills.length; i++) {
      const r = f.spills[i];
      if (!r) continue;
      const n = fn(r);
      if (n) ownStack(f).spills[i] = n;
    }
  }
}

/**
 * The kernel-like short form of a register, e.g. `pkt(off=14,r=14)`, `scalar(umax=255)`; `structName` names
 * the kernel struct of a btf pointer (`ptr_task_struct(off=0)`, as the kernel writes it).
 */
export function regToString(r: Reg, structName?: (id: number) => string | undefined): string {
  const v = (s: Scalar) => scalarToString(s);
  switch (r.kind) {
    case 'not_init':
      return 'not initialised';
    case 'scalar': {
      const t = v(r.s);
      return /^-?\d+$/.test(t) ? t : `scalar(${t})`;
    }
    case 'ctx':
      return `ctx(off=${r.off})`;
    case 'stack':
      return `fp${r.off}${r.frame ? ` (frame ${r.frame})` : ''}`;
    case 'packet':
    case 'packet_meta': {
      const varPart = r.s.var.mask === 0n && r.s.var.value === 0n ? '' : `,var=${v(r.s)}`;
      return `${r.kind === 'packet' ? 'pkt' : 'pkt_meta'}(${r.id ? `id=${r.id},` : ''}off=${r.off},r=${r.range}${varPart})`;
    }
    case 'packet_end':
      return 'pkt_end';
    case 'map_value':
    case 'map_value_or_null': {
      const varPart = r.s.var.mask === 0n && r.s.var.value === 0n ? '' : `,var=${v(r.s)}`;
      return `${r.kind}(map=${r.map},off=${r.off}${varPart}${r.id ? `,id=${r.id}` : ''})`;
    }
    case 'map_ptr':
    case 'map_ptr_or_null':
      return `${r.kind}(map=${r.map}${r.id ? `,id=${r.id}` : ''})`;
    case 'mem':
    case 'mem_or_null':
      return `${r.kind}(size=${r.size},off=${r.off}${r.ref ? `,ref=${r.ref}` : ''})`;
    case 'func':
      return `func(${r.target})`;
    case 'sock_or_null':
    case 'sock':
    case 'sock_common':
    case 'sock_common_or_null':
      return `${r.kind}${r.id ? `(id=${r.id})` : ''}`;
    case 'btf_ptr':
    case 'btf_ptr_or_null':
      return `${r.kind === 'btf_ptr' ? 'ptr' : 'ptr_or_null'}_${structName?.(r.btf) ?? `btf#${r.btf}`}(off=${r.off}${r.id ? `,id=${r.id}` : ''})`;
    case 'dynptr':
      return `dynptr(${DYNPTR_KINDS[r.size] ?? r.size}${r.ref ? `,ref=${r.ref}` : ''})`;
    case 'dynptr_ptr':
      return `dynptr_ptr(${DYNPTR_KINDS[r.size] ?? r.size})`;
  }
}

/** `R1=ctx(off=0) R10=fp0` for the initialised registers of a frame. */
export function regsToString(f: Frame, structName?: (id: number) => string | undefined): string {
  return f.regs
    .map((r, i) => (r.kind === 'not_init' ? '' : `R${i}=${regToString(r, structName)}`))
    .filter(Boolean)
    .join(' ');
}
