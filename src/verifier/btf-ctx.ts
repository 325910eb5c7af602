// Contexts typed by the kernel's BTF (tracing, lsm, netfilter): what the attach target's arguments are, and
// what a load through a pointer to a kernel struct yields. The kernel does the same in btf_ctx_access and
// btf_struct_walk: an argument is a number, or a pointer to a struct the program may read (never write);
// reading a pointer member of that struct gives another such pointer.

import { coreTarget } from '../btf/core/target.js';
import type { Btf } from '../btf/parse.js';
import { type BtfType, Kind } from '../btf/types.js';
import { attachTypeNumber, programAttachType, programSleepable } from '../spec/attach-types.js';
import { type ProgramType, programTypeFor } from '../spec/program-types.js';
import { programTypeForSection } from '../spec/sections.js';

/** What the kernel makes of one u64 slot of a BTF-typed context. */
export type BtfArg =
  // `retval`: the return value of the LSM programs before this one, within the hook's return range.
  | { kind: 'scalar'; name: string; retval?: boolean }
  | { kind: 'ptr'; name: string; struct: number; orNull: boolean }
  | { kind: 'refused'; name: string; why: string };

/** The attach target of a tracing/lsm program: its arguments as context slots. */
export interface BtfTarget {
  /** `fentry/do_unlinkat` …, for messages. */
  what: string;
  /**
   * One entry per u64 slot (a struct passed by value takes several); the return value last for fexit,
   * fmod_ret (int functions) and lsm.
   */
  args: BtfArg[];
  /** The target returns void (an LSM hook's return value is then not checked). */
  retVoid: boolean;
  /** The target's type id in the kernel's BTF (BPF_PROG_LOAD's attach_btf_id). */
  attachBtfId: number;
  /** struct_ops: the member's index in its struct (the expected attach type the kernel wants). */
  memberIndex?: number;
  /** struct_ops: the struct and member implemented (`tcp_congestion_ops`, `ssthresh`). */
  structOps?: { struct: string; member: string };
}

/** Nesting the walks below follow at most (typedef chains, nested structs): a bound on hostile BTF. */
const MAX_DEPTH = 32;

const NAME_INDEX = new WeakMap<Btf, Map<string, number[]>>();

/** Ids of the types called `name`, through an index built once per Btf (vmlinux has 150,000 types). */
function idsNamed(btf: Btf, name: string): readonly number[] {
  let index = NAME_INDEX.get(btf);
  if (!index) {
    index = new Map();
    for (const t of btf.types) {
      if (!t.name) continue;
      const list = index.get(t.name);
      if (list) list.push(t.id);
      else index.set(t.name, [t.id]);
    }
    NAME_INDEX.set(btf, index);
  }
  return index.get(name) ?? [];
}

/** The first type called `name` of kind `kind`. */
export function btfNamed(btf: Btf, name: string, kind: number): BtfType | undefined {
  for (const id of idsNamed(btf, name)) {
    const t = btf.type(id);
    if (t.kind === kind) return t;
  }
  return undefined;
}

/** The struct (or union) called `name`, as a type id; 0 when the BTF has none. */
export function btfStructId(btf: Btf, name: string): number {
  return (btfNamed(btf, name, Kind.STRUCT) ?? btfNamed(btf, name, Kind.UNION))?.id ?? 0;
}

/** The struct or union `id` leads to through typedefs and qualifiers, if it leads to one. */
function structOf(btf: Btf, id: number): BtfType | undefined {
  const t = btf.resolve(id);
  return t.kind === Kind.STRUCT || t.kind === Kind.UNION ? t : undefined;
}

/** What an argument of type `typeId` gives a program that loads it (btf_ctx_access's rules). */
function argOf(btf: Btf, typeId: number, name: string, orNull: boolean): BtfArg[] {
  const t = btf.resolve(typeId);
  switch (t.kind) {
    case Kind.INT:
    case Kind.ENUM:
    case Kind.ENUM64:
      return [{ kind: 'scalar', name }];
    case Kind.STRUCT:
    case Kind.UNION: {
      // Passed by value: the kernel allows structs of at most 16 bytes, one slot per 8 bytes, read as numbers.
      if (t.size > 16)
        return [
          { kind: 'refused', name, why: `it is a ${t.size}-byte struct passed by value (16 bytes at most)` },
        ];
      const slots = Math.max(1, Math.ceil(t.size / 8));
      return Array.from({ length: slots }, () => ({ kind: 'scalar', name }) as BtfArg);
    }
    case Kind.PTR: {
      if (t.type === 0) return [{ kind: 'scalar', name }]; // void *: a number
      const to = btf.resolve(t.type);
      if (to.kind === Kind.INT) return [{ kind: 'scalar', name }]; // char *, u32 *: a number
      if (to.kind === Kind.STRUCT || to.kind === Kind.UNION)
        return [{ kind: 'ptr', name, struct: to.id, orNull }];
      return [
        {
          kind: 'refused',
          name,
          why: `its type ${btf.typeName(typeId)} is a pointer to neither a struct nor an integer`,
        },
      ];
    }
    default:
      return [{ kind: 'refused', name, why: `its type ${btf.typeName(typeId)} cannot be read` }];
  }
}

