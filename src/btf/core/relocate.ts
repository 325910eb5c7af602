// Apply CO-RE relocations: for each `.BTF.ext` CO-RE record, find what its access path reaches in the
// target BTF (a kernel's types) and patch the instruction with the target's value — an ALU immediate, a
// load/store offset (and its size, for integer fields of another size), or a lddw's 64-bit immediate.
// What the target does not have becomes libbpf's poisoned call (`call 0xbad2310`), which a verifier
// refuses only on a path that reaches it; the existence kinds give 0 instead, the type kinds 0.
//
// Candidates are the target types of the local type's name without its flavour and of a compatible kind,
// looked up in the main BTF, then (only when it has none) in the module BTFs. Every candidate that holds
// the access path must give the same answer, or the relocation is ambiguous (an error). As in libbpf, the
// candidates that matched one relocation are the ones kept for the next relocation of the same local type.

import { TsbpfError } from '../../errors.js';
import type { Insn } from '../../isa/insn.js';
import { Class, JmpOp, LDDW, Size } from '../../isa/opcodes.js';
import type { Btf } from '../parse.js';
import { IntEncoding, Kind } from '../types.js';
import { CORE_KIND_WORDS, CoreKind, isEnumvalKind, isFieldKind } from './kinds.js';
import {
  type AccessSpec,
  CoreSpecError,
  essentialLength,
  essentialName,
  kindsCompatible,
  matchSpec,
  parseSpec,
} from './spec.js';

/** libbpf's poisoned helper id (0xbad2310, "bad relo"): the verifier refuses the call where it is reached. */
export const CORE_POISON_HELPER = 0xbad2310;

/** The types a program is relocated against. */
export interface CoreTarget {
  /** The main BTF: the running kernel's vmlinux, or a file the user gave. */
  btf: Btf;
  /** Its name in messages (`vmlinux`, a file name). */
  name: string;
  /**
   * Further BTFs searched when the main one has no candidate for a type — kernel modules, split over
   * `btf` (their ids continue it). Called at most once, the first time a type is missing from `btf`.
   */
  modules?: () => readonly { name: string; btf: Btf }[];
}

/** One CO-RE relocation: the instruction (slot index), the local root type, the access path, the kind. */
export interface CoreRelocation {
  insn: number;
  typeId: number;
  accessStr: string;
  kind: number;
}

/** What one relocation did. */
export interface CoreOutcome {
  insn: number;
  kind: number;
  /** The relocation in words: `byte offset of struct task_struct.__state`. */
  what: string;
  /** The value the instruction now carries (undefined when poisoned). */
  value?: bigint;
  /** The instruction became the poisoned call; `reason` says why. */
  poisoned: boolean;
  reason?: string;
}

/** A relocation that cannot be applied (malformed, ambiguous, or an instruction of the wrong form). */
export class CoreRelocationError extends TsbpfError {
  override name = 'CoreRelocationError';
}

interface Candidate {
  btf: Btf;
  id: number;
}

/**
 * State shared by the relocations of one object against one target: the candidates of each local type
 * (narrowed by each relocation, as libbpf does) and the module BTFs once loaded.
 */
export class CoreContext {
  private readonly cands = new Map<number, Candidate[]>();
  private moduleList: readonly { name: string; btf: Btf }[] | undefined;

  constructor(
    readonly local: Btf,
    readonly target: CoreTarget,
  ) {}

  /** Candidates for local type `id` (named, compatible kind, same name without flavour). */
  candidates(id: number): Candidate[] {
    let list = this.cands.get(id);
    if (list) return list;
    const t = this.local.type(id);
    const want = essentialName(t.name);
    list = findIn(this.target.btf, 1, want, t.kind);
    if (list.length === 0 && this.target.modules) {
      this.moduleList ??= this.target.modules();
      for (const m of this.moduleList)
        list.push(...findIn(m.btf, this.target.btf.types.length, want, t.kind));
    }
    this.cands.set(id, list);
    return list;
  }

  /** Keep only `kept` as the candidates of local type `id`. */
  narrow(id: number, kept: Candidate[]): void {
    this.cands.set(id, kept);
  }
}

