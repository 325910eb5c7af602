// State pruning. At prune points (jump targets, loop heads) the verifier remembers the states it has
// explored. A new state that is subsumed by a remembered state whose whole future was proven safe needs no
// further exploration. A state equal to one still being explored on the same path (a loop that came back
// unchanged) can never make progress: an infinite loop.
//
// Checkpoints count their live descendants (`branches`); only a checkpoint with no live descendant is
// complete, so bounded loops are verified by exploring iterations until they end or hit the insn limit.

import { FRAME_POINTER, MAX_CALL_FRAMES } from '../isa/index.js';
import { scalarEquals, scalarIn } from './ranges.js';
import { type Frame, type Reg, Slot, type State } from './state.js';

export interface Checkpoint {
  readonly state: State;
  readonly pc: number;
  branches: number;
  readonly parent: Checkpoint | undefined;
  /** Stack slots (SlotSet) fully written on the path from `parent` to here: reads below see those. */
  readonly written: Uint32Array;
  /** Stack slots some path from here reads before writing them: only those matter when comparing. */
  readonly read: Uint32Array;
}

/**
 * A set of 8-byte stack slots of every frame: bit (slot & 31) of word frame * 2 + (slot >> 5), as the
 * kernel's per-slot REG_LIVE_READ / REG_LIVE_WRITTEN marks.
 */
export const newSlotSet = (): Uint32Array => new Uint32Array(2 * MAX_CALL_FRAMES);
export const slotWord = (frame: number, slot: number): number => frame * 2 + (slot >> 5);
export const slotBit = (slot: number): number => 1 << (slot & 31);

/** A consistent renaming of ids between an old and a new state (both directions). */
class IdMap {
  // Pairs in a flat array: states hold few ids, and most comparisons fail before the first one.
  private readonly pairs: number[] = [];
  ok(a: number, b: number): boolean {
    const p = this.pairs;
    for (let i = 0; i < p.length; i += 2) {
      if (p[i] === a || p[i + 1] === b) return p[i] === a && p[i + 1] === b;
    }
    p.push(a, b);
    return true;
  }
}

/** Is every concrete value `cur` stands for also one `old` stands for (with ids renamed consistently)? */
function regSafe(old: Reg, cur: Reg, ids: IdMap, exact: boolean): boolean {
  if (old.kind === 'not_init') return !exact || cur.kind === 'not_init';
  // Registers are immutable: the same object (a copy carried along) covers itself, unless ids must map.
  if (old === cur && old.id === 0 && old.ref === 0) return true;
  if (old.kind !== cur.kind) return false;
  const within = exact ? scalarEquals(old.s, cur.s) : scalarIn(old.s, cur.s);
  switch (old.kind) {
    case 'scalar':
      if (!within) return false;
      return old.id === 0 ? !exact || cur.id === 0 : cur.id !== 0 && ids.ok(old.id, cur.id);
    case 'ctx':
    case 'packet_end':
      return old.off === cur.off && within;
    case 'stack':
      return old.off === cur.off && old.frame === cur.frame && within;
    case 'packet':
    case 'packet_meta':
      return (
        old.off === cur.off &&
        (exact ? old.range === cur.range : old.range <= cur.range) &&
        within &&
        ids.ok(old.id, cur.id)
      );
    case 'map_value':
    case 'map_ptr':
      return old.map === cur.map && old.off === cur.off && within;
    case 'map_value_or_null':
    case 'map_ptr_or_null':
    case 'sock_or_null':
    case 'sock_common_or_null':
    case 'sock':
    case 'sock_common':
      return old.map === cur.map && old.off === cur.off && within && ids.ok(old.id, cur.id);
    case 'mem':
    case 'mem_or_null':
      // `btf`: a bpf_obj_new object's type (0 for other memory).
      return (
        old.size === cur.size &&
        old.btf === cur.btf &&
        old.off === cur.off &&
        within &&
        ids.ok(old.id, cur.id) &&
        ids.ok(-old.ref, -cur.ref)
      );
    case 'func':
      return old.target === cur.target;
    case 'btf_ptr':
    case 'btf_ptr_or_null':
      // `size` is a kernel struct pointer's trust (./kfuncs.ts); `ref` the reference it holds.
      return (
        old.btf === cur.btf &&
        old.size === cur.size &&
        old.off === cur.off &&
        within &&
        ids.ok(old.id, cur.id) &&
        ids.ok(-old.ref, -cur.ref)
      );
    case 'dynptr':
      // Same kind, same half, and the same reference (renamed consistently with the states' references);
      // an iterator also in the same state (`range`: active or drained).
      return (
        old.size === cur.size &&
        old.off === cur.off &&
        old.range === cur.range &&
        ids.ok(old.id, cur.id) &&
        ids.ok(-old.ref, -cur.ref)
      );
    case 'dynptr_ptr':
      return old.size === cur.size;
  }
}

