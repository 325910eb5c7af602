// Loading an ObjectSpec into the Linux kernel: maps created (global data filled and .rodata frozen),
// map references of every program rewritten to the maps' file descriptors, programs loaded. The maps
// implement the same `BpfMap` user-side interface as the user-space runtime's, so `typedMap(map)` gives
// the same `get/set/entries` view over either back end.

import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import { CollectionBase, loadWith } from '../collection/collection.js';
import type { Backend, Program, RunOptions, RunResult } from '../collection/types.js';
import { readObject } from '../elf/index.js';
import { MapError } from '../errors.js';
import { LDDW, PseudoLddw } from '../isa/index.js';
import { type Codec, type TypedMap, typedMap } from '../maps/typed.js';
import type { BpfMap } from '../maps/types.js';
import { Errno } from '../spec/errno.js';
import type { Link, LinkInfo } from '../spec/link.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import { programTypeByName } from '../spec/program-types.js';
import { kernelLoadAttrs } from '../verifier/btf-ctx.js';
import { verify } from '../verifier/index.js';
import { AttachType, XdpFlags } from './attr.js';
import { KernelError, VerifierRejectedError } from './errors.js';
import { ifNameToIndex, type Mapping } from './ffi.js';
import { resolveKfuncCalls } from './kfuncs.js';
import type { IterLink, IterOptions } from './links/iter.js';
import type { KernelAttachment } from './links/link.js';
import {
  type AttachTarget,
  type AutoAttachOptions,
  attachAll,
  attachProgram,
  autoTarget,
} from './links/target.js';
import { trampolineLoadError } from './links/tracing.js';
import { arrayIndex, creationFlags, elementStride, isGlobalDataMap, mapArrayValues } from './mmap-globals.js';
import { withNetns } from './netns.js';
import { makePinParent, openPinnedForReuse, PIN_BY_NAME, pinPath, specShape } from './pinning.js';
import { loadObjectBtf, loadProgramBtf, mapBtfIds, type ObjectBtf, programBtfInfo } from './program-btf.js';
import { KernelRingBuf } from './ringbuf.js';
import { createStructOpsMap, registerStructOps, type StructOpsLink } from './struct-ops.js';
import * as sys from './syscall.js';
import { instrumentVerdicts, sumVerdicts, VERDICT_MAP, VERDICT_NAMES, type VerdictName } from './verdicts.js';

const PER_CPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
]);
const BPF_F_XDP_HAS_FRAGS = 1 << 5;

let possible: number | undefined;

/** Number of possible CPUs (what per-CPU map values are sized by). */
export function possibleCpus(): number {
  if (possible !== undefined) return possible;
  let n = 1;
  try {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    n = 0;
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - a! + 1;
    }
  } catch {
    /* not Linux: one CPU */
  }
  possible = Math.max(1, n);
  return possible;
}

/** A kernel map seen from JavaScript; programs reach it inside the kernel, not through addresses. */
export class KernelMap implements BpfMap {
  readonly perCpu: boolean;
  readonly nCpus: number;
  /** Where the map is pinned (by `pin`, or by name at load), until `unpin`. */
  pinnedPath?: string;
  /** True when the load found the map pinned by name and reused it instead of creating one. */
  reused = false;
  /** Global data: the shared mapping of the values (./mmap-globals.ts); lookups and updates go through it. */
  private mapping?: Mapping;
  private closed = false;

  constructor(
    readonly spec: MapSpec,
    readonly fd: number,
  ) {
    this.perCpu = PER_CPU_TYPES.has(spec.type);
    this.nCpus = this.perCpu ? possibleCpus() : 1;
  }