/** Per BTF: its type ids by name without flavour (built once; vmlinux has some 150,000 types). */
const nameIndexes = new WeakMap<Btf, Map<string, number[]>>();

function findIn(btf: Btf, start: number, name: string, kind: number): Candidate[] {
  let index = nameIndexes.get(btf);
  if (!index) {
    index = new Map();
    const types = btf.types;
    // A split BTF's index holds its own types only (its base's have an index of their own).
    for (let id = btf.base ? btf.base.types.length : 1; id < types.length; id++) {
      const n = types[id]!.name;
      if (n === '') continue;
      const key = n.length > 4 && n.includes('___') ? n.slice(0, essentialLength(n)) : n;
      const ids = index.get(key);
      if (ids) ids.push(id);
      else index.set(key, [id]);
    }
    nameIndexes.set(btf, index);
  }
  const out: Candidate[] = [];
  for (const id of index.get(name) ?? []) {
    if (id >= start && kindsCompatible(btf.types[id]!.kind, kind)) out.push({ btf, id });
  }
  return out;
}

/** The computed result of one relocation, before it is written into the instruction. */
interface Result {
  poison: boolean;
  orig: bigint;
  value: bigint;
  /** Check that the instruction holds `orig` before patching (off for bitfields, whose values clang may pick differently). */
  validate: boolean;
  origSize: number;
  newSize: number;
  /** A load/store of the field would need a size change that loses its value (signed or non-int). */
  badSizeChange: boolean;
  reason?: string;
}

/** A field's value for one relocation kind; `size`/`typeId` are the field's, for adjusting loads. */
interface FieldValue {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

function fieldValue(kind: number, spec: AccessSpec): FieldValue {
  const { btf } = spec;
  const acc = spec.access[spec.access.length - 1]!;
  if (acc.name === undefined) {
    // An array element (or the root step): only offset and size make sense.
    const size = btf.sizeof(acc.typeId);
    if (kind === CoreKind.FIELD_BYTE_OFFSET)
      return { value: BigInt(spec.bitOffset / 8), size, typeId: acc.typeId, validate: true };
    if (kind === CoreKind.FIELD_BYTE_SIZE) return { value: BigInt(size), size: 0, typeId: 0, validate: true };
    throw new CoreSpecError(`the ${CORE_KIND_WORDS[kind]} an array element cannot be computed`);
  }
  const holder = btf.type(acc.typeId);
  if (!('members' in holder)) throw new CoreSpecError(`type ${acc.typeId} has no members`);
  const m = holder.members[acc.idx]!;
  const mt = btf.resolve(m.type);
  const bitOff = spec.bitOffset;
  let bitSize = m.bitSize;
  const bitfield = bitSize > 0;
  let byteSize: number;
  let byteOff: number;
  if (bitfield) {
    if (!('size' in mt)) throw new CoreSpecError(`bitfield ${m.name} has a type without size`);
    // The smallest aligned load, from the member's type up, that holds every bit of the field.
    byteSize = mt.size;
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8) throw new CoreSpecError(`bitfield ${m.name} cannot be read with one 64-bit load`);
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = btf.sizeof(mt.id);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }
  const out: FieldValue = { value: 0n, size: 0, typeId: 0, validate: !bitfield };
  switch (kind) {
    case CoreKind.FIELD_BYTE_OFFSET:
      out.value = BigInt(byteOff);
      if (!bitfield) {
        out.size = byteSize;
        out.typeId = mt.id;
      }
      break;
    case CoreKind.FIELD_BYTE_SIZE:
      out.value = BigInt(byteSize);
      break;
    case CoreKind.FIELD_SIGNED:
      out.value =
        ((mt.kind === Kind.ENUM || mt.kind === Kind.ENUM64) && mt.signed) ||
        (mt.kind === Kind.INT && (mt.encoding & IntEncoding.SIGNED) !== 0)
          ? 1n
          : 0n;
      out.validate = true;
      break;
    case CoreKind.FIELD_LSHIFT_U64:
      // Little-endian: shift the field's top bit up to bit 63.
      out.value = BigInt(64 - (bitOff + bitSize - byteOff * 8));
      break;
    case CoreKind.FIELD_RSHIFT_U64:
      out.value = BigInt(64 - bitSize);
      out.validate = true;
      break;
    default:
      throw new CoreSpecError(`relocation kind ${kind} is not a field kind`);
  }
  return out;
}

