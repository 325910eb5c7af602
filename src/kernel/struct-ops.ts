// struct_ops maps in the kernel, as libbpf and the kernel do it: the map is created with the kernel's value
// type (`struct bpf_struct_ops_<name>` in vmlinux BTF, whose `data` member is the struct itself), and its
// value is built in the kernel's layout — the object's members matched by name: data members copied (sizes
// must agree), function pointers set to the file descriptors of the programs that implement them, members
// the object lacks left zero. Registering writes that value (BPF_MAP_UPDATE_ELEM); a `.struct_ops.link`
// map (BPF_F_LINK) is then registered by BPF_LINK_CREATE (attach type BPF_STRUCT_OPS, the map's fd), any
// other by the update itself, and unregistered by deleting the element. Either way a Link: close it to
// unregister.

import { coreTarget } from '../btf/core/target.js';
import type { Btf } from '../btf/parse.js';
import { Kind, type TypeOfKind } from '../btf/types.js';
import { TsbpfError } from '../errors.js';
import { attachTypeNumber } from '../spec/attach-types.js';
import type { Link, LinkInfo } from '../spec/link.js';
import type { MapSpec } from '../spec/maps.js';
import { btfNamed } from '../verifier/btf-ctx.js';
import * as sys from './syscall.js';

/** BPF_F_LINK: registered by BPF_LINK_CREATE rather than by the map update. */
const BPF_F_LINK = 1 << 13;

/** Where the kernel keeps a struct_ops map's struct: its value type and the `data` member in it. */
export interface StructOpsLayout {
  /** `struct bpf_struct_ops_<name>`'s id in the kernel's BTF (BPF_MAP_CREATE's btf_vmlinux_value_type_id). */
  valueTypeId: number;
  /** Bytes of that value type: the map's value size. */
  valueSize: number;
  /** Byte offset of `data` (the struct) in the value. */
  dataOffset: number;
  /** The kernel's struct (`tcp_congestion_ops`). */
  struct: TypeOfKind<typeof Kind.STRUCT>;
}

/** An error naming the map (and member) it is about. */
const fail = (map: string, why: string) => new TsbpfError(`struct_ops map ${map}: ${why}`);

/** The kernel's BTF: given, or the host's (the running kernel's under Node). */
function kernelBtf(map: string, btf?: Btf): Btf {
  const b = btf ?? coreTarget(undefined)?.btf;
  if (!b) throw fail(map, "the kernel's BTF (/sys/kernel/btf/vmlinux) is needed to lay out its value");
  return b;
}

/** The kernel's layout for struct_ops map `spec`; throws naming the map when the kernel has no such type. */
export function structOpsLayout(spec: MapSpec, btf?: Btf): StructOpsLayout {
  const name = spec.structOps?.struct;
  if (!name) throw fail(spec.name, 'the map does not say which struct it implements (MapSpec.structOps)');
  const kbtf = kernelBtf(spec.name, btf);
  const value = btfNamed(kbtf, `bpf_struct_ops_${name}`, Kind.STRUCT);
  const data = value?.kind === Kind.STRUCT ? value.members.find((m) => m.name === 'data') : undefined;
  const struct = data && kbtf.resolve(data.type);
  if (value?.kind !== Kind.STRUCT || !data || struct?.kind !== Kind.STRUCT)
    throw fail(
      spec.name,
      `the kernel has no struct_ops type ${name} (no struct bpf_struct_ops_${name} in its BTF)`,
    );
  return { valueTypeId: value.id, valueSize: value.size, dataOffset: data.bitOffset / 8, struct };
}

/**
 * The map's value in the kernel's layout, function pointers set from `fdOf(program)`. Throws naming the map
 * and the member: a member the kernel's struct lacks (and the object sets), a function pointer against a
 * data member, sizes that differ, a program not loaded.
 */
