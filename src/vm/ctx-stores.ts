// Context stores as the kernel converts them. The kernel's verifier rewrites every context access into
// an access of the kernel object behind it (struct sk_buff for a __sk_buff), and some fields are narrower
// there than in the context: a program's store keeps only what the kernel object holds, and a later read
// (in the same run) gives that. The verifier records which stores write which context field
// (VerifyResult.ctxStores); program preparation (program.ts) rewrites those stores here, into plain
// instructions both engines run as they are, so the rules live in this file alone:
//
//   tc_index, tc_classid   u16 in the skb: the store keeps the low 16 bits (a 16-bit store; the upper
//                          half of the context word is never written, so it stays 0).
//   queue_mapping          u16, and a value of 0xffff (NO_QUEUE_MAPPING) or more leaves the field as it
//                          was: a register store becomes `if src >= 0xffff goto +1; store16`, an
//                          immediate one a 16-bit store, or nothing when the (signed) immediate is 0xffff
//                          or more (-1 is stored, as 0xffff: the kernel compares the signed immediate).
//
// A register store of queue_mapping takes two slots: the program is respliced, every jump, local call and
// function address moved to its target's new slot (so pcs in fault messages count the added slots). The
// other rewrites keep the program's length.

import { InvalidBytecodeError } from '../errors.js';
import {
  Class,
  classOf,
  functionTarget,
  type Insn,
  isBranch,
  JmpOp,
  jumpTarget,
  LDDW,
  MODE_MASK,
  Mode,
  Size,
} from '../isa/index.js';

/** NO_QUEUE_MAPPING: the first queue_mapping value a store leaves out. */
const NO_QUEUE_MAPPING = 0xffff;
/** The context fields whose stores the kernel narrows to 16 bits. */
const U16_FIELDS = new Set(['tc_index', 'tc_classid']);
const SIZE_MASK = 0x18;

/** What one store becomes: one or two slots. */
function convert(ins: Insn, field: string): Insn[] | undefined {
  const cls = classOf(ins.code);
  if ((cls !== Class.ST && cls !== Class.STX) || (ins.code & MODE_MASK) !== Mode.MEM) return undefined;
  if ((ins.code & SIZE_MASK) !== Size.W) return undefined;
  const store16 = { ...ins, code: cls | Mode.MEM | Size.H };
  if (U16_FIELDS.has(field)) return [store16];
  if (field !== 'queue_mapping') return undefined;
  if (cls === Class.ST) {
    return (ins.imm | 0) >= NO_QUEUE_MAPPING
      ? [{ code: Class.JMP | JmpOp.JA, dst: 0, src: 0, off: 0, imm: 0 }]
      : [store16];
  }
  // A 64-bit compare of the register with the immediate, as the kernel's.
  const skip = { code: Class.JMP | JmpOp.JGE, dst: ins.src, src: 0, off: 1, imm: NO_QUEUE_MAPPING };
  return [skip, store16];
}

/**
 * `insns` with the context stores listed in `stores` (pc -> field, from the verifier) converted as the
 * kernel converts them; `insns` itself when none is. Throws InvalidBytecodeError when a jump no longer
 * reaches its target with a 16-bit offset.
 */
export function convertCtxStores(
  insns: readonly Insn[],
  stores: ReadonlyMap<number, string>,
): readonly Insn[] {
  const replaced = new Map<number, Insn[]>();
  let grows = false;
  for (const [pc, field] of stores) {
    const ins = insns[pc];
    const to = ins && convert(ins, field);
    if (!to) continue;
    replaced.set(pc, to);
    if (to.length > 1) grows = true;
  }
  if (replaced.size === 0) return insns;
  if (!grows) return insns.map((ins, i) => replaced.get(i)?.[0] ?? ins);

  // Where each old slot starts in the new program (one more entry: the end).
  const n = insns.length;
  const at = new Int32Array(n + 1);
  const out: Insn[] = [];
  for (let i = 0; i < n; i++) {
    at[i] = out.length;
    const to = replaced.get(i);
    if (to) out.push(...to);
    else out.push({ ...insns[i]! });
  }
  at[n] = out.length;
  for (let i = 0; i < n; i++) {
    const ins = insns[i]!;
    if (ins.code === LDDW) {
      const t = functionTarget(ins, i);
      if (t !== undefined) out[at[i]!]!.imm = at[t]! - at[i]! - 1;
      i++;
      continue;
    }
    const call = functionTarget(ins, i);
    if (call !== undefined) {
      out[at[i]!]!.imm = at[call]! - at[i]! - 1;
    } else if (isBranch(ins) && !replaced.has(i)) {
      const rel = at[jumpTarget(ins, i)]! - at[i]! - 1;
      const moved = out[at[i]!]!;
      if (ins.code === (Class.JMP32 | JmpOp.JA)) moved.imm = rel;
      else if (rel < -0x8000 || rel > 0x7fff)
        throw new InvalidBytecodeError(
          `jump to ${jumpTarget(ins, i)} is out of the 16-bit range once queue_mapping stores are converted`,
          i,
        );
      else moved.off = rel;
    }
  }
  return out;
}
