// Live inspection of what the kernel holds, as bpftool shows it: every program, map, link and BTF object by
// id (BPF_*_GET_NEXT_ID), opened by id (BPF_*_GET_FD_BY_ID) or by pin (BPF_OBJ_GET), and described
// (BPF_OBJ_GET_INFO_BY_FD, plus /proc/self/fdinfo for what only it tells: memlock, frozen). A map's BTF is
// fetched by id so its keys and values can be formatted with their types.
//
// The struct offsets are those of include/uapi/linux/bpf.h (6.x); the kernel copies min(our size, its size)
// of each info struct, so older kernels leave the newer fields zero.

import { readFileSync } from 'node:fs';
import { type Btf, parseBtf } from '../btf/index.js';
import { MapType } from '../spec/maps.js';
import { programTypeByNumber } from '../spec/program-types.js';
import { CMD_NAMES, InfoByFd } from './attr.js';
import { KernelError } from './errors.js';
import { type Arena, arena, closeFd, nativeLibc } from './ffi.js';
import { type MapInfoResult, mapInfo, objGet } from './syscall.js';

/** The commands used here (enum bpf_cmd). */
const C = {
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  BTF_GET_FD_BY_ID: 19,
  BTF_GET_NEXT_ID: 23,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
} as const;

const NAMES: Readonly<Record<number, string>> = {
  ...CMD_NAMES,
  ...Object.fromEntries(Object.entries(C).map(([name, n]) => [n, `BPF_${name}`])),
};

const ENOENT = 2;
/** More objects than a machine holds: a bound on every id walk. */
const MAX_OBJECTS = 1 << 20;

function call(a: Arena, cmd: number, size: number, detail?: string): number {
  const r = a.call(cmd, size);
  if (r < 0) throw new KernelError(NAMES[cmd] ?? `bpf cmd ${cmd}`, -r, detail);
  return r;
}

/** The kind of a BPF object. */
export type ObjectKind = 'prog' | 'map' | 'link' | 'btf';

const NEXT: Record<ObjectKind, number> = {
  prog: C.PROG_GET_NEXT_ID,
  map: C.MAP_GET_NEXT_ID,
  link: C.LINK_GET_NEXT_ID,
  btf: C.BTF_GET_NEXT_ID,
};
const BY_ID: Record<ObjectKind, number> = {
  prog: C.PROG_GET_FD_BY_ID,
  map: C.MAP_GET_FD_BY_ID,
  link: C.LINK_GET_FD_BY_ID,
  btf: C.BTF_GET_FD_BY_ID,
};

/** Every id of `kind` the kernel holds now, ascending (objects freed meanwhile are simply not seen). */
export function objectIds(kind: ObjectKind): number[] {
  const out: number[] = [];
  let id = 0;
  for (;;) {
    const a = arena();
    a.begin(0);
    a.view.setUint32(0, id, true); // start_id
    const r = a.call(NEXT[kind], 12);
    if (r === -ENOENT) return out;
    if (r < 0) throw new KernelError(NAMES[NEXT[kind]]!, -r);
    id = a.view.getUint32(4, true); // next_id
    out.push(id);
    if (out.length > MAX_OBJECTS) throw new KernelError(NAMES[NEXT[kind]]!, 7, 'more ids than can exist');
  }
}

/** Open the object of `kind` with `id`: a new file descriptor (ENOENT when there is none). */
export function openById(kind: ObjectKind, id: number): number {
  const a = arena();
  a.begin(0);
  a.view.setUint32(0, id, true);
  return call(a, BY_ID[kind], 12, `${kind} id ${id}`);
}

/** The fields of /proc/self/fdinfo/FD (`key:\tvalue` lines). */
export function fdInfo(fd: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

/** What a file descriptor is: a program, map, link or BTF object (from its fdinfo), or none. */
export function fdKind(fd: number): ObjectKind | undefined {
  const info = fdInfo(fd);
  if (info.has('prog_type')) return 'prog';
  if (info.has('map_type')) return 'map';
  if (info.has('link_type')) return 'link';
  if (info.has('btf_id')) return 'btf';
  return undefined;
}

/** Open a pinned object and say what it is; a path that is not a BPF object fails with a KernelError. */
export function openPinned(path: string): { fd: number; kind: ObjectKind } {
  const fd = objGet(path);
  const kind = fdKind(fd);
  if (!kind) {
    closeFd(fd);
    throw new KernelError('BPF_OBJ_GET', 22, `${path} is not a program, map or link`);
  }
  return { fd, kind };
}

/** Run `fn` on a descriptor and close it after. */
export function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}

