// CO-RE access specs: what a relocation's access string (`0:1:2`) reaches in a BTF, and whether a
// candidate type of another BTF (the target kernel's) holds the same thing. The rules are libbpf's, as its
// documentation and the kernel's BTF documentation describe them:
// - the first index steps over the root pointer as over an array (`p[n]`); each later index is a member
//   of a struct/union or an element of an array; anonymous members are stepped through but not named;
// - a named member matches the target's member of the same name, searched through the target's anonymous
//   members too (a field may move into or out of an anonymous union);
// - field types are compatible by kind (struct with union, any int with any int, enums by name without
//   the flavour suffix, pointers with pointers, arrays by element);
// - type relocations compare whole types (compatible, or "matches" for TYPE_MATCHES, which also compares
//   members, sizes and signedness); enumerators match by name without the flavour suffix.
// Names carry flavours: `task_struct___old` is `task_struct` in another shape (the part from the last
// `___` between two non-underscores is dropped).

import type { Btf } from '../parse.js';
import { Kind } from '../types.js';
import { isEnumvalKind, isFieldKind, isTypeKind } from './kinds.js';

/** Longest access path (raw indices) a spec may have, as libbpf's BPF_CORE_SPEC_MAX_LEN. */
export const MAX_SPEC_LEN = 64;
/** How deep type comparisons follow pointers, arrays and prototypes before giving up. */
const MAX_COMPAT_DEPTH = 32;

/**
 * Steps one comparison of two types may take (each member pair, parameter and level counts one). The depth
 * limits alone would let a hostile BTF branch at every level (a struct of many same-named members nesting
 * itself); real kernel types take a few ten thousand at most (TYPE_MATCHES on task_struct).
 */
export const MAX_COMPARE_STEPS = 1 << 20;
let stepsLeft = MAX_COMPARE_STEPS;

function step(): void {
  if (--stepsLeft < 0)
    throw new CoreSpecError(`the types are too complex to compare (more than ${MAX_COMPARE_STEPS} steps)`);
}

/** A relocation that cannot be computed at all (malformed spec, ambiguity): an error, not a poison. */
export class CoreSpecError extends Error {}

/** One step of a spec that the matching cares about. */
export interface Accessor {
  /**
   * For a named member: the struct/union holding it; for an array element (or the root step): the element
   * type; for an enumerator: the enum.
   */
  typeId: number;
  /** Member, element or enumerator index. */
  idx: number;
  /** The member's or enumerator's name; undefined for array steps. */
  name?: string;
}

/** What an access string reaches in one BTF. */
export interface AccessSpec {
  btf: Btf;
  rootId: number;
  kind: number;
  /** Every index of the path, anonymous members included. */
  raw: number[];
  /** The named and array steps (anonymous members left out). */
  access: Accessor[];
  /** Offset in bits of what the path reaches, from the root. */
  bitOffset: number;
}

/** Length of `name` without its flavour: `task_struct___old` → 11. */
export function essentialLength(name: string): number {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name[i] !== '_' &&
      name[i + 1] === '_' &&
      name[i + 2] === '_' &&
      name[i + 3] === '_' &&
      name[i + 4] !== '_'
    )
      return i + 1;
  }
  return name.length;
}

/** `name` without its flavour suffix. */
export const essentialName = (name: string): string => name.slice(0, essentialLength(name));

const isComposite = (k: number) => k === Kind.STRUCT || k === Kind.UNION;
const isAnyEnum = (k: number) => k === Kind.ENUM || k === Kind.ENUM64;
/** Kinds CO-RE treats as the same: equal kinds, or the two enum kinds. */
export const kindsCompatible = (a: number, b: number): boolean => a === b || (isAnyEnum(a) && isAnyEnum(b));

/** The type `id` skipping typedefs and qualifiers, with its id. */
function skip(btf: Btf, id: number) {
  return btf.resolve(id);
}

function sizeOf(btf: Btf, id: number): number {
  try {
    return btf.sizeof(id);
  } catch (e) {
    throw new CoreSpecError(`type ${id} has no size (${(e as Error).message})`);
  }
}