/** The FUNC_PROTO a FUNC or a typedef to a function pointer leads to. */
function protoOf(btf: Btf, t: BtfType): Extract<BtfType, { kind: typeof Kind.FUNC_PROTO }> | undefined {
  let p = t.kind === Kind.FUNC ? btf.type(t.type) : btf.resolve(t.id);
  if (p.kind === Kind.PTR) p = btf.resolve(p.type);
  return p.kind === Kind.FUNC_PROTO ? p : undefined;
}

/**
 * The attach target of a program of BTF-typed context, found in the kernel's BTF `btf`: `fentry/F` is the
 * function F, `tp_btf/T` the typedef `btf_trace_T` (whose first argument, the tracepoint's own data, is not
 * the program's), `iter/T` the function `bpf_iter_T` (objects after the first may be NULL), `lsm/H` the
 * function `bpf_lsm_H`. A string says why there is none.
 */
export function resolveBtfTarget(btf: Btf, type: ProgramType, attachTo: string): BtfTarget | string {
  const at = type.attachType ?? '';
  const prefix: Record<string, string> = {
    trace_fentry: 'fentry',
    trace_fexit: 'fexit',
    modify_return: 'fmod_ret',
    trace_raw_tp: 'tp_btf',
    trace_iter: 'iter',
    lsm_mac: 'lsm',
    lsm_cgroup: 'lsm_cgroup',
  };
  const what = `${type.name === 'struct_ops' ? 'struct_ops' : (prefix[at] ?? type.name)}/${attachTo}`;
  let found: BtfType | undefined;
  let skip = 0;
  let structOps: { id: number; index: number } | undefined;
  if (type.name === 'struct_ops') {
    // `struct.member`: the function pointer member of a struct_ops type (tcp_congestion_ops.ssthresh).
    const [sname = '', mname = ''] = attachTo.split('.');
    const st = btfNamed(btf, sname, Kind.STRUCT);
    const m = st?.kind === Kind.STRUCT ? st.members.find((x) => x.name === mname) : undefined;
    if (!m || st?.kind !== Kind.STRUCT)
      return `struct_ops/${attachTo}: the kernel's BTF has no struct ${sname} with a member ${mname}`;
    // The kernel implements only the structs it registered as struct_ops types, and not every member of them.
    if (!btfNamed(btf, `bpf_struct_ops_${sname}`, Kind.STRUCT))
      return `struct_ops/${attachTo}: ${sname} is not a struct_ops type of this kernel (its BTF has no struct bpf_struct_ops_${sname})`;
    if (STRUCT_OPS_RULES[sname]?.unsupported?.includes(mname))
      return `struct_ops/${attachTo}: the kernel does not let BPF implement ${sname}.${mname} (attach to unsupported member)`;
    found = btf.type(m.type);
    structOps = { id: st.id, index: st.members.indexOf(m) };
  } else
    switch (at) {
      case 'trace_raw_tp':
        found = btfNamed(btf, `btf_trace_${attachTo}`, Kind.TYPEDEF);
        skip = 1;
        break;
      case 'trace_iter':
        found = btfNamed(btf, `bpf_iter_${attachTo}`, Kind.FUNC);
        break;
      case 'lsm_mac':
      case 'lsm_cgroup':
        found = btfNamed(btf, `bpf_lsm_${attachTo}`, Kind.FUNC);
        break;
      default:
        found = btfNamed(btf, attachTo, Kind.FUNC);
    }
  if (!found)
    return `${what}: the kernel's BTF has no ${at === 'trace_raw_tp' ? 'tracepoint' : 'function'} '${attachTo}' to attach to`;
  const proto = protoOf(btf, found);
  if (!proto) return `${what}: '${found.name}' in the kernel's BTF is not a function`;
  const args: BtfArg[] = [];
  proto.params.slice(skip).forEach((p, i) => {
    args.push(...argOf(btf, p.type, p.name || `arg${i}`, at === 'trace_iter' && i > 0));
  });
  const retVoid = proto.ret === 0;
  // The slot after the arguments: fexit sees the return value (a number for a void function), an LSM
  // program the return value of the programs before it; fmod_ret only for functions returning an int.
  if (at === 'trace_fexit' || at === 'lsm_mac' || at === 'lsm_cgroup') {
    if (retVoid) args.push({ kind: 'scalar', name: 'the return value' });
    else if (at === 'lsm_mac') args.push({ kind: 'scalar', name: 'the return value', retval: true });
    else args.push(...argOf(btf, proto.ret, 'the return value', false));
  } else if (at === 'modify_return') {
    if (!retVoid && btf.resolve(proto.ret).kind === Kind.INT)
      args.push({ kind: 'scalar', name: 'the return value' });
  }
  if (structOps) {
    const [sname = '', mname = ''] = attachTo.split('.');
    return {
      what,
      args: args.map((a) => promoteStructOpsArg(btf, sname, a)),
      retVoid,
      attachBtfId: structOps.id,
      memberIndex: structOps.index,
      structOps: { struct: sname, member: mname },
    };
  }
  return { what, args, retVoid, attachBtfId: found.id };
}

