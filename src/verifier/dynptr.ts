// Dynptrs on the verifier's stack: a `struct bpf_dynptr` is 16 bytes in two 8-byte slots of a frame, typed
// Slot.DYNPTR, whose spills both hold one 'dynptr' register (its kind in `size`, `off` 0 in the first slot and
// 8 in the second, its reference in `ref` for a ring-buffer reservation). As the kernel: it is made by a helper
// (bpf_dynptr_from_mem, bpf_ringbuf_reserve_dynptr), used through helpers only (its bytes are neither read
// nor written as numbers), a referenced one is released by submit/discard and cannot be overwritten, and an
// unreferenced one that is overwritten is gone. This file is the one place that knows the representation;
// helper arguments (calls.ts), stack accesses (access.ts) and release (interp.ts) go through it.
// Open-coded iterators (./iter.ts) are stack objects kept the same way: one 8-byte slot of kind ITER_NUM.

import { STACK_SIZE } from '../isa/index.js';
import { Reject } from './cfg.js';
import type { VerifierEnv } from './env.js';
import { isConstScalar } from './ranges.js';
import { DynptrKind, type Frame, ownStack, ptrReg, type Reg, Slot, type State } from './state.js';

/** Bytes of a `struct bpf_dynptr`. */
export const DYNPTR_SIZE = 16;

const KIND_NAMES: Record<number, string> = {
  [DynptrKind.LOCAL]: 'local',
  [DynptrKind.RINGBUF]: 'ringbuf',
  [DynptrKind.SKB]: 'skb',
  [DynptrKind.XDP]: 'xdp',
};

/** Bytes of a stack object of kind `kind` (a dynptr, or an iterator). */
export const objSize = (kind: number): number => (kind === DynptrKind.ITER_NUM ? 8 : DYNPTR_SIZE);
const objName = (kind: number): string => (kind === DynptrKind.ITER_NUM ? 'iterator' : 'dynptr');

/** The stack byte index (in frame `frame`) of the stack object a pointer argument points at, checked. */
export function slotOf(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  kind = 0,
): { frame: Frame; frameNo: number; idx: number } {
  const name = objName(kind);
  const size = objSize(kind);
  if (r.kind !== 'stack')
    throw new Reject(
      pc,
      'bad_arg',
      `R${regno} must point to a ${kind === DynptrKind.ITER_NUM ? 'struct bpf_iter_num' : 'struct bpf_dynptr'} on the stack, but it is ${v.describe(r)}`,
    );
  if (!isConstScalar(r.s))
    throw new Reject(pc, 'bad_arg', `R${regno}: a ${name} has to be at a constant offset of the stack`);
  const at = r.off + Number(BigInt.asIntN(64, r.s.var.value));
  if (at % 8 !== 0)
    throw new Reject(pc, 'bad_arg', `R${regno}: a ${name} must be 8-byte aligned on the stack (fp${at})`);
  if (at < -STACK_SIZE || at + size > 0)
    throw new Reject(
      pc,
      'stack_bounds',
      `R${regno}: the ${size}-byte ${name} at fp${at} does not fit in the ${STACK_SIZE}-byte frame`,
    );
  return { frame: v.state.frames[r.frame]!, frameNo: r.frame, idx: at + STACK_SIZE };
}

/** The stack object register at byte `idx` of `f` (any of its slots), or undefined. */
export function dynptrAt(f: Frame, idx: number): { start: number; d: Reg } | undefined {
  if (f.slots[idx] !== Slot.DYNPTR) return undefined;
  const d = f.spills[idx >> 3];
  if (d?.kind !== 'dynptr') return undefined;
  return { start: (idx & ~7) - d.off, d };
}

/** Forget the stack object of `size` bytes starting at byte `start` of frame `f` (its bytes become unwritten). */
function destroy(v: VerifierEnv, frameNo: number, f: Frame, start: number, size: number): void {
  const o = ownStack(f);
  o.slots.fill(Slot.INVALID, start, start + size);
  for (let s = start >> 3; s < (start + size) >> 3; s++) {
    o.spills[s] = undefined;
    v.markWritten(frameNo, s);
  }
}

/**
 * Bytes [idx, idx+size) of a frame are about to be written (by a store, or by a helper when `helper`): a
 * referenced dynptr there cannot be overwritten (it would never be released); an unreferenced one is
 * destroyed by a store; a helper may not write into one at all.
 */