/** BPF_OBJ_GET_INFO_BY_FD into `size` zeroed bytes, with pointer fields set by `fill`; returns the offset. */
function getInfo(a: Arena, fd: number, size: number, extra: number, fill?: (info: number) => void): number {
  a.begin(size + extra);
  const info = a.reserve(size);
  fill?.(info);
  a.view.setUint32(InfoByFd.bpf_fd, fd, true);
  a.view.setUint32(InfoByFd.info_len, size, true);
  a.setPointer(InfoByFd.info, info);
  call(a, 15, InfoByFd.SIZE, `fd ${fd}`);
  return info;
}

const latin = new TextDecoder();

function cString(bytes: Uint8Array, at: number, max: number): string {
  const end = bytes.indexOf(0, at);
  return latin.decode(bytes.subarray(at, end < 0 || end > at + max ? at + max : end));
}

function u64(v: DataView, at: number): number {
  return v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x100000000;
}

/** struct bpf_prog_info: the offsets read here. */
const P = {
  type: 0,
  id: 4,
  tag: 8,
  jited_prog_len: 16,
  xlated_prog_len: 20,
  load_time: 40,
  created_by_uid: 48,
  nr_map_ids: 52,
  map_ids: 56,
  name: 64,
  gpl_compatible: 84,
  btf_id: 128,
  run_time_ns: 192,
  run_cnt: 200,
  verified_insns: 216,
  SIZE: 232,
} as const;

/** A program as bpftool's `prog show` describes it. */
export interface ProgDetails {
  id: number;
  /** BPF_PROG_TYPE_* number and its name (lower case, as bpftool prints it). */
  type: number;
  typeName: string;
  name: string;
  tag: string;
  gplCompatible: boolean;
  /** Load time, seconds since the epoch (the kernel keeps ns since boot). */
  loadedAt: number;
  uid: number;
  xlatedBytes: number;
  jitedBytes: number;
  /** Bytes charged to the memlock limit (fdinfo). */
  memlock: number;
  mapIds: number[];
  btfId: number;
  runTimeNs: number;
  runCount: number;
  verifiedInsns: number;
}

let clockGettime: ((clock: number, ts: Uint8Array) => number) | undefined;

/** clock_gettime(clock) as [seconds, nanoseconds]. */
function clock(id: number): [number, number] {
  clockGettime ??= nativeLibc().libc.func('int clock_gettime(int clk, void *ts)') as (
    clock: number,
    ts: Uint8Array,
  ) => number;
  const ts = new Uint8Array(16);
  clockGettime(id, ts);
  const v = new DataView(ts.buffer);
  return [u64(v, 0), u64(v, 8)];
}

/** A kernel time (ns since boot, CLOCK_BOOTTIME) as whole seconds since the epoch, computed as bpftool does. */
function wallSeconds(bootNs: number): number {
  const [rs, rn] = clock(0); // CLOCK_REALTIME
  const [bs, bn] = clock(7); // CLOCK_BOOTTIME
  return rs - bs + Math.floor((rn - bn + bootNs) / 1e9);
}

/** Describe the program behind `fd`. */
export function progDetails(fd: number): ProgDetails {
  const a = arena();
  // First the number of maps, then again with room for their ids.
  let info = getInfo(a, fd, P.SIZE, 0);
  const nMaps = a.view.getUint32(info + P.nr_map_ids, true);
  info = getInfo(a, fd, P.SIZE, 4 * nMaps + 8, (at) => {
    const ids = a.reserve(4 * nMaps);
    a.view.setUint32(at + P.nr_map_ids, nMaps, true);
    if (nMaps) a.setPointer(at + P.map_ids, ids);
  });
  const v = a.view;
  const idsAt = info + P.SIZE;
  const got = Math.min(nMaps, v.getUint32(info + P.nr_map_ids, true));
  const mapIds = Array.from({ length: got }, (_, i) => v.getUint32(idsAt + 4 * i, true));
  const type = v.getUint32(info + P.type, true);
  let tag = '';
  for (let i = 0; i < 8; i++) tag += a.bytes[info + P.tag + i]!.toString(16).padStart(2, '0');
  const loadNs = u64(v, info + P.load_time);
  const details: ProgDetails = {
    id: v.getUint32(info + P.id, true),
    type,
    typeName: programTypeByNumber(type)?.name ?? `type ${type}`,
    name: cString(a.bytes, info + P.name, 16),
    tag,
    gplCompatible: (v.getUint32(info + P.gpl_compatible, true) & 1) === 1,
    loadedAt: wallSeconds(loadNs),
    uid: v.getUint32(info + P.created_by_uid, true),
    xlatedBytes: v.getUint32(info + P.xlated_prog_len, true),
    jitedBytes: v.getUint32(info + P.jited_prog_len, true),
    memlock: 0,
    mapIds,
    btfId: v.getUint32(info + P.btf_id, true),
    runTimeNs: u64(v, info + P.run_time_ns),
    runCount: u64(v, info + P.run_cnt),
    verifiedInsns: v.getUint32(info + P.verified_insns, true),
  };
  details.memlock = Number(fdInfo(fd).get('memlock') ?? 0);
  return details;
}