function frameSafe(
  old: Frame,
  cur: Frame,
  live: number,
  ids: IdMap,
  exact: boolean,
  low: number,
  uninitIsMisc: boolean,
  /** Slots the old state's future reads, in this frame's two words (undefined: all of them). */
  readLo: number,
  readHi: number,
): boolean {
  if (old.callsite !== cur.callsite || old.subprog !== cur.subprog) return false;
  for (let r = 0; r < FRAME_POINTER; r++) {
    if (!(live & (1 << r))) continue;
    if (!regSafe(old.regs[r]!, cur.regs[r]!, ids, exact)) return false;
  }
  for (let b = low; b < old.slots.length; b++) {
    const slot = b >> 3;
    if (!exact && !((slot < 32 ? readLo : readHi) & (1 << (slot & 31)))) {
      b |= 7; // no path from the old state reads this slot before writing it: its content is irrelevant
      continue;
    }
    const o = old.slots[b]!;
    const c = cur.slots[b]!;
    if (o === c && ((o !== Slot.SPILL && o !== Slot.DYNPTR) || exact)) continue; // exact: spills below
    if (o === Slot.DYNPTR || c === Slot.DYNPTR) {
      // A dynptr covers only the same dynptr (its reference matched with the states' references).
      if (o !== c || (b % 8 === 0 && !regSafe(old.spills[b >> 3]!, cur.spills[b >> 3]!, ids, false)))
        return false;
      continue;
    }
    if (exact) return false;
    // Strict: the old path never read an unwritten byte (reading it is an error), so any content is fine.
    // With unwritten bytes readable as unknown numbers, an unwritten byte is just another unknown byte.
    if (o === Slot.INVALID && !uninitIsMisc) continue;
    const unknownOld = o === Slot.MISC || o === Slot.INVALID;
    if (
      unknownOld &&
      (c === Slot.ZERO ||
        c === Slot.MISC ||
        (c === Slot.INVALID && uninitIsMisc) ||
        (c === Slot.SPILL && cur.spills[b >> 3]!.kind === 'scalar'))
    )
      continue;
    if (o === Slot.SPILL && c === Slot.SPILL) {
      if (b % 8 === 0 && !regSafe(old.spills[b >> 3]!, cur.spills[b >> 3]!, ids, false)) return false;
      continue;
    }
    return false;
  }
  if (exact) {
    for (let s = 0; s < old.spills.length; s++) {
      const o = old.spills[s];
      const c = cur.spills[s];
      if (o && c && !regSafe(o, c, ids, true)) return false;
    }
  }
  return true;
}

/**
 * `old` covers `cur` at the same slot: `liveAt(frameIndex)` gives the registers that matter in each frame
 * (the current frame's live-in set, callers' registers live after their call).
 */
export function stateSafe(
  old: State,
  cur: State,
  liveAt: (frame: number) => number,
  exact: boolean,
  /** First stack byte any path has touched, per subprogram (bytes below are INVALID everywhere). */
  low: (subprog: number) => number,
  /** Unwritten stack bytes are readable (as unknown numbers): they no longer cover any content. */
  uninitIsMisc = false,
  /** Stack slots the old state's future reads (a SlotSet); undefined: all. */
  read?: Uint32Array,
): boolean {
  if (old.frames.length !== cur.frames.length || old.refs.length !== cur.refs.length) return false;
  if (old.lock?.map !== cur.lock?.map) return false;
  const ids = new IdMap();
  if (old.lock && !ids.ok(old.lock.id, cur.lock!.id)) return false;
  for (let k = 0; k < old.refs.length; k++) if (!ids.ok(-old.refs[k]!.id, -cur.refs[k]!.id)) return false;
  for (let i = old.frames.length - 1; i >= 0; i--) {
    const f = cur.frames[i]!;
    const lo = read ? read[2 * i]! : -1;
    const hi = read ? read[2 * i + 1]! : -1;
    if (!frameSafe(old.frames[i]!, f, liveAt(i), ids, exact, low(f.subprog), uninitIsMisc, lo, hi))
      return false;
  }
  return true;
}

/** The remembered states per slot, with a cap so loops cannot make the lists grow without end. */
export class ExploredStates {
  private readonly at = new Map<number, Checkpoint[]>();
  count = 0;
  constructor(private readonly cap = 32) {}

  list(pc: number): Checkpoint[] {
    return this.at.get(pc) ?? [];
  }

  add(cp: Checkpoint): void {
    let l = this.at.get(cp.pc);
    if (!l) {
      l = [];
      this.at.set(cp.pc, l);
    }
    if (l.length >= this.cap) {
      const k = l.findIndex((c) => c.branches === 0);
      l.splice(Math.max(k, 0), 1);
    }
    l.push(cp);
    this.count++;
  }
}

/** A path under `cp` ended (exit or pruned): walk up while checkpoints become complete. */
export function finishPath(cp: Checkpoint | undefined): void {
  while (cp) {
    cp.branches--;
    if (cp.branches > 0) return;
    cp = cp.parent;
  }
}
