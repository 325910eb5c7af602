// Which kernel structs begin at a byte offset inside a kernel struct: the struct itself at offset 0, and
// every struct or union member (nested, through typedefs and qualifiers) that starts exactly there. A typed
// pointer at that offset may be passed where a helper wants one of them — `bpf_d_path(&file->f_path, …)` —
// as the kernel's btf_struct_ids_match walks to the member at the pointer's offset.

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';

/** How deep the member walk goes (kernel structs nest a handful of levels; a hostile BTF no further). */
const MAX_NESTING = 8;

/** Type ids of the structs that start at byte `off` of struct `id` (none when `off` is inside no struct). */
export function structsAt(btf: Btf, id: number, off: number, depth = 0): number[] {
  const t = btf.resolve(id);
  if ((t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) || depth > MAX_NESTING || off < 0) return [];
  const out = off === 0 ? [t.id] : [];
  for (const m of t.members) {
    const start = Math.floor(m.bitOffset / 8);
    const mt = btf.resolve(m.type);
    if ((mt.kind === Kind.STRUCT || mt.kind === Kind.UNION) && off >= start && off < start + mt.size)
      out.push(...structsAt(btf, m.type, off - start, depth + 1));
  }
  return out;
}