function typeValue(kind: number, spec: AccessSpec | undefined): bigint {
  if (!spec) return 0n; // type relocations give 0 when the target has no such type
  switch (kind) {
    case CoreKind.TYPE_ID_TARGET:
      return BigInt(spec.rootId);
    case CoreKind.TYPE_EXISTS:
    case CoreKind.TYPE_MATCHES:
      return 1n;
    case CoreKind.TYPE_SIZE:
      return BigInt(spec.btf.sizeof(spec.rootId));
    default:
      throw new CoreSpecError(`relocation kind ${kind} is not a type kind`);
  }
}

/** ENUMVAL_VALUE: a 32-bit enumerator's value widens as a signed number, as libbpf reads it. */
function enumValue(spec: AccessSpec): bigint {
  const acc = spec.access[0]!;
  const t = spec.btf.type(acc.typeId);
  if (t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64)
    throw new CoreSpecError(`type ${acc.typeId} is no enum`);
  const v = t.values[acc.idx]!.value;
  return t.kind === Kind.ENUM ? BigInt.asUintN(64, BigInt.asIntN(32, v)) : BigInt.asUintN(64, v);
}

/** The result for `local` against `targ` (undefined: no candidate held the path). */
function compute(kind: number, local: AccessSpec, targ: AccessSpec | undefined, missing: string): Result {
  const r: Result = {
    poison: false,
    orig: 0n,
    value: 0n,
    validate: true,
    origSize: 0,
    newSize: 0,
    badSizeChange: false,
  };
  if (isFieldKind(kind)) {
    if (kind === CoreKind.FIELD_EXISTS) {
      r.orig = 1n;
      r.value = targ ? 1n : 0n;
      return r;
    }
    const o = fieldValue(kind, local);
    r.orig = o.value;
    r.origSize = o.size;
    r.validate = o.validate;
    if (!targ) return { ...r, poison: true, reason: missing };
    const n = fieldValue(kind, targ);
    r.value = n.value;
    r.newSize = n.size;
    if (r.origSize !== r.newSize) {
      // A load may change size only where zero extension keeps the value: pointers, unsigned ints.
      const a = local.btf.type(o.typeId);
      const b = targ.btf.type(n.typeId);
      const unsignedInt = (t: typeof a) => t.kind === Kind.INT && (t.encoding & IntEncoding.SIGNED) === 0;
      if (!((a.kind === Kind.PTR && b.kind === Kind.PTR) || (unsignedInt(a) && unsignedInt(b))))
        r.badSizeChange = true;
    }
    return r;
  }
  if (isEnumvalKind(kind)) {
    if (kind === CoreKind.ENUMVAL_EXISTS) {
      r.orig = 1n;
      r.value = targ ? 1n : 0n;
      return r;
    }
    r.orig = enumValue(local);
    if (!targ) return { ...r, poison: true, reason: missing };
    r.value = enumValue(targ);
    return r;
  }
  if (kind === CoreKind.TYPE_ID_LOCAL) {
    r.orig = r.value = BigInt(local.rootId);
    r.validate = false;
    return r;
  }
  r.orig = typeValue(kind, local);
  r.value = typeValue(kind, targ);
  return r;
}

/** `byte offset of struct task_struct.__state`, `value of enum E::B`, `size of struct foo`. */
export function describeRelocation(local: Btf, r: CoreRelocation): string {
  const words = CORE_KIND_WORDS[r.kind] ?? `kind ${r.kind} of`;
  let root: string;
  try {
    root = local.typeName(r.typeId);
  } catch {
    return `${words} type #${r.typeId} (access ${r.accessStr})`;
  }
  try {
    const spec = parseSpec(local, r.typeId, r.accessStr, r.kind);
    if (isEnumvalKind(r.kind)) return `${words} ${root}::${spec.access[0]!.name}`;
    if (!isFieldKind(r.kind)) return `${words} ${root}`;
    let path = spec.access[0]!.idx === 0 ? '' : `[${spec.access[0]!.idx}]`;
    for (const a of spec.access.slice(1)) path += a.name !== undefined ? `.${a.name}` : `[${a.idx}]`;
    return `${words} ${root}${path}`;
  } catch {
    return `${words} ${root} (access ${r.accessStr})`;
  }
}