  /** Bytes of a value as user space sees it (per-CPU: one 8-aligned slot per possible CPU). */
  get userValueSize(): number {
    return this.perCpu ? Math.ceil(this.spec.valueSize / 8) * 8 * this.nCpus : this.spec.valueSize;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const at = this.mapped(key);
    if (at !== undefined) return this.mapping!.bytes.slice(at, at + this.spec.valueSize);
    return this.op('lookup', () => sys.mapLookup(this.fd, key, this.userValueSize));
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    // BPF_ANY/BPF_EXIST of a whole value into a writable mapping: a store, as the program's own.
    const at = this.mapped(key);
    const whole = value.length === this.spec.valueSize && (flags === 0 || flags === 2);
    if (at !== undefined && this.mappingWritable && whole) this.mapping!.bytes.set(value, at);
    else this.op('update', () => sys.mapUpdate(this.fd, key, value, flags));
  }

  /**
   * A global data map's values as live memory shared with the programs (undefined for other maps): reads see
   * the programs' stores at once; writes (not `.rodata`'s) are seen by them.
   */
  get data(): Uint8Array | undefined {
    if (this.closed) return undefined;
    return this.mapping?.bytes.subarray(0, elementStride(this.spec) * this.spec.maxEntries);
  }

  /** Map the values shared (global data maps, created MMAPABLE); `.rodata` read-only, after its freeze. */
  mapValues(writable: boolean): void {
    this.mapping = mapArrayValues(this.fd, this.spec, writable);
    this.mappingWritable = writable;
  }

  private mappingWritable = false;

  /** The byte offset of the key's value in the mapping, when the map is mapped and the key in range. */
  private mapped(key: Uint8Array): number | undefined {
    if (!this.mapping || this.closed) return undefined;
    const i = arrayIndex(this.spec, key);
    return i === undefined ? undefined : i * elementStride(this.spec);
  }

  delete(key: Uint8Array): void {
    const found = this.op('delete', () => sys.mapDelete(this.fd, key));
    if (!found) throw new MapError(Errno.ENOENT, `map ${this.spec.name}: delete: no such key`);
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
    return this.op('next key', () => sys.mapNextKey(this.fd, key, this.spec.keySize));
  }

  /** The Map-like view (`get/set/entries`), with per-CPU values as arrays as in the user-space runtime. */
  typed<K = unknown, V = unknown>(codecs: { key?: Codec<K>; value?: Codec<V> } = {}): TypedMap<K, V> {
    return typedMap<K, V>(this, { ...codecs, cpus: this.nCpus });
  }

  /** A reader of a RINGBUF map's records (mmap-ed; close it when done). */
  ringBuffer(): KernelRingBuf {
    if (this.spec.type !== MapType.RINGBUF) {
      throw new MapError(Errno.EINVAL, `map ${this.spec.name} is not a ring buffer (type ${this.spec.type})`);
    }
    return new KernelRingBuf(this);
  }

  /** Pin the map at `path` (inside bpffs). */
  pin(path: string): void {
    sys.objPin(this.fd, path);
    this.pinnedPath = path;
  }

  /** Remove the map's pin (the one `pin` made, or the load's pin by name); the map lives while open. */
  unpin(): void {
    if (this.pinnedPath === undefined)
      throw new MapError(Errno.ENOENT, `map ${this.spec.name} is not pinned`);
    unlinkSync(this.pinnedPath);
    this.pinnedPath = undefined;
  }

  /** BPF_MAP_FREEZE: user space may only read it from now on. */
  freeze(): void {
    this.op('freeze', () => sys.mapFreeze(this.fd));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mapping?.unmap();
    sys.close(this.fd);
  }

  /** Map operations fail with MapError (like user-space maps), keeping the kernel's errno. */
  private op<T>(what: string, f: () => T): T {
    if (this.closed) throw new MapError(Errno.EBADF, `map ${this.spec.name} is closed`);
    try {
      return f();
    } catch (e) {
      if (e instanceof KernelError)
        throw new MapError(e.errno, `map ${this.spec.name}: ${what}: ${e.message}`);
      throw e;
    }
  }
}

/** A BPF link (an XDP attachment …); closing the link detaches the program. */
export class KernelLink implements Link {
  private closed = false;
  private detached = false;
  constructor(
    readonly fd: number,
    private readonly what: LinkInfo = { kind: 'link', program: '', target: '', backend: 'kernel' },
  ) {}

