// Open-coded numeric iterators (bpf_iter_num_new / _next / _destroy, what libbpf's bpf_for and bpf_repeat
// expand to). The iterator is an 8-byte stack object kept as dynptrs are (./dynptr.ts: one slot of kind
// ITER_NUM, its `range` 1 while active, 0 once drained, its `rangeAt` the loop iterations the path went
// through, which no state comparison looks at but the endless-loop check); it holds a reference from new to destroy, so one
// never destroyed is a leak at exit and one destroyed is gone (its slot unwritten).
//
// Loops over an iterator converge as the kernel's do (its process_iter_next_call): at each next call the
// path forks into the drained side (r0 NULL, explored first) and the active side (r0 a read-only int, the
// loop body). The verifier does not know how many times the loop runs, so it proves the body for any number
// of iterations: a next call reached in a state some earlier visit of the same call covers (the earlier one
// with the iterator active) adds nothing and ends the path, even though the earlier visit is still being
// explored (its future is the same as ours, by induction on the iterations). To get there, numbers that
// changed since the previous visit of the same iterator become unknown on the active side (the kernel widens
// the imprecise ones; tsbpf tracks no precision, so it widens all that changed: a loop counter compared
// against a bound in the body is re-checked against the bound, which a kernel-accepted loop does).

import { Class, type Insn, JmpOp, MAX_CALL_FRAMES, PseudoCall } from '../isa/index.js';
import type { KfuncRef } from '../spec/object.js';
import { Reject } from './cfg.js';
import { dynptrAt, initDynptr, slotOf } from './dynptr.js';
import type { VerifierEnv } from './env.js';
import { stateSafe } from './pruning.js';
import { scalarEquals } from './ranges.js';
import {
  cloneState,
  constReg,
  DynptrKind,
  NOT_INIT,
  ownStack,
  ptrReg,
  READONLY_MEM,
  type Reg,
  Slot,
  type State,
  UNKNOWN_SCALAR,
} from './state.js';
import { heldOf } from './trust.js';

/** Bytes of a `struct bpf_iter_num`. */
export const ITER_NUM_SIZE = 8;

/** States remembered per next call (a bound on memory: a loop converges within a few visits). */
const MAX_SEEN = 64;

interface Seen {
  readonly state: State;
  /** The iterator's identity (its id on the stack), to find the previous visit of the same loop. */
  readonly iter: number;
}

/** States seen at each next call, per verifier. */
const seenBy = new WeakMap<VerifierEnv, Map<number, Seen[]>>();

function seenAt(v: VerifierEnv, pc: number): Seen[] {
  let m = seenBy.get(v);
  if (!m) {
    m = new Map();
    seenBy.set(v, m);
  }
  let l = m.get(pc);
  if (!l) {
    l = [];
    m.set(pc, l);
  }
  return l;
}

/** Is instruction `ins` a call of bpf_iter_num_next (where a loop comes back in an equal state, and ends)? */
export function isIterNext(ins: Insn, kfuncs: readonly KfuncRef[] | undefined): boolean {
  return (
    ins.code === (Class.JMP | JmpOp.CALL) &&
    ins.src === PseudoCall.KFUNC &&
    kfuncs?.[ins.imm]?.name === 'bpf_iter_num_next'
  );
}

/**
 * Do two states hold an active iterator at the same place with different iteration depths? Then a state
 * seen again exactly is the next iteration of an iterator loop, which ends when the iterator does, and not
 * an endless loop (the kernel's iter_active_depths_differ).
 */
export function iterDepthsDiffer(old: State, cur: State): boolean {
  return old.frames.some((f, i) =>
    f.spills.some((o, s) => {
      const c = cur.frames[i]?.spills[s];
      return (
        o?.kind === 'dynptr' &&
        o.size === DynptrKind.ITER_NUM &&
        o.range === 1 &&
        c?.kind === 'dynptr' &&
        c.size === DynptrKind.ITER_NUM &&
        c.rangeAt !== o.rangeAt
      );
    }),
  );
}

/** bpf_iter_num_new's iterator argument: a stack slot where an active iterator is made, holding a reference. */
export function newIter(v: VerifierEnv, pc: number, regno: number, r: Reg): void {
  const ref = v.acquire(pc);
  heldOf(v).set(ref, 'the bpf_iter_num iterator (bpf_iter_num_new)');
  initDynptr(v, pc, regno, r, DynptrKind.ITER_NUM, ref, 1, 0);
}

