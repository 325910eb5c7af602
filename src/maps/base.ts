// What every map type shares: the handle (a small 'map' region whose address is the map's identity), the
// program-side operations on linear-memory addresses, and the user-side operations on bytes. User-side
// calls copy their key and value into a per-map scratch area and go through the same program-side code,
// so each rule (flags, errnos, eviction) is written once.

import { MapError } from '../errors.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno, errnoMessage, KernelErrno } from '../spec/errno.js';
import { type MapSpec, UpdateFlag } from '../spec/maps.js';
import type { RuntimeMap } from './types.js';

/** Options every map gets from its runtime. */
export interface MapOptions {
  /** Number of simulated CPUs: per-CPU maps keep one value per CPU. */
  cpus: number;
  /**
   * The kernel's NR_CPUS, the most entries a CPUMAP may have (default 8192, as distribution kernels
   * build; /sys/devices/system/cpu/kernel_max + 1 on a given machine).
   */
  nrCpus?: number;
}

export function roundUp8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Throw the MapError for a negative errno returned by a program-side operation. */
export function mapFail(spec: MapSpec, op: string, negErrno: number, detail?: string): never {
  const errno = -negErrno;
  throw new MapError(errno, `map '${spec.name}': ${op}: ${detail ?? errnoMessage(errno)}`);
}

/** Maps by handle address, per address space, so map-in-map values (a map's address) can be resolved. */
const mapsBySpace = new WeakMap<AddressSpace, Map<number, MapBase>>();

/** The map whose handle is at `addr` in `space`, if any. */
export function mapInSpace(space: AddressSpace, addr: number): MapBase | undefined {
  return mapsBySpace.get(space)?.get(addr);
}

/**
 * What every map in linear memory has: its spec, its handle region, its values per CPU, and the user-side
 * operations.
 */
export abstract class MapBase implements RuntimeMap {
  readonly addr: number;
  readonly handle: Region;
  /** CPUs whose values a per-CPU map keeps (1 for shared maps). */
  readonly nCpus: number;
  /** round_up(value_size, 8): distance between consecutive values, and per-CPU value size for user space. */
  readonly valueStride: number;
  /** Whether user space sees one value per CPU. */
  readonly perCpu: boolean;
  /** After `freeze()`, user-space writes fail with EPERM (as BPF_MAP_FREEZE). */
  frozen = false;
  /**
   * Bytes charged against the address space's map memory limit (createMap charges the map at its largest;
   * perf buffers add theirs as they open); `close()` gives them back.
   */
  memoryCharged = 0;
  private readonly scratch: Region;
  protected readonly scratchKey: number;
  protected readonly scratchValue: number;
  private readonly owned: Region[] = [];
  private u8cache: Uint8Array;
  private dvcache: DataView;

  constructor(
    readonly space: AddressSpace,
    readonly spec: MapSpec,
    opts: MapOptions,
    perCpu = false,
  ) {
    this.u8cache = space.bytes;
    this.dvcache = space.view;
    this.perCpu = perCpu;
    this.nCpus = perCpu ? Math.max(1, opts.cpus) : 1;
    this.valueStride = roundUp8(spec.valueSize);
    this.handle = space.allocate(8, 'map', `map ${spec.name}`, false);
    this.handle.owner = this;
    this.addr = this.handle.start;
    const keyBytes = roundUp8(Math.max(spec.keySize, 8));
    this.scratch = this.own(
      space.allocate(keyBytes * 2 + this.valueStride * this.nCpus, 'scratch', `map ${spec.name} scratch`),
    );
    this.scratchKey = this.scratch.start;
    this.scratchValue = this.scratch.start + keyBytes * 2;
    let byAddr = mapsBySpace.get(space);
    if (!byAddr) {
      byAddr = new Map();
      mapsBySpace.set(space, byAddr);
    }
    byAddr.set(this.addr, this);
  }

  /**
   * Views over linear memory, cached for the program path (the address space's getters check the
   * buffer on every call). Growing the memory detaches the old buffer, which shows as length 0.
   */
  protected get u8(): Uint8Array {
    if (this.u8cache.length === 0) this.refreshViews();
    return this.u8cache;
  }