/** What the target lacks, in plain words, for a poisoned relocation. */
function missingWords(local: Btf, r: CoreRelocation, targetName: string): string {
  const root = local.typeName(r.typeId);
  if (isEnumvalKind(r.kind)) {
    const spec = parseSpec(local, r.typeId, r.accessStr, r.kind);
    return `the program reads value ${spec.access[0]!.name} of ${root}, which the target BTF (${targetName}) does not have`;
  }
  const what = describeRelocation(local, r).replace(/^[a-z0-9 ]+ of /, '');
  const field = what.startsWith(root) ? what.slice(root.length).replace(/^\./, '') : what;
  return field
    ? `the program reads field ${field} of ${root}, which the target BTF (${targetName}) does not have`
    : `the program reads ${root}, which the target BTF (${targetName}) does not have`;
}

/** Overwrite `insns[at]` (and its second slot for a lddw) with the poisoned call. */
function poisonAt(insns: Insn[], at: number): void {
  const wasLddw = insns[at]!.code === LDDW;
  const call = { code: Class.JMP | JmpOp.CALL, dst: 0, src: 0, off: 0, imm: CORE_POISON_HELPER };
  insns[at] = { ...call };
  // The lddw's second half too, so no stray half-instruction is left behind.
  if (wasLddw && at + 1 < insns.length) insns[at + 1] = { ...call };
}

const SIZE_BYTES: Readonly<Record<number, number>> = { [Size.B]: 1, [Size.H]: 2, [Size.W]: 4, [Size.DW]: 8 };
const BYTES_SIZE: Readonly<Record<number, number>> = { 1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW };

/**
 * Write result `r` into `insns[at]`; returns the poison reason when the instruction was poisoned instead.
 * Throws CoreSpecError when the instruction does not hold what the local BTF says it should.
 */
function patch(insns: Insn[], at: number, r: Result): string | undefined {
  const ins = insns[at]!;
  if (r.poison) {
    poisonAt(insns, at);
    return r.reason;
  }
  const cls = ins.code & 0x07;
  const u64 = (n: number) => BigInt.asUintN(64, BigInt(n));
  switch (cls) {
    case Class.ALU:
    case Class.ALU64:
      if (ins.code & 0x08)
        throw new CoreSpecError('an ALU instruction with a register source has no immediate to relocate');
      if (r.validate && u64(ins.imm) !== r.orig)
        throw new CoreSpecError(`the instruction's immediate is ${ins.imm}, not the expected ${r.orig}`);
      ins.imm = Number(BigInt.asIntN(32, r.value));
      return undefined;
    case Class.LDX:
    case Class.ST:
    case Class.STX: {
      if (r.validate && u64(ins.off) !== r.orig)
        throw new CoreSpecError(`the instruction's offset is ${ins.off}, not the expected ${r.orig}`);
      if (r.value > 0x7fffn) throw new CoreSpecError(`offset ${r.value} does not fit a load/store`);
      if (r.badSizeChange) {
        poisonAt(insns, at);
        return `the field's size changes from ${r.origSize} to ${r.newSize} bytes and it is not an unsigned integer or a pointer, so the access cannot be resized`;
      }
      ins.off = Number(r.value);
      if (r.newSize !== r.origSize) {
        const size = ins.code & 0x18;
        if (SIZE_BYTES[size] !== r.origSize)
          throw new CoreSpecError(
            `the instruction accesses ${SIZE_BYTES[size]} bytes, not the field's ${r.origSize}`,
          );
        const to = BYTES_SIZE[r.newSize];
        if (to === undefined)
          throw new CoreSpecError(`a ${r.newSize}-byte field cannot be loaded in one access`);
        ins.code = (ins.code & ~0x18) | to;
      }
      return undefined;
    }
    case Class.LD: {
      const hi = insns[at + 1];
      if (
        ins.code !== LDDW ||
        ins.src !== 0 ||
        ins.off !== 0 ||
        !hi ||
        hi.code !== 0 ||
        hi.dst !== 0 ||
        hi.src !== 0 ||
        hi.off !== 0
      )
        throw new CoreSpecError('the lddw to relocate has an unexpected form');
      const imm = (BigInt(hi.imm >>> 0) << 32n) | BigInt(ins.imm >>> 0);
      if (r.validate && imm !== r.orig)
        throw new CoreSpecError(`the lddw's value is ${imm}, not the expected ${r.orig}`);
      ins.imm = Number(BigInt.asIntN(32, r.value));
      hi.imm = Number(BigInt.asIntN(32, r.value >> 32n));
      return undefined;
    }
    default:
      throw new CoreSpecError(`instruction 0x${ins.code.toString(16)} cannot carry a CO-RE relocation`);
  }
}