export function structOpsValue(
  spec: MapSpec,
  layout: StructOpsLayout,
  fdOf: (program: string) => number | undefined,
  btf?: Btf,
): Uint8Array {
  const kbtf = kernelBtf(spec.name, btf);
  const out = new Uint8Array(layout.valueSize);
  const view = new DataView(out.buffer);
  const mine = spec.contents?.[0]?.value ?? new Uint8Array(spec.valueSize);
  for (const m of spec.structOps?.members ?? []) {
    const bytes = mine.subarray(m.offset, m.offset + m.size);
    const set = m.program !== undefined || bytes.some((b) => b !== 0);
    const k = layout.struct.members.find((x) => x.name === m.name);
    const where = (why: string) => fail(spec.name, `member ${m.name}: ${why}`);
    if (!k) {
      // As libbpf: a member the running kernel lacks may be left out only when the object leaves it empty.
      if (set) throw where(`the kernel's struct ${layout.struct.name} has no such member`);
      continue;
    }
    if (k.bitSize) throw where('bitfield members are not supported');
    const at = layout.dataOffset + k.bitOffset / 8;
    const kt = kbtf.resolve(k.type);
    const kFunc = kt.kind === Kind.PTR && kt.type !== 0 && kbtf.resolve(kt.type).kind === Kind.FUNC_PROTO;
    if (m.funcPtr !== kFunc)
      throw where(
        `a ${m.funcPtr ? 'function pointer' : 'data member'} in the object, ${kFunc ? 'a function pointer' : 'data'} in the kernel`,
      );
    if (kFunc) {
      if (m.program === undefined) continue;
      const fd = fdOf(m.program);
      if (fd === undefined) throw where(`its program ${m.program} is not loaded`);
      view.setBigUint64(at, BigInt(fd), true);
      continue;
    }
    const size = kbtf.sizeof(k.type);
    if (size !== m.size)
      throw where(`${m.size} bytes in the object, ${size} in the kernel's struct ${layout.struct.name}`);
    out.set(bytes, at);
  }
  return out;
}

/**
 * BPF_MAP_CREATE for a struct_ops map: the kernel's value type and size (the object's value is written when
 * the map is registered). Returns the fd and the spec as the kernel holds the map.
 */
export function createStructOpsMap(
  spec: MapSpec,
  name: string,
  objectBtfFd: number | undefined,
  btf?: Btf,
): { fd: number; spec: MapSpec } {
  // The kernel wants a BTF object with the map even though the value is its own type (map_create).
  if (objectBtfFd === undefined)
    throw fail(spec.name, "the kernel needs the object's BTF loaded to create it, and it was not");
  const layout = structOpsLayout(spec, btf);
  // Checked now, as libbpf does when it loads: a member that cannot be laid out fails the load, not the attach.
  structOpsValue(spec, layout, () => 0, btf);
  const fd = sys.mapCreate({
    type: spec.type,
    keySize: 4,
    valueSize: layout.valueSize,
    maxEntries: 1,
    flags: spec.flags,
    name,
    btfFd: objectBtfFd,
    btfVmlinuxValueTypeId: layout.valueTypeId,
  });
  return { fd, spec: { ...spec, valueSize: layout.valueSize } };
}

/** A registered struct_ops map: closing it unregisters (the link, or the map's element). */
export class StructOpsLink implements Link {
  private detached = false;
  private closed = false;

  constructor(
    /** The BPF link's fd (BPF_F_LINK maps), else undefined: the map update registered it. */
    readonly linkFd: number | undefined,
    private readonly mapFd: number,
    private readonly what: LinkInfo,
  ) {}

  /** Unregister: the link detached, or the map's element deleted (the kernel then retires the struct). */
  detach(): void {
    if (this.detached || this.closed) return;
    this.detached = true;
    if (this.linkFd !== undefined) sys.linkDetach(this.linkFd);
    else sys.mapDelete(this.mapFd, new Uint8Array(4));
  }

  close(): void {
    if (this.closed) return;
    try {
      if (this.linkFd === undefined) this.detach();
    } finally {
      this.closed = true;
      if (this.linkFd !== undefined) sys.close(this.linkFd);
    }
  }

  info(): LinkInfo {
    return this.what;
  }
}

/**
 * Register struct_ops map `spec` (created by createStructOpsMap, fd `mapFd`) with its programs' fds: its value
 * written, then for a BPF_F_LINK map a BPF_LINK_CREATE. Errors name the map.
 */
export function registerStructOps(
  spec: MapSpec,
  mapFd: number,
  fdOf: (program: string) => number | undefined,
  btf?: Btf,
): StructOpsLink {
  const layout = structOpsLayout(spec, btf);
  const value = structOpsValue(spec, layout, fdOf, btf);
  const what: LinkInfo = {
    kind: 'struct_ops',
    program: (spec.structOps?.members ?? []).flatMap((m) => (m.program ? [m.program] : [])).join(','),
    target: `${layout.struct.name} ${spec.name}`,
    backend: 'kernel',
  };
  try {
    sys.mapUpdate(mapFd, new Uint8Array(4), value);
  } catch (e) {
    throw fail(spec.name, `registering it (BPF_MAP_UPDATE_ELEM): ${(e as Error).message}`);
  }
  if (!(spec.flags & BPF_F_LINK)) return new StructOpsLink(undefined, mapFd, what);
  try {
    const fd = sys.linkCreate({ progFd: mapFd, target: 0, attachType: attachTypeNumber('struct_ops')! });
    return new StructOpsLink(fd, mapFd, what);
  } catch (e) {
    throw fail(spec.name, `registering it (BPF_LINK_CREATE): ${(e as Error).message}`);
  }
}