/** What a load of `size` bytes at `off` into a kernel struct yields, or why it is refused. */
export type StructLoad = { kind: 'scalar' } | { kind: 'ptr'; struct: number } | { error: string };

/** An array's innermost element type and how many elements all its dimensions hold together. */
function flattenArray(btf: Btf, id: number): { elem: number; count: number } {
  let t = btf.resolve(id);
  let count = 1;
  for (let depth = 0; t.kind === Kind.ARRAY && depth < MAX_DEPTH; depth++) {
    count *= t.nelems;
    id = t.type;
    t = btf.resolve(id);
  }
  return { elem: id, count };
}

/**
 * A load of `size` bytes at byte `off` of the struct `structId`, walked as the kernel's btf_struct_walk
 * does: members in order; a bitfield is read by a load that starts at or before its first byte and covers
 * its last; a load may not begin in a hole; arrays (of any dimension) are walked into by element, and an
 * integer array may be read across elements; a pointer member only as a whole (a pointer to a struct gives
 * a pointer to it); anything else must end inside its member, except under a union of several members.
 */
export function btfStructLoad(btf: Btf, structId: number, off: number, size: number): StructLoad {
  const name = btf.typeName(structId);
  const fail = (why: string): StructLoad => ({
    error: `reads ${size} bytes at offset ${off} of ${name}: ${why}`,
  });
  if (off < 0) return fail('before its start');
  let t = btf.resolve(structId);
  let at = off;
  // Set when a union of several members was walked: what is read there is not trusted to be one member.
  let untrusted = false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return fail(`${btf.typeName(t.id)} is not a struct`);
    if (t.kind === Kind.UNION && t.members.length !== 1) untrusted = true;
    if (at + size > t.size) {
      // A struct ending in a flexible array of structs may be read past its size, element by element.
      const last = t.members[t.members.length - 1];
      const lt = last && btf.resolve(last.type);
      const moff = last ? Math.floor(last.bitOffset / 8) : 0;
      const elem = lt?.kind === Kind.ARRAY && lt.nelems === 0 ? btf.resolve(lt.type) : undefined;
      if (!elem || at < moff || (elem.kind !== Kind.STRUCT && elem.kind !== Kind.UNION) || elem.size === 0)
        return fail(`past the end of ${btf.typeName(t.id)} (${t.size} bytes)`);
      at = (at - moff) % elem.size;
      t = elem;
      continue;
    }
    let next: { type: BtfType; at: number } | undefined;
    for (const m of t.members) {
      let moff = Math.floor(m.bitOffset / 8);
      if (at + size <= moff) break;
      if (m.bitSize) {
        if (at <= moff && Math.ceil((m.bitOffset + m.bitSize) / 8) <= at + size) return { kind: 'scalar' };
        continue;
      }
      if (at < moff) break; // a hole
      const msize = btf.sizeof(m.type);
      const trueEnd = moff + msize;
      if (at >= trueEnd) continue;
      let mt = btf.resolve(m.type);
      let esize = msize;
      if (mt.kind === Kind.ARRAY) {
        if (msize === 0) continue;
        const { elem, count } = flattenArray(btf, m.type);
        esize = msize / count;
        moff += Math.floor((at - moff) / esize) * esize;
        mt = btf.resolve(elem);
      }
      if (mt.kind === Kind.STRUCT || mt.kind === Kind.UNION) {
        next = { type: mt, at: at - moff };
        break;
      }
      if (mt.kind === Kind.PTR) {
        if (esize !== size || at !== moff)
          return fail(`${m.name || 'a pointer member'} is a pointer, read as 8 bytes from its start`);
        const to = mt.type === 0 ? undefined : structOf(btf, mt.type);
        return to ? { kind: 'ptr', struct: to.id } : { kind: 'scalar' };
      }
      if (at + size > trueEnd && !untrusted) return fail(`past the end of member ${m.name || '(anon)'}`);
      return { kind: 'scalar' };
    }
    if (!next) return fail(`no member of ${btf.typeName(t.id)} is at offset ${at}`);
    t = next.type;
    at = next.at;
  }
  return fail(`its types nest more than ${MAX_DEPTH} deep`);
}