/** A map as bpftool's `map show` describes it. */
export interface MapDetails extends MapInfoResult {
  /** BPF_MAP_TYPE_* lower case (bpftool's names). */
  typeName: string;
  memlock: number;
  frozen: boolean;
}

const MAP_TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(MapType).map(([name, n]) => [n as number, name.toLowerCase()]),
);

/** Describe the map behind `fd`. */
export function mapDetails(fd: number): MapDetails {
  const info = mapInfo(fd);
  const fdi = fdInfo(fd);
  return {
    ...info,
    typeName: MAP_TYPE_NAMES.get(info.type) ?? `type ${info.type}`,
    memlock: Number(fdi.get('memlock') ?? 0),
    frozen: fdi.get('frozen') === '1',
  };
}

/** enum bpf_link_type, as bpftool names them. */
const LINK_TYPES = [
  'unspec',
  'raw_tracepoint',
  'tracing',
  'cgroup',
  'iter',
  'netns',
  'xdp',
  'perf_event',
  'kprobe_multi',
  'struct_ops',
  'netfilter',
  'tcx',
  'uprobe_multi',
  'netkit',
  'sockmap',
];
const LINK_XDP = 6;
const LINK_TCX = 11;
const LINK_NETKIT = 13;

/** A link as bpftool's `link list` describes it (the target fields it prints for the common kinds). */
export interface LinkDetails {
  id: number;
  type: number;
  typeName: string;
  progId: number;
  /** The interface of an XDP, tcx or netkit link. */
  ifindex?: number;
}

/** Describe the link behind `fd`. */
export function linkDetails(fd: number): LinkDetails {
  const a = arena();
  const info = getInfo(a, fd, 64, 0);
  const v = a.view;
  const type = v.getUint32(info, true);
  const out: LinkDetails = {
    id: v.getUint32(info + 4, true),
    type,
    typeName: LINK_TYPES[type] ?? `type ${type}`,
    progId: v.getUint32(info + 8, true),
  };
  // The union after the common part starts at 16; xdp, tcx and netkit begin with the ifindex.
  if (type === LINK_XDP || type === LINK_TCX || type === LINK_NETKIT)
    out.ifindex = v.getUint32(info + 16, true);
  return out;
}

/** Largest BTF object fetched (the kernel's vmlinux BTF is a few MiB). */
const MAX_BTF = 64 * 1024 * 1024;

/** The raw BTF of the kernel's BTF object `id`, and whether it is the kernel's own (vmlinux or a module). */
export function btfById(id: number): { bytes: Uint8Array; kernel: boolean; name: string } {
  return withFd(openById('btf', id), (fd) => {
    const a = arena();
    // struct bpf_btf_info { u64 btf; u32 btf_size; u32 id; u64 name; u32 name_len; u32 kernel_btf; }
    let info = getInfo(a, fd, 32, 0);
    const size = a.view.getUint32(info + 8, true);
    if (size > MAX_BTF) throw new KernelError('BPF_OBJ_GET_INFO_BY_FD', 7, `BTF ${id} is ${size} bytes`);
    info = getInfo(a, fd, 32, size + 64 + 16, (at) => {
      const buf = a.reserve(size);
      const name = a.reserve(64);
      a.setPointer(at, buf);
      a.view.setUint32(at + 8, size, true);
      a.setPointer(at + 16, name);
      a.view.setUint32(at + 24, 64, true);
    });
    const bufAt = info + 32;
    const nameAt = bufAt + Math.ceil(size / 8) * 8;
    return {
      bytes: a.bytes.slice(bufAt, bufAt + size),
      kernel: a.view.getUint32(info + 28, true) !== 0,
      name: cString(a.bytes, nameAt, 64),
    };
  });
}

let vmlinux: Btf | undefined;

/**
 * The kernel's BTF object `id` parsed, to format a map's keys and values. Module BTF is split BTF on top of
 * vmlinux's, which is read from /sys/kernel/btf/vmlinux.
 */
export function kernelBtf(id: number): Btf {
  const { bytes, kernel, name } = btfById(id);
  if (kernel && name !== 'vmlinux') {
    vmlinux ??= parseBtf(readFileSync('/sys/kernel/btf/vmlinux'), 'vmlinux');
    return parseBtf(bytes, `BTF ${id} (${name})`, vmlinux);
  }
  return parseBtf(bytes, `BTF ${id}`);
}