  protected get dv(): DataView {
    if (this.u8cache.length === 0) this.refreshViews();
    return this.dvcache;
  }

  private refreshViews(): void {
    this.u8cache = this.space.bytes;
    this.dvcache = this.space.view;
  }

  /** Record a region so `close()` gives it back. */
  protected own(region: Region): Region {
    region.owner = this;
    this.owned.push(region);
    return region;
  }

  /** Bytes of a value as user space passes and receives it (all CPUs for per-CPU maps). */
  get userValueSize(): number {
    return this.perCpu ? this.valueStride * this.nCpus : this.spec.valueSize;
  }

  // --- program side ------------------------------------------------------------------------------

  abstract lookupPtr(keyAddr: number, cpu: number): number;
  /** `cpu` < 0: the value at valueAddr holds every CPU's value (user-space layout). */
  abstract updatePtr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  abstract deletePtr(keyAddr: number): number;
  /** Write the key after the one at keyAddr (the first when keyAddr is 0) to outAddr; 0 or -errno. */
  abstract nextKeyPtr(keyAddr: number, outAddr: number): number;

  /** Value address for a user-side lookup: like lookupPtr but without side effects (LRU recency). */
  protected peekPtr(keyAddr: number, cpu: number): number {
    return this.lookupPtr(keyAddr, cpu);
  }

  /**
   * bpf_for_each_map_elem: call fn(keyAddr, valueAddr) per element until it returns true; the number of
   * elements visited, or -EINVAL for map types that do not support it.
   */
  forEachPtr(_cpu: number, _fn: (keyAddr: number, valueAddr: number) => boolean): number {
    return -Errno.EINVAL;
  }

  // --- user side ---------------------------------------------------------------------------------

  protected putKey(key: Uint8Array | undefined, op: string): number {
    if (!key) return 0;
    if (key.length !== this.spec.keySize) {
      throw new MapError(
        Errno.EINVAL,
        `map '${this.spec.name}': ${op}: key must be ${this.spec.keySize} bytes, got ${key.length}`,
      );
    }
    this.space.write(this.scratchKey, key);
    return this.scratchKey;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const k = this.putKey(key, 'lookup');
    if (!this.perCpu) {
      const v = this.peekPtr(k, 0);
      if (v === 0) return undefined;
      // As the kernel's lookup: a bpf_timer in the value reads as zeros (its bytes are the runtime's).
      const out = this.space.read(v, this.spec.valueSize);
      const timer = this.spec.timerOffset;
      if (timer !== undefined) out.fill(0, timer, timer + 16);
      return out;
    }
    const out = new Uint8Array(this.userValueSize);
    for (let cpu = 0; cpu < this.nCpus; cpu++) {
      const v = this.peekPtr(k, cpu);
      if (v === 0) return undefined;
      out.set(this.u8.subarray(v, v + this.spec.valueSize), cpu * this.valueStride);
    }
    return out;
  }

  update(key: Uint8Array, value: Uint8Array, flags: number = UpdateFlag.ANY): void {
    if (this.frozen) mapFail(this.spec, 'update', -Errno.EPERM, 'map is frozen');
    const k = this.putKey(key, 'update');
    if (value.length !== this.userValueSize) {
      throw new MapError(
        Errno.EINVAL,
        `map '${this.spec.name}': update: value must be ${this.userValueSize} bytes${this.perCpu ? ` (${this.nCpus} CPUs x ${this.valueStride})` : ''}, got ${value.length}`,
      );
    }
    this.space.write(this.scratchValue, value);
    const r = this.updatePtr(k, this.scratchValue, flags, -1);
    if (r < 0) mapFail(this.spec, 'update', r);
  }

  delete(key: Uint8Array): void {
    if (this.frozen) mapFail(this.spec, 'delete', -Errno.EPERM, 'map is frozen');
    const r = this.deletePtr(this.putKey(key, 'delete'));
    if (r < 0) mapFail(this.spec, 'delete', r);
  }