/** BPF_F_SLEEPABLE: the program may sleep (syscall programs must; `.s` sections ask for it). */
export const BPF_F_SLEEPABLE = 1 << 4;

/**
 * What BPF_PROG_LOAD needs besides the instructions to load `p` as libbpf would: the expected attach type
 * (the kernel's number), the attach target's BTF id in the kernel's BTF (tracing, lsm, struct_ops with a
 * `struct.member` target, whose expected attach type is the member's index) and the program flags:
 * `opts.flags` with BPF_F_SLEEPABLE added for syscall programs and `.s` sections. `opts.btf` is the
 * kernel's BTF (default: the host's CO-RE target, read only for types that need it).
 */
export function kernelLoadAttrs(
  p: { type: string; section?: string; attachType?: string; attachTo?: string },
  opts: { flags?: number; btf?: Btf } = {},
): { expectedAttachType: number; attachBtfId?: number; flags: number } {
  const at = programAttachType(p);
  const sleepable = programSleepable(p);
  const out: { expectedAttachType: number; attachBtfId?: number; flags: number } = {
    expectedAttachType: attachTypeNumber(at ?? '') ?? 0,
    flags: (opts.flags ?? 0) | (sleepable ? BPF_F_SLEEPABLE : 0),
  };
  const type = programTypeFor(p.type, at);
  const to = p.attachTo ?? (p.section ? programTypeForSection(p.section)?.attachTo : undefined);
  if (!type?.btfArgs || !to) return out;
  const kbtf = opts.btf ?? coreTarget(undefined)?.btf;
  if (!kbtf) return out;
  const t = resolveBtfTarget(kbtf, type, to);
  if (typeof t === 'string') return out;
  out.attachBtfId = t.attachBtfId;
  if (t.memberIndex !== undefined) out.expectedAttachType = t.memberIndex;
  return out;
}

// What the kernel's struct_ops types add to the BTF context rules (their verifier_ops): the arguments a
// struct's operations see promoted to a larger type, and the fields they may write. Only
// tcp_congestion_ops (net/ipv4/bpf_tcp_ca.c's rules, Linux 6.18) is described; other structs are read-only.

/** Per struct_ops struct: argument types promoted (`sock` is seen as `tcp_sock`) and writable fields. */
const STRUCT_OPS_RULES: Record<
  string,
  { promote: Record<string, string>; writable: WritableField[]; unsupported?: string[] }
> = {
  tcp_congestion_ops: {
    promote: { sock: 'tcp_sock' },
    // bpf_tcp_ca_check_member: get_info stays the kernel's (ENOTSUPP).
    unsupported: ['get_info'],
    // [struct the field is named in, field]: a write must start at the field's first byte (icsk_ca_priv:
    // anywhere in it) and end inside it.
    writable: [
      ['tcp_sock', 'sock', 'sk_pacing_rate'],
      ['tcp_sock', 'sock', 'sk_pacing_status'],
      ['tcp_sock', 'inet_connection_sock', 'icsk_ca_priv', true],
      ['tcp_sock', 'inet_connection_sock', 'icsk_ack.pending'],
      ['tcp_sock', 'tcp_sock', 'snd_cwnd'],
      ['tcp_sock', 'tcp_sock', 'snd_cwnd_cnt'],
      ['tcp_sock', 'tcp_sock', 'snd_cwnd_stamp'],
      ['tcp_sock', 'tcp_sock', 'snd_ssthresh'],
      ['tcp_sock', 'tcp_sock', 'ecn_flags'],
      ['tcp_sock', 'tcp_sock', 'app_limited'],
    ],
  },
};