/** Is the array reached after accessor `prev` a flexible array member (last member, no elements)? */
function isFlexArray(btf: Btf, prev: Accessor | undefined, nelems: number): boolean {
  if (!prev?.name || nelems > 0) return false;
  const t = btf.type(prev.typeId);
  return isComposite(t.kind) && 'members' in t && prev.idx === t.members.length - 1;
}

/** Parse `accessStr` against type `typeId` of `btf` for a relocation of `kind`. */
export function parseSpec(btf: Btf, typeId: number, accessStr: string, kind: number): AccessSpec {
  if (!/^\d+(:\d+)*$/.test(accessStr))
    throw new CoreSpecError(`access string '${accessStr}' is not numbers joined by ':'`);
  const raw = accessStr.split(':').map(Number);
  if (raw.length > MAX_SPEC_LEN)
    throw new CoreSpecError(`access string has ${raw.length} steps (at most ${MAX_SPEC_LEN})`);
  const spec: AccessSpec = { btf, rootId: typeId, kind, raw, access: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    if (accessStr !== '0')
      throw new CoreSpecError(`a type relocation's access string is '${accessStr}', not '0'`);
    return spec;
  }
  let t = skip(btf, typeId);
  let id = t.id;
  const first = raw[0]!;
  spec.access.push({ typeId: id, idx: first });
  if (isEnumvalKind(kind)) {
    if (!(t.kind === Kind.ENUM || t.kind === Kind.ENUM64) || raw.length > 1 || first >= t.values.length)
      throw new CoreSpecError(`access '${accessStr}' names no enumerator of ${btf.typeName(typeId)}`);
    spec.access[0]!.name = t.values[first]!.name;
    return spec;
  }
  if (!isFieldKind(kind)) throw new CoreSpecError(`unknown relocation kind ${kind}`);
  spec.bitOffset = first * sizeOf(btf, id) * 8;
  for (let i = 1; i < raw.length; i++) {
    t = skip(btf, id);
    id = t.id;
    const idx = raw[i]!;
    if (t.kind === Kind.STRUCT || t.kind === Kind.UNION) {
      const m = t.members[idx];
      if (!m) throw new CoreSpecError(`${btf.typeName(id)} has no member #${idx} (access '${accessStr}')`);
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.access.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === Kind.ARRAY) {
      const elem = skip(btf, t.type);
      const flex = isFlexArray(btf, spec.access[spec.access.length - 1], t.nelems);
      if (!flex && idx >= t.nelems)
        throw new CoreSpecError(`index ${idx} is past ${btf.typeName(id)} (access '${accessStr}')`);
      id = elem.id;
      spec.access.push({ typeId: id, idx });
      spec.bitOffset += idx * sizeOf(btf, id) * 8;
    } else {
      throw new CoreSpecError(
        `step ${i} of access '${accessStr}' goes into ${btf.typeName(id)}, which has no members or elements`,
      );
    }
  }
  return spec;
}

/**
 * The same path in the candidate type `targId` of `targ`, or undefined when the candidate does not hold
 * it. Throws CoreSpecError for paths too deep to follow.
 */