  nextKey(key: Uint8Array | undefined): Uint8Array | undefined {
    const k = this.putKey(key, 'get next key');
    const out = this.scratchKey + roundUp8(Math.max(this.spec.keySize, 8));
    const r = this.nextKeyPtr(k, out);
    if (r === -Errno.ENOENT) return undefined;
    if (r < 0) mapFail(this.spec, 'get next key', r);
    return this.space.read(out, this.spec.keySize);
  }

  /** BPF_MAP_FREEZE: user space can no longer change the map. */
  freeze(): void {
    this.frozen = true;
  }

  /** Release a region recorded with `own` before the map closes (a ring that grew). */
  protected disown(region: Region): void {
    const i = this.owned.indexOf(region);
    if (i >= 0) this.owned.splice(i, 1);
    this.space.release(region);
  }

  /** Give the map's memory back to the address space, and its charge to the map memory limit. */
  close(): void {
    for (const r of this.owned) this.space.release(r);
    this.owned.length = 0;
    this.space.release(this.handle);
    mapsBySpace.get(this.space)?.delete(this.addr);
    this.space.mapMemoryCharged -= this.memoryCharged;
    this.memoryCharged = 0;
  }

  /** Copy a value in: one CPU's value (cpu >= 0) or all CPUs from the user layout (cpu < 0). */
  protected writeValue(dst: number, cpuStride: number, src: number, cpu: number, fresh: boolean): void {
    const b = this.u8;
    const size = this.spec.valueSize;
    if (!this.perCpu) {
      // copy_map_value: a bpf_spin_lock or bpf_timer inside the value is never overwritten by an update;
      // a new element's start zeroed (check_and_init_map_value: a reused slot holds no old timer or lock).
      let from = 0;
      for (const [at, n] of this.specialFields()) {
        b.copyWithin(dst + from, src + from, src + at);
        if (fresh) b.fill(0, dst + at, dst + at + n);
        from = at + n;
      }
      b.copyWithin(dst + from, src + from, src + size);
      return;
    }
    if (cpu < 0) {
      for (let c = 0; c < this.nCpus; c++) {
        b.copyWithin(dst + c * cpuStride, src + c * this.valueStride, src + c * this.valueStride + size);
      }
      return;
    }
    // A program creating a per-CPU element sets its own CPU's value; the others start zeroed.
    if (fresh)
      for (let c = 0; c < this.nCpus; c++) b.fill(0, dst + c * cpuStride, dst + c * cpuStride + size);
    b.copyWithin(dst + cpu * cpuStride, src, src + size);
  }

  /** The value's bpf_spin_lock and bpf_timer as [offset, size], in offset order (none without BTF). */
  private specialFields(): readonly [number, number][] {
    if (this.special) return this.special;
    const f: [number, number][] = [];
    if (this.spec.spinLockOffset !== undefined) f.push([this.spec.spinLockOffset, 4]);
    if (this.spec.timerOffset !== undefined) f.push([this.spec.timerOffset, 16]);
    this.special = f.sort((x, y) => x[0] - y[0]);
    return this.special;
  }
  private special: [number, number][] | undefined;

  /** Flags check shared by array and hash maps: ANY/NOEXIST/EXIST, plus F_LOCK when the value has a lock. */
  protected badFlags(flags: number, allowLock: boolean): boolean {
    if ((flags & ~UpdateFlag.F_LOCK) > UpdateFlag.EXIST) return true;
    if (flags & UpdateFlag.F_LOCK && !(allowLock && this.spec.spinLockOffset !== undefined)) return true;
    return false;
  }
}

/**
 * A map without keys that programs reach only through their own helpers (ring buffers both ways): a lookup
 * finds nothing and the other keyed operations are not supported, as the kernel's map ops answer.
 */
export abstract class KeylessMap extends MapBase {
  lookupPtr(): number {
    return 0;
  }
  updatePtr(): number {
    return -KernelErrno.ENOTSUPP;
  }
  deletePtr(): number {
    return -KernelErrno.ENOTSUPP;
  }
  nextKeyPtr(): number {
    return -KernelErrno.ENOTSUPP;
  }
}