export function guardDynptrWrite(
  v: VerifierEnv,
  pc: number,
  frameNo: number,
  idx: number,
  size: number,
  helper = false,
): void {
  const f = v.state.frames[frameNo]!;
  for (let b = idx; b < idx + size; b++) {
    const at = dynptrAt(f, b);
    if (!at) continue;
    const where = `fp${at.start - STACK_SIZE}`;
    const name = objName(at.d.size);
    if (helper)
      throw new Reject(
        pc,
        'dynptr_write',
        `the helper would write into the ${name} at ${where}, which is not allowed`,
      );
    if (at.d.ref)
      throw new Reject(
        pc,
        'dynptr_overwrite',
        at.d.size === DynptrKind.ITER_NUM
          ? `this overwrites the iterator at ${where}, which must be destroyed first (bpf_iter_num_destroy)`
          : `this overwrites the referenced dynptr at ${where} (a ring-buffer reservation that must be submitted or discarded first)`,
      );
    destroy(v, frameNo, f, at.start, objSize(at.d.size));
  }
}

/** Bytes [idx, idx+size) of a frame are read as data: a dynptr's bytes cannot be. */
export function guardDynptrRead(
  v: VerifierEnv,
  pc: number,
  frameNo: number,
  idx: number,
  size: number,
): void {
  const f = v.state.frames[frameNo]!;
  for (let b = idx; b < idx + size; b++) {
    const at = dynptrAt(f, b);
    if (at)
      throw new Reject(
        pc,
        'dynptr_read',
        `reads the bytes of the ${objName(at.d.size)} at fp${at.start - STACK_SIZE} as data; it is used through ${at.d.size === DynptrKind.ITER_NUM ? 'its kfuncs' : 'helpers'} only`,
      );
  }
}

/**
 * A helper initialises the dynptr at the stack pointer in `r` (the kernel's MEM_UNINIT dynptr argument): a
 * referenced dynptr there may not be replaced; the new one has kind `kind` and reference `ref` (0: none).
 */
export function initDynptr(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  kind: number,
  ref: number,
  /** An iterator's state (1: active) and depth (./iter.ts). */
  range = 0,
  rangeAt = -1,
): void {
  const size = objSize(kind);
  const { frame, frameNo, idx } = slotOf(v, pc, regno, r, kind);
  guardDynptrWrite(v, pc, frameNo, idx, size);
  const f = ownStack(frame);
  v.noteStack(f.subprog, STACK_SIZE - idx);
  const d = ptrReg('dynptr', { size: kind, ref, id: v.newId(), range, rangeAt });
  f.slots.fill(Slot.DYNPTR, idx, idx + size);
  for (let s = 0; s < size >> 3; s++) {
    f.spills[(idx >> 3) + s] = s ? { ...d, off: 8 * s } : d;
    v.markWritten(frameNo, (idx >> 3) + s);
  }
}

/**
 * The initialised dynptr an argument points to (a stack dynptr, or a dynptr the kernel owns), of `kind` when
 * given; `release` also requires it on the stack (the kernel's OBJ_RELEASE). Returns the dynptr register.
 */
export function useDynptr(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  what: string,
  kind?: number,
  release = false,
): Reg {
  let d: Reg | undefined;
  if (r.kind === 'dynptr_ptr' && !release) d = r;
  else {
    const { frame, frameNo, idx } = slotOf(v, pc, regno, r);
    v.markRead(frameNo, idx >> 3);
    v.markRead(frameNo, (idx >> 3) + 1);
    const at = dynptrAt(frame, idx);
    // An iterator is no dynptr.
    if (at && at.start === idx && at.d.size !== DynptrKind.ITER_NUM) d = at.d;
  }
  if (!d)
    throw new Reject(
      pc,
      'dynptr_uninit',
      `argument ${regno} of ${what} (R${regno}) must point to an initialised dynptr, but it is ${v.describe(r)}${r.kind === 'stack' ? ' (no dynptr there on this path: never made, or already released)' : ''}`,
    );
  if (kind !== undefined && d.size !== kind)
    throw new Reject(
      pc,
      'dynptr_kind',
      `argument ${regno} of ${what} must be a ${KIND_NAMES[kind]} dynptr, but it is a ${KIND_NAMES[d.size] ?? d.size} one`,
    );
  return d;
}

/** A reference was released: every dynptr holding it is gone (its bytes unwritten), in every frame. */
export function forgetDynptrs(s: State, ref: number): void {
  for (const f of s.frames) {
    for (let slot = 0; slot < f.spills.length; slot++) {
      const d = f.spills[slot];
      if (d?.kind !== 'dynptr' || d.ref !== ref || f.slots[slot * 8] !== Slot.DYNPTR) continue;
      const o = ownStack(f);
      o.slots.fill(Slot.INVALID, slot * 8, slot * 8 + 8);
      o.spills[slot] = undefined;
    }
  }
}