export function matchSpec(local: AccessSpec, targ: Btf, targId: number): AccessSpec | undefined {
  const out: AccessSpec = { btf: targ, rootId: targId, kind: local.kind, raw: [], access: [], bitOffset: 0 };
  stepsLeft = MAX_COMPARE_STEPS;
  if (isTypeKind(local.kind)) {
    const ok =
      local.kind === 12
        ? typesMatch(local.btf, local.rootId, targ, targId, false, MAX_COMPAT_DEPTH)
        : typesCompatible(local.btf, local.rootId, targ, targId, MAX_COMPAT_DEPTH);
    return ok ? out : undefined;
  }
  const first = local.access[0]!;
  if (isEnumvalKind(local.kind)) {
    const t = skip(targ, targId);
    if (t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) return undefined;
    const want = essentialName(first.name!);
    const i = t.values.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return undefined;
    out.access.push({ typeId: t.id, idx: i, name: t.values[i]!.name });
    out.raw.push(i);
    return out;
  }
  let id = targId;
  for (let i = 0; i < local.access.length; i++) {
    const acc = local.access[i]!;
    if (i === 0) {
      const t = skip(targ, id);
      id = t.id;
      out.access.push({ typeId: id, idx: acc.idx });
      out.raw.push(acc.idx);
      out.bitOffset = acc.idx * sizeOf(targ, id) * 8;
      continue;
    }
    if (acc.name !== undefined) {
      const next = matchMember(local.btf, acc, targ, id, out);
      if (next === undefined) return undefined;
      id = next;
    } else {
      const t = skip(targ, id);
      if (t.kind !== Kind.ARRAY) return undefined;
      if (!isFlexArray(targ, out.access[out.access.length - 1], t.nelems) && acc.idx >= t.nelems)
        return undefined;
      id = skip(targ, t.type).id;
      out.access.push({ typeId: id, idx: acc.idx });
      if (out.raw.length >= MAX_SPEC_LEN) throw new CoreSpecError('access path too deep in the target');
      out.raw.push(acc.idx);
      out.bitOffset += acc.idx * sizeOf(targ, id) * 8;
    }
  }
  return out;
}

/**
 * Find the member `acc` names in the target struct/union `targId` (looking through anonymous members),
 * extending `spec`; returns the member's type id, or undefined when there is none of that name or its type
 * is incompatible.
 */
function matchMember(
  localBtf: Btf,
  acc: Accessor,
  targ: Btf,
  targId: number,
  spec: AccessSpec,
): number | undefined {
  const holder = localBtf.type(acc.typeId);
  if (!('members' in holder)) return undefined;
  const localMember = holder.members[acc.idx]!;
  const t = skip(targ, targId);
  if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return undefined;
  for (let i = 0; i < t.members.length; i++) {
    step();
    const m = t.members[i]!;
    if (spec.raw.length >= MAX_SPEC_LEN) throw new CoreSpecError('access path too deep in the target');
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const found = matchMember(localBtf, acc, targ, m.type, spec);
      if (found !== undefined) return found;
    } else if (m.name === localMember.name) {
      if (!fieldsCompatible(localBtf, localMember.type, targ, m.type)) {
        // Not what the local path meant: the candidate does not match (and the search stops, as libbpf's).
        spec.bitOffset -= m.bitOffset;
        spec.raw.pop();
        return undefined;
      }
      spec.access.push({ typeId: t.id, idx: i, name: m.name });
      return m.type;
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return undefined;
}

/** May a local field of type `localId` be read as a target field of type `targId`? */
export function fieldsCompatible(local: Btf, localId: number, targ: Btf, targId: number): boolean {
  for (let depth = 0; depth < MAX_COMPAT_DEPTH; depth++) {
    step();
    const l = skip(local, localId);
    const t = skip(targ, targId);
    if (isComposite(l.kind) && isComposite(t.kind)) return true;
    if (!kindsCompatible(l.kind, t.kind)) return false;
    switch (l.kind) {
      case Kind.PTR:
      case Kind.FLOAT:
        return true;
      case Kind.FWD:
      case Kind.ENUM:
      case Kind.ENUM64: {
        const a = essentialName(l.name);
        const b = essentialName(t.name);
        return a === '' || b === '' || a === b;
      }
      case Kind.INT:
        return l.bitOffset === 0 && (t as { bitOffset: number }).bitOffset === 0;
      case Kind.ARRAY:
        localId = l.type;
        targId = (t as { type: number }).type;
        continue;
      default:
        return false;
    }
  }
  throw new CoreSpecError('field types nest too deeply to compare');
}

/**
 * Are local type `localId` and target type `targId` compatible (names already agree): same kind (before and
 * after typedefs), then by kind — any struct/union/enum/forward, ints without bit offsets, pointers and
 * arrays by what they point to or hold, prototypes by parameters and return type.
 */
export function typesCompatible(
  local: Btf,
  localId: number,
  targ: Btf,
  targId: number,
  level: number,
): boolean {
  if (!kindsCompatible(local.type(localId).kind, targ.type(targId).kind)) return false;
  for (let depth = 0; depth < MAX_COMPAT_DEPTH; depth++) {
    step();
    const l = skip(local, localId);
    const t = skip(targ, targId);
    if (!kindsCompatible(l.kind, t.kind)) return false;
    switch (l.kind) {
      case Kind.VOID:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.FWD:
        return true;
      case Kind.INT:
        return l.bitOffset === 0 && (t as { bitOffset: number }).bitOffset === 0;
      case Kind.PTR:
        localId = l.type;
        targId = (t as { type: number }).type;
        continue;
      case Kind.ARRAY:
        localId = l.type;
        targId = (t as { type: number }).type;
        continue;
      case Kind.FUNC_PROTO: {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (level <= 0) throw new CoreSpecError('function prototypes nest too deeply to compare');
          const a = skip(local, l.params[i]!.type).id;
          const b = skip(targ, tp.params[i]!.type).id;
          if (!typesCompatible(local, a, targ, b, level - 1)) return false;
        }
        localId = skip(local, l.ret).id;
        targId = skip(targ, tp.ret).id;
        continue;
      }
      default:
        return false;
    }
  }
  throw new CoreSpecError('types nest too deeply to compare');
}