/**
 * Apply `relos` to `insns` (slot indices into `insns`) against `ctx`'s target. Returns what each did;
 * throws CoreRelocationError, naming `where`, the instruction and the relocation, for one that cannot be
 * applied. Each relocation costs one parse of its access path and one match per candidate.
 */
export function applyCoreRelocations(
  insns: Insn[],
  relos: readonly CoreRelocation[],
  ctx: CoreContext,
  where: string,
): CoreOutcome[] {
  const { local, target } = ctx;
  const out: CoreOutcome[] = [];
  relos.forEach((relo, n) => {
    const what = describeRelocation(local, relo);
    const fail = (why: string) =>
      new CoreRelocationError(`CO-RE relocation #${n} (${what}): ${why}`, `${where}: insn ${relo.insn}`);
    if (relo.insn < 0 || relo.insn >= insns.length)
      throw fail(`instruction ${relo.insn} is outside the code`);
    try {
      const localSpec = parseSpec(local, relo.typeId, relo.accessStr, relo.kind);
      let result: Result | undefined;
      if (relo.kind !== CoreKind.TYPE_ID_LOCAL) {
        if (local.type(relo.typeId).name === '')
          throw new CoreSpecError('the relocated type is anonymous (candidates are found by name)');
        const missing = (() => {
          try {
            return missingWords(local, relo, target.name);
          } catch {
            return `the target BTF (${target.name}) has no match for it`;
          }
        })();
        const kept: Candidate[] = [];
        let chosen: AccessSpec | undefined;
        for (const c of ctx.candidates(relo.typeId)) {
          const spec = matchSpec(localSpec, c.btf, c.id);
          if (!spec) continue;
          const r = compute(relo.kind, localSpec, spec, missing);
          if (!result || !chosen) {
            result = r;
            chosen = spec;
          } else if (spec.bitOffset !== chosen.bitOffset) {
            throw new CoreSpecError(
              `candidates disagree on its offset (bit ${chosen.bitOffset} in ${c.btf.typeName(chosen.rootId)} #${chosen.rootId}, bit ${spec.bitOffset} in #${c.id})`,
            );
          } else if (r.poison !== result.poison || r.value !== result.value) {
            throw new CoreSpecError(
              `candidates disagree on its value (${result.value} for #${chosen.rootId}, ${r.value} for #${c.id})`,
            );
          }
          kept.push(c);
        }
        if (kept.length > 0) ctx.narrow(relo.typeId, kept);
        else result = compute(relo.kind, localSpec, undefined, missing);
      } else {
        result = compute(relo.kind, localSpec, localSpec, '');
      }
      const reason = patch(insns, relo.insn, result!);
      out.push(
        reason === undefined
          ? { insn: relo.insn, kind: relo.kind, what, value: result!.value, poisoned: false }
          : { insn: relo.insn, kind: relo.kind, what, poisoned: true, reason },
      );
    } catch (e) {
      if (e instanceof CoreSpecError) throw fail(e.message);
      if (e instanceof TsbpfError) throw fail(e.message);
      throw e;
    }
  });
  return out;
}