  /** Detach now (the fd stays open until close). */
  detach(): void {
    if (this.closed || this.detached) return;
    this.detached = true;
    sys.linkDetach(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys.close(this.fd);
  }

  info(): LinkInfo {
    return this.what;
  }
}

/** Options of attaching a kernel program to an interface through a BPF link. */
export interface XdpLinkOptions {
  /** 'skb' (generic), 'native' (driver) or undefined (let the kernel choose). */
  mode?: 'skb' | 'native';
  /** Network namespace of the interface (`ip netns` name or path); default the current one. */
  netns?: string;
}

/** What a kernel test run takes beyond the common options (BPF_PROG_TEST_RUN's other fields). */
export interface KernelRunOptions extends RunOptions {
  /** Room for the context out (default: the context's length). */
  ctxOutSize?: number;
  flags?: number;
  cpu?: number;
}

/** A program loaded in the kernel. */
export class KernelProgram implements Program {
  readonly backend = 'kernel';
  private closed = false;
  constructor(
    readonly spec: ProgramSpec,
    readonly fd: number,
    /** The kernel's verifier log when the load asked for one. */
    readonly log: string,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get type(): string {
    return this.spec.type;
  }

  /** BPF_PROG_TEST_RUN: the same options and result as a user-space program's `run`. */
  run(options: KernelRunOptions): RunResult {
    const r = sys.progTestRun(this.fd, {
      data: options.dataIn,
      ctx: options.ctxIn,
      repeat: options.repeat,
      dataOutSize: options.dataOutSize,
      ctxOutSize: options.ctxOutSize,
      flags: options.flags,
      cpu: options.cpu,
      type: this.spec.type,
    });
    const out: RunResult = {
      retval: r.retval,
      dataOut: r.data,
      durationNs: r.duration,
      repeat: options.repeat ?? 1,
    };
    if (r.ctx) out.ctxOut = r.ctx;
    return out;
  }

  /**
   * Attach to an interface (by name or index; in `options.netns` or the calling thread's network
   * namespace) through a BPF link.
   */
  attachXdp(iface: string | number, options: XdpLinkOptions = {}): KernelLink {
    const attach = (): KernelLink => {
      const ifindex = typeof iface === 'number' ? iface : ifNameToIndex(iface);
      const flags =
        options.mode === 'skb' ? XdpFlags.SKB_MODE : options.mode === 'native' ? XdpFlags.DRV_MODE : 0;
      const fd = sys.linkCreate({ progFd: this.fd, target: ifindex, attachType: AttachType.XDP, flags });
      return new KernelLink(fd, {
        kind: 'xdp',
        program: this.name,
        target: String(iface),
        backend: 'kernel',
      });
    };
    return options.netns ? withNetns(options.netns, attach) : attach();
  }

  /**
   * Attach the program and return the Link: to `target` (an AttachTarget, `{ kind: 'tracepoint', … }`), or
   * where its section says (libbpf's auto-attach: `tracepoint/CAT/NAME`, `uprobe/PATH:FUNC` …), completed
   * by `options` (an interface, a cgroup, a socket …) where the section cannot say.
   */
  attach(target: { kind: 'iter' } & IterOptions): IterLink;
  attach(target?: AttachTarget | AutoAttachOptions): KernelAttachment;
  attach(target?: AttachTarget | AutoAttachOptions): KernelAttachment {
    if (target && 'kind' in target) return attachProgram(this, target);
    return attachProgram(this, autoTarget(this, target));
  }

  pin(path: string): void {
    sys.objPin(this.fd, path);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys.close(this.fd);
  }
}

/** Options of loading an object into the kernel (loadKernelObject). */
export interface KernelLoadOptions {
  /** Verifier log level for every program (0: log only on rejection). */
  logLevel?: number;
  /** Load only these programs (by function name); default all. */
  programs?: readonly string[];
  /** Replace initial contents of maps before load, e.g. `{ '.rodata': [{ key, value }] }`. */
  mapContents?: Record<string, { key: Uint8Array; value: Uint8Array }[]>;
  /** Object name used as a prefix of global-data map names (libbpf style: `udp_drop.rodata`). */
  objectName?: string;
  /** Directory of the maps pinned by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)`); default `/sys/fs/bpf`. */
  pinRoot?: string;
  /**
   * Count each XDP program's verdicts in an extra per-CPU map (`tsbpf_verdicts`), read with
   * `KernelObject.verdicts()`; the kernel keeps no per-verdict statistics of its own.
   */
  countVerdicts?: boolean;
}

/** Maps and programs of an object living in the kernel. `close()` releases every file descriptor. */
export class KernelObject extends CollectionBase<KernelMap, KernelProgram> {
  /** Registrations made by the map update: nothing else undoes them, not even the process's exit. */
  private readonly registered: StructOpsLink[] = [];

