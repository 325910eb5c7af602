// Special fields of a map value found from its BTF, as the kernel's btf_parse_fields finds them: a
// `struct bpf_spin_lock` and a `struct bpf_timer`, at most one of each per value, as a member of the value
// or of a struct (or an array element) nested in it. The verifier takes the lock and timer helpers'
// arguments only exactly there; map updates keep the lock's bytes.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import type { MapSpec } from '../spec/maps.js';

/** Nesting the search follows (the kernel allows a few levels; deeper types are not searched). */
const MAX_NEST = 8;

/** Byte offsets of every `struct <name>` inside type `id` (itself included). */
function offsetsOf(btf: Btf, id: number, name: string, base: number, depth: number, out: number[]): void {
  if (depth > MAX_NEST || out.length > 1) return;
  const t = btf.resolve(id);
  if (t.kind === Kind.STRUCT) {
    if (t.name === name) {
      out.push(base);
      return;
    }
    for (const m of t.members)
      offsetsOf(btf, m.type, name, base + Math.floor(m.bitOffset / 8), depth + 1, out);
  } else if (t.kind === Kind.ARRAY && t.nelems > 0) {
    // An array of structs holding the field holds it once per element: more than one when nelems > 1.
    const before = out.length;
    offsetsOf(btf, t.type, name, base, depth + 1, out);
    if (out.length > before && t.nelems > 1) out.push(base + btf.sizeof(t.type));
  }
}

/** Set `spinLockOffset` and `timerOffset` of a map whose value type is BTF type `valueType` (one of each). */
export function findSpecialFields(btf: Btf, valueType: number, spec: MapSpec): void {
  for (const [name, key] of [
    ['bpf_spin_lock', 'spinLockOffset'],
    ['bpf_timer', 'timerOffset'],
  ] as const) {
    const found: number[] = [];
    offsetsOf(btf, valueType, name, 0, 0, found);
    if (found.length === 1) spec[key] = found[0]!;
  }
}