/** Names equal without flavours; an empty target name matches only an empty local name. */
function namesMatch(a: string, b: string): boolean {
  if (b === '') return a === '';
  return essentialName(a) === essentialName(b);
}

/**
 * TYPE_MATCHES: the target type has the local one's shape — names agree (without flavours) at every level,
 * ints of the same size and signedness, arrays of the same length, every local member and enumerator
 * present in the target by name with a matching type; behind a pointer a struct may match its forward
 * declaration.
 */
export function typesMatch(
  local: Btf,
  localId: number,
  targ: Btf,
  targId: number,
  behindPtr: boolean,
  level: number,
): boolean {
  if (level <= 0) throw new CoreSpecError('types nest too deeply to match');
  for (let depth = 0; depth < MAX_COMPAT_DEPTH; depth++) {
    step();
    const l = skip(local, localId);
    const t = skip(targ, targId);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case Kind.VOID:
        return t.kind === Kind.VOID;
      case Kind.FWD:
        if (t.kind === Kind.FWD) return l.union === t.union;
        if (!behindPtr) return false;
        return (t.kind === Kind.STRUCT && !l.union) || (t.kind === Kind.UNION && l.union);
      case Kind.ENUM:
      case Kind.ENUM64: {
        if (t.kind !== Kind.ENUM && t.kind !== Kind.ENUM64) return false;
        if (l.size !== t.size || l.values.length > t.values.length) return false;
        return l.values.every((v) =>
          t.values.some((w) => {
            step();
            return namesMatch(v.name, w.name);
          }),
        );
      }
      case Kind.STRUCT:
      case Kind.UNION:
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          return t.kind === Kind.FWD && (l.kind === Kind.UNION) === t.union;
        }
        if (l.kind !== t.kind) return false;
        if (l.members.length > t.members.length) return false;
        return l.members.every((lm) =>
          t.members.some((tm) => {
            step();
            return (
              namesMatch(lm.name, tm.name) && typesMatch(local, lm.type, targ, tm.type, behindPtr, level - 1)
            );
          }),
        );
      case Kind.INT:
        return t.kind === Kind.INT && l.size === t.size && (l.encoding & 1) === (t.encoding & 1);
      case Kind.PTR:
        if (t.kind !== Kind.PTR) return false;
        behindPtr = true;
        localId = l.type;
        targId = t.type;
        continue;
      case Kind.ARRAY:
        if (t.kind !== Kind.ARRAY || l.nelems !== t.nelems) return false;
        localId = l.type;
        targId = t.type;
        continue;
      case Kind.FUNC_PROTO: {
        if (t.kind !== Kind.FUNC_PROTO || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++)
          if (!typesMatch(local, l.params[i]!.type, targ, t.params[i]!.type, behindPtr, level - 1))
            return false;
        localId = l.ret;
        targId = t.ret;
        continue;
      }
      default:
        return false;
    }
  }
  throw new CoreSpecError('types nest too deeply to match');
}