/** The iterator an argument points to (initialised, not destroyed): its register, frame and stack byte. */
export function useIter(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  what: string,
): { it: Reg; frameNo: number; idx: number } {
  const { frame, frameNo, idx } = slotOf(v, pc, regno, r, DynptrKind.ITER_NUM);
  v.markRead(frameNo, idx >> 3);
  const at = dynptrAt(frame, idx);
  if (!at || at.start !== idx || at.d.size !== DynptrKind.ITER_NUM)
    throw new Reject(
      pc,
      'iter_uninit',
      `argument ${regno} of ${what} (R${regno}) must point to an initialised bpf_iter_num, but it is ${v.describe(r)}${r.kind === 'stack' ? ' (no iterator there on this path: never made with bpf_iter_num_new, or already destroyed)' : ''} (the kernel: "expected an initialized iter_num")`,
    );
  return { it: at.d, frameNo, idx };
}

/** The registers that matter at a next call: r1 (its argument) and r6-r9 (r0-r5 are redefined by it). */
const liveAtCall = (top: number) => (i: number) => (i === top ? 0b1111000010 : 0b1111000000);

/** Numbers in `cur` that differ from the same register or spilled slot in `prev` become unknown. */
function widen(prev: State, cur: State): void {
  if (prev.frames.length !== cur.frames.length) return;
  const changed = (o: Reg | undefined, c: Reg | undefined) =>
    o?.kind === 'scalar' && c?.kind === 'scalar' && !scalarEquals(o.s, c.s);
  cur.frames.forEach((f, i) => {
    const p = prev.frames[i]!;
    for (let r = 0; r < f.regs.length; r++) if (changed(p.regs[r], f.regs[r])) f.regs[r] = UNKNOWN_SCALAR;
    for (let s = 0; s < f.spills.length; s++) {
      if (f.slots[s * 8] !== Slot.SPILL || p.slots[s * 8] !== Slot.SPILL) continue;
      if (changed(p.spills[s], f.spills[s])) ownStack(f).spills[s] = UNKNOWN_SCALAR;
    }
  });
}

/**
 * A call of bpf_iter_num_next at `pc` (its argument checked here). Returns false when the path ends here
 * (an earlier visit covers it); otherwise the current path goes on with the iterator drained and r0 NULL,
 * and, when the iterator was active, the loop body is queued with r0 a read-only pointer to its int.
 */
export function iterNext(v: VerifierEnv, pc: number, name: string): boolean {
  const { it, frameNo, idx } = useIter(v, pc, 1, v.read(1, pc), name);
  const cur = v.state;
  const seen = seenAt(v, pc);
  const live = liveAtCall(cur.frames.length - 1);
  for (let k = seen.length - 1; k >= 0; k--) {
    const old = seen[k]!.state;
    const oldIt = old.frames[frameNo]?.spills[idx >> 3];
    if (oldIt?.kind !== 'dynptr' || oldIt.size !== DynptrKind.ITER_NUM || oldIt.range !== 1) continue;
    if (stateSafe(old, cur, live, false, () => 0, v.opts.allowUninitStack)) {
      // The earlier visit's future is still being explored: every stack slot may matter to it.
      for (let f = 0; f < Math.min(cur.frames.length, MAX_CALL_FRAMES); f++)
        for (let s = 0; s < 64; s++) v.markRead(f, s);
      return false;
    }
  }
  if (it.range === 1) {
    let prev: Seen | undefined;
    for (let k = seen.length - 1; k >= 0 && !prev; k--) if (seen[k]!.iter === it.id) prev = seen[k];
    if (seen.length >= MAX_SEEN) seen.shift();
    seen.push({ state: cloneState(cur), iter: it.id });
    const body = cloneState(cur);
    if (prev) widen(prev.state, body);
    ownStack(body.frames[frameNo]!).spills[idx >> 3] = { ...it, rangeAt: it.rangeAt + 1 };
    const top = body.frames[body.frames.length - 1]!.regs;
    for (let r = 1; r <= 5; r++) top[r] = NOT_INIT;
    top[0] = ptrReg('mem', { size: 4, map: READONLY_MEM });
    v.fork(body, pc + 1, pc);
    // The drained side: the iterator stays drained from here on.
    const f = ownStack(cur.frames[frameNo]!);
    f.spills[idx >> 3] = withRange(it, 0);
  }
  const regs = v.frame.regs;
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  regs[0] = constReg(0n);
  return true;
}

const withRange = (r: Reg, range: number): Reg => ({ ...r, range });

/** bpf_iter_num_destroy: the iterator's reference is released, its slot forgotten. */
export function destroyIter(v: VerifierEnv, pc: number, name: string): void {
  const { it } = useIter(v, pc, 1, v.read(1, pc), name);
  v.release(it.ref);
}
