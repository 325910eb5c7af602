// The `__kptr` fields of a map's value type: pointer members whose pointee carries the BTF type tag `kptr`
// (a referenced kernel object), `kptr_untrusted` (no reference) or `percpu_kptr`, as libbpf's headers
// declare them. The verifier lets bpf_kptr_xchg move pointers in and out of exactly these fields.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import type { MapKptr } from '../spec/maps.js';

/** Nesting followed at most (structs in structs, arrays, typedef chains): a bound on hostile BTF. */
const MAX_DEPTH = 16;
/** Fields reported at most per value (the kernel's BTF_FIELDS_MAX is 11). */
const MAX_KPTRS = 64;

/** The kptr fields of value type `typeId` of `btf`, by offset. */
export function mapKptrs(btf: Btf, typeId: number): MapKptr[] {
  const out: MapKptr[] = [];
  const walk = (id: number, base: number, depth: number): void => {
    if (depth > MAX_DEPTH || out.length >= MAX_KPTRS) return;
    const t = btf.resolve(id);
    if (t.kind === Kind.ARRAY) {
      const elem = btf.sizeof(t.type);
      for (let i = 0; i < Math.min(t.nelems, MAX_KPTRS) && elem > 0; i++)
        walk(t.type, base + i * elem, depth + 1);
      return;
    }
    if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return;
    for (const m of t.members) {
      if (m.bitSize) continue;
      const at = base + Math.floor(m.bitOffset / 8);
      const k = kptrOf(btf, m.type);
      if (k) out.push({ offset: at, ...k });
      else walk(m.type, at, depth + 1);
    }
  };
  walk(typeId, 0, 0);
  return out;
}

/** A pointer member's kptr tag and pointee, or undefined for any other member. */
function kptrOf(btf: Btf, id: number): { struct: string; referenced: boolean } | undefined {
  let t = btf.type(id);
  for (let d = 0; d < MAX_DEPTH && t.kind !== Kind.PTR; d++) {
    if (t.kind !== Kind.TYPEDEF && t.kind !== Kind.CONST && t.kind !== Kind.VOLATILE) return undefined;
    t = btf.type(t.type);
  }
  if (t.kind !== Kind.PTR) return undefined;
  let to = btf.type(t.type);
  let tag: string | undefined;
  for (let d = 0; d < MAX_DEPTH; d++) {
    if (to.kind === Kind.TYPE_TAG) tag ??= to.name;
    else if (to.kind !== Kind.CONST && to.kind !== Kind.VOLATILE) break;
    to = btf.type((to as { type: number }).type);
  }
  if (tag !== 'kptr' && tag !== 'kptr_untrusted' && tag !== 'percpu_kptr') return undefined;
  const s = btf.resolve(to.id);
  return { struct: s.name, referenced: tag !== 'kptr_untrusted' };
}