/** [the pointer's struct, the struct naming the field, field path (`a.b`), writable anywhere inside]. */
type WritableField = [string, string, string, boolean?];

/** A struct_ops argument pointing to a struct its struct_ops type promotes (sock → tcp_sock). */
function promoteStructOpsArg(btf: Btf, struct: string, a: BtfArg): BtfArg {
  if (a.kind !== 'ptr') return a;
  const to = STRUCT_OPS_RULES[struct]?.promote[btf.type(a.struct).name];
  const id = to ? btfStructId(btf, to) : 0;
  return id ? { ...a, struct: id } : a;
}

/**
 * The byte range of field `path` (`icsk_ack.pending`) of struct `structId`, found as offsetof finds it: the
 * first member of that name, looked for in the struct and in the structs embedded in it (by value).
 */
function fieldRange(btf: Btf, structId: number, path: string): { start: number; end: number } | undefined {
  let base = 0;
  let id = structId;
  for (const name of path.split('.')) {
    const hit = findMember(btf, id, name, 0);
    if (!hit) return undefined;
    base += hit.off;
    id = hit.type;
  }
  return { start: base, end: base + btf.sizeof(id) };
}

/** Structs a member search looks into at most: a bound on a hostile target BTF's nesting (tcp_sock: ~20). */
const MAX_SEARCHED = 4096;

function findMember(
  btf: Btf,
  id: number,
  name: string,
  depth: number,
  budget = { left: MAX_SEARCHED },
): { off: number; type: number } | undefined {
  const t = btf.resolve(id);
  if ((t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) || depth > MAX_DEPTH || --budget.left < 0)
    return undefined;
  for (const m of t.members) if (m.name === name) return { off: Math.floor(m.bitOffset / 8), type: m.type };
  for (const m of t.members) {
    const inner = findMember(btf, m.type, name, depth + 1, budget);
    if (inner) return { off: Math.floor(m.bitOffset / 8) + inner.off, type: inner.type };
  }
  return undefined;
}

/**
 * May a struct_ops program write `size` bytes at byte `off` of the kernel struct `structId`? undefined when
 * it may, else the kernel's reason (bpf_tcp_ca_btf_struct_access): only the struct the rules name is
 * writable, at the start of one of its listed fields, and not past that field's end.
 */
export function structOpsWrite(
  btf: Btf,
  target: BtfTarget | undefined,
  structId: number,
  off: number,
  size: number,
): string | undefined {
  const rules = target?.structOps && STRUCT_OPS_RULES[target.structOps.struct];
  const name = btf.type(structId).name;
  const mine = rules?.writable.filter(([ptr]) => ptr === name) ?? [];
  if (mine.length === 0)
    return `${name ? `struct ${name}` : 'this struct'} is read-only here: only read is supported`;
  for (const [, owner, path, anywhere] of mine) {
    const r = fieldRange(btf, btfStructId(btf, owner), path);
    if (!r) continue;
    if (off === r.start || (anywhere && off >= r.start && off < r.end)) {
      if (off + size > r.end)
        return `write access at off ${off} with size ${size} beyond the member of ${name} ended at ${r.end}`;
      return undefined;
    }
  }
  return `no write support to ${name} at off ${off}`;
}

/**
 * Helpers a struct_ops struct's programs get beyond what their program type has (the struct's
 * get_func_proto; tcp_congestion_ops: bpf_tcp_ca_get_func_proto). setsockopt, getsockopt (refused to
 * `release`) and tcp_send_ack are the kernel's too, but take the socket as a BTF pointer where our
 * prototypes take a context: left out, so calls to them are refused (stricter than the kernel, never laxer).
 */
const STRUCT_OPS_HELPERS: Record<string, readonly string[]> = {
  tcp_congestion_ops: ['ktime_get_coarse_ns', 'sk_storage_get', 'sk_storage_delete'],
};

/** The helper `name` is given to programs of the struct_ops member `target` implements. */
export function structOpsHelper(target: BtfTarget | undefined, name: string): boolean {
  const s = target?.structOps?.struct;
  return s !== undefined && (STRUCT_OPS_HELPERS[s]?.includes(name) ?? false);
}