  /**
   * Register struct_ops map `name` (`.struct_ops` / `.struct_ops.link`) with its loaded programs: a BPF link
   * for a BPF_F_LINK map, else the map update. Close the Link to unregister (./struct-ops.ts); closing the
   * object unregisters the latter too (a BPF link, as the others, lives until closed or the process ends).
   */
  attachStructOps(name: string): StructOpsLink {
    const m = this.map(name);
    const link = registerStructOps(m.spec, m.fd, (p) => this.programs.get(p)?.fd);
    if (link.linkFd === undefined) this.registered.push(link);
    return link;
  }

  override close(): void {
    for (const l of this.registered.splice(0)) l.close();
    super.close();
  }

  /**
   * Attach every loaded program where its section says (`options` fill in what sections cannot name); all
   * or nothing. Close the Links to detach (before or after closing the object).
   */
  attachAll(options: AutoAttachOptions = {}): KernelAttachment[] {
    return attachAll(this.programs.values(), options);
  }

  /** Verdict totals over all CPUs (objects loaded with `countVerdicts`). */
  verdicts(): Record<VerdictName, bigint> {
    const m = this.map(VERDICT_MAP.name);
    const key = new Uint8Array(4);
    return sumVerdicts(
      VERDICT_NAMES.map((_, slot) => {
        new DataView(key.buffer).setUint32(0, slot, true);
        return m.lookup(key);
      }),
    );
  }
}

/** Our own verifier's reading of a program the kernel refused, to print beside the kernel's log. */
function explain(p: ProgramSpec, spec: ObjectSpec): string {
  try {
    const r = verify(p, { maps: spec.maps, logLevel: 1, ...(spec.btf ? { objectBtf: spec.btf } : {}) });
    return r.accepted
      ? `tsbpf's verifier accepts ${p.name} (processed ${r.insnsProcessed} insns): the kernel is stricter here`
      : r.log;
  } catch (e) {
    return `tsbpf's verifier could not check ${p.name}: ${(e as Error).message}`;
  }
}

/** Kernel program type number for a ProgramSpec type name. */
function kernelProgType(p: ProgramSpec): number {
  const t = programTypeByName(p.type);
  if (!t)
    throw new KernelError('BPF_PROG_LOAD', Errno.EINVAL, `program ${p.name}: unknown program type ${p.type}`);
  return t.kernel;
}

/**
 * Create one map (with a temporary inner map for map-in-map types) and fill its initial contents; with the
 * object's BTF, the map gets its key and value types as libbpf gives them.
 */
function createMap(
  spec: MapSpec,
  name: string,
  btf?: ObjectBtf,
  btfRefused?: string,
  pin?: { root?: string; made: string[] },
): KernelMap {
  const flags = creationFlags(spec);
  // Pinned by name: a compatible map pinned there is taken as it is (./pinning.ts).
  const path = pin && spec.pinning === PIN_BY_NAME ? pinPath(pin.root, name) : undefined;
  const found = path ? openPinnedForReuse(path, spec, specShape(spec, flags, possibleCpus())) : undefined;
  if (found !== undefined) {
    const map = new KernelMap(spec, found);
    map.pinnedPath = path;
    map.reused = true;
    return withMapping(map);
  }
  let inner: number | undefined;
  // The inner map template is typed too: the kernel checks values through it (a spin lock in them).
  if (spec.innerMap) inner = createMap(spec.innerMap, `${name}.inner`, btf, btfRefused).fd;
  let fd: number;
  try {
    const maxEntries =
      spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0 ? possibleCpus() : spec.maxEntries;
    const attrs = {
      type: spec.type,
      keySize: spec.keySize,
      valueSize: spec.valueSize,
      maxEntries,
      flags,
      mapExtra: spec.mapExtra,
      name,
      innerMapFd: inner,
    };
    const typed = mapBtfIds(btf, spec);
    try {
      fd = sys.mapCreate({ ...attrs, ...typed });
    } catch (e) {
      // Without the object's BTF a map that needs it fails for that reason: say so, with the kernel's why.
      if (btfRefused && spec.btfValueTypeId && e instanceof KernelError) {
        throw new KernelError(
          'BPF_MAP_CREATE',
          e.errno,
          `map ${name}, created without BTF: the kernel refused the object's BTF (${btfRefused})`,
        );
      }
      // As libbpf: a map type that takes no BTF types (devmap, cpumap, sockmap, cgroup array …: EINVAL or
      // ENOTSUPP) is created again without them; when that fails too, the first error is the one that says why.
      if (!typed || !(e instanceof KernelError)) throw e;
      try {
        fd = sys.mapCreate(attrs);
      } catch {
        throw e;
      }
    }
  } finally {
    if (inner !== undefined) sys.close(inner);
  }
  const map = new KernelMap(spec, fd);
  try {
    for (const { key, value } of spec.contents ?? []) map.update(key, value);
    if (spec.readonly) sys.mapFreeze(fd);
    withMapping(map);
    if (path) {
      makePinParent(path);
      map.pin(path);
      pin!.made.push(path);
    }
  } catch (e) {
    map.close();
    throw e;
  }
  return map;
}

/** Global data maps get their shared mapping (read-only for a frozen `.rodata`). */
function withMapping(map: KernelMap): KernelMap {
  if (isGlobalDataMap(map.spec) && map.spec.valueSize > 0) {
    try {
      map.mapValues(!map.spec.readonly);
    } catch (e) {
      map.close();
      throw e;
    }
  }
  return map;
}

/** A copy of the program's instructions with map indices replaced by the maps' file descriptors. */
export function relocate(
  p: ProgramSpec,
  fds: readonly number[],
  names: readonly string[],
): ProgramSpec['insns'] {
  return p.insns.map((ins, i) => {
    if (ins.code !== LDDW || (ins.src !== PseudoLddw.MAP_FD && ins.src !== PseudoLddw.MAP_VALUE))
      return { ...ins };
    const fd = fds[ins.imm];
    if (fd === undefined) {
      throw new KernelError(
        'BPF_PROG_LOAD',
        Errno.EINVAL,
        `program ${p.name}: insn ${i} refers to map ${ins.imm}, but the object has ${names.length} map(s)`,
      );
    }
    return { ...ins, imm: fd };
  });
}

/** The kernel back end: maps and programs through bpf(2), slots holding file descriptors. */
function kernelBackend(
  options: KernelLoadOptions,
  prefix: string,
  objectBtf: ObjectBtf | undefined,
  btfRefused: string | undefined,
  pinsMade: string[] = [],
): Backend<KernelMap, KernelProgram> {
  return {
    name: 'kernel',
    createMap: (m) => {
      const contents = options.mapContents?.[m.name];
      // libbpf's names for global data: the object's name before the section (`udp_drop.rodata`), the name
      // cut to leave room for the longest of `.rodata` and the section (`spin_loc.bss`, as libbpf's); a
      // section with a dot of its own (`.data.custom`, `.rodata.str1.1`) keeps its bare name, as there.
      const kname =
        m.name.startsWith('.') && !m.name.includes('.', 1) && prefix
          ? `${prefix.slice(0, Math.max(0, 15 - Math.max(7, m.name.length)))}${m.name}`
          : m.name;
      // struct_ops: the kernel's value type and layout (./struct-ops.ts); filled when registered.
      if (m.type === MapType.STRUCT_OPS) {
        const so = createStructOpsMap(m, kname, objectBtf?.fd);
        return new KernelMap(so.spec, so.fd);
      }
      return createMap(contents ? { ...m, contents } : m, kname, objectBtf, btfRefused, {
        root: options.pinRoot,
        made: pinsMade,
      });
    },
    loadProgram: (original, maps, btfOfObject, spec) => {
      const counting = options.countVerdicts === true && maps.length > 0;
      const p =
        counting && original.type === 'xdp' ? instrumentVerdicts(original, maps.length - 1) : original;
      // The object's shared BTF; a program-only one (closed below) when the kernel refused the object's.
      const own = objectBtf ? undefined : loadProgramBtf(btfOfObject, p);
      const btf = objectBtf ? programBtfInfo(objectBtf, p) : own;
      try {
        const loaded = sys.progLoad({
          type: kernelProgType(p),
          insns: resolveKfuncCalls(
            p,
            relocate(
              p,
              maps.map((m) => m.fd),
              maps.map((m) => m.spec.name),
            ),
          ),
          // No license section: '' as libbpf sends it (the kernel then refuses GPL-only helpers).
          license: p.license || spec.license,
          name: p.name,
          logLevel: options.logLevel ?? 0,
          ...kernelLoadAttrs(p, { flags: p.section.startsWith('xdp.frags') ? BPF_F_XDP_HAS_FRAGS : 0 }),
          kernVersion: spec.kernelVersion ?? 0,
          btfFd: btf?.fd,
          funcInfo: btf?.funcInfo,
          lineInfo: btf?.lineInfo,
        });
        return new KernelProgram(p, loaded.fd, loaded.log);
      } catch (e) {
        if (e instanceof VerifierRejectedError) e.explanation = explain(original, spec);
        throw trampolineLoadError(p, e) ?? e;
      } finally {
        if (own) sys.close(own.fd);
      }
    },
    programRef: (p) => p.fd,
    mapRef: (m) => m.fd,
    // Frozen when created (createMap): nothing to do after the programs are loaded.
    freeze: () => {},
    closeMap: (m) => m.close(),
  };
}

/**
 * Load an object (a parsed ObjectSpec, ELF bytes or a file path) into the kernel. On any failure
 * everything created so far is released and the error (VerifierRejectedError, KernelError) is thrown.
 */
export function loadKernelObject(
  source: ObjectSpec | Uint8Array | string,
  options: KernelLoadOptions = {},
): KernelObject {
  const file = typeof source === 'string' ? source : undefined;
  const parsed =
    typeof source === 'string'
      ? readObject(readFileSync(source), { file: source })
      : source instanceof Uint8Array
        ? readObject(source)
        : source;
  const prefix = options.objectName ?? (file ? (file.split('/').pop() ?? '').replace(/\.o$/, '') : '');
  // Verdict counting adds a per-CPU map of its own, last, which the instrumented XDP programs count into.
  const spec = options.countVerdicts ? { ...parsed, maps: [...parsed.maps, VERDICT_MAP] } : parsed;
  // One BTF object for every map and program, as libbpf loads it; the maps and programs keep their own
  // references to it, so our descriptor is closed once they exist. Refused (a kind or form this kernel
  // does not take), the maps go without BTF and each program gets its functions' types alone, as before.
  let objectBtf: ObjectBtf | undefined;
  let btfRefused: string | undefined;
  try {
    objectBtf = loadObjectBtf(spec);
  } catch (e) {
    btfRefused = (e as Error).message;
  }
  // Pins this load made by name are removed again when it fails (those it reused stay).
  const pinsMade: string[] = [];
  try {
    const impl = kernelBackend(options, prefix, objectBtf, btfRefused, pinsMade);
    const { maps, programs } = loadWith(impl, spec, options);
    return new KernelObject(parsed, maps, programs, impl);
  } catch (e) {
    for (const p of pinsMade) rmSync(p, { force: true });
    throw e;
  } finally {
    if (objectBtf) sys.close(objectBtf.fd);
  }
}
