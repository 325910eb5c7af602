// The address space: one WebAssembly.Memory per runtime, shared by the interpreter, the JIT, maps and
// helpers. A pointer is a linear address (always < 2^32). The first 64 KiB are never handed out, so NULL
// and small offsets from it fault in checked mode.
//
//   0x00000 .. 0x0ffff   guard (never mapped)
//   0x10000 ..           stack frames, contexts, packet buffers, map values, ring buffers ... (allocated)
//
// Regions are recorded so the checked interpreter can validate each access against the region it falls in.

import { TsbpfError } from '../errors.js';

/** What a region holds; decides the error message and the permissions in checked mode. */
export type RegionKind =
  | 'stack'
  | 'ctx'
  | 'packet'
  | 'map' // a map's handle: programs get its address but may not dereference it
  | 'map_value'
  | 'ringbuf'
  | 'input' // memory handed to `tsbpf run` / conformance programs
  | 'rodata'
  | 'scratch'; // anything else (helper buffers ...)

/** A block of linear memory: what it holds, the bytes a program may touch in it, and who owns it. */
export interface Region {
  /** Where the allocation starts and how many bytes it has (fixed; `start`/`end` stay inside it). */
  readonly base: number;
  readonly capacity: number;
  /** First byte address a program may touch (mutable for packets: adjust_head/meta move it). */
  start: number;
  /** One past the last byte a program may touch (mutable for packets: adjust_head/tail move it). */
  end: number;
  readonly kind: RegionKind;
  /** Whether programs may store into it. */
  writable: boolean;
  /** Human name for messages, e.g. `map counters value`, `packet`, `stack frame`. */
  readonly name: string;
  /**
   * The object the region belongs to (a map owns its values, its ring, its scratch): checked mode lets a
   * program touch a map's regions only when the program references that map.
   */
  owner?: object;
}

/** The WebAssembly page: memory grows by pages, and the first page is never handed out (NULL faults). */
export const PAGE_SIZE = 65536;
export const GUARD_SIZE = PAGE_SIZE;
/** Every allocation is aligned to this many bytes (map values are 8-aligned in the kernel too). */
export const ALLOC_ALIGN = 8;

/**
 * What maps may charge in one address space unless told otherwise: 256 MiB, a quarter of the default
 * address space (maps are charged at their largest size; src/maps/registry.ts). The Node loader
 * (src/node/load.ts) uses a quarter of the machine's memory instead, within the address space.
 */
export const DEFAULT_MAP_MEMORY_LIMIT = 256 * 1024 * 1024;

/** An allocation beyond the address space's limit (maps larger than the memory a runtime may use). */
export class OutOfMemoryError extends TsbpfError {
  override name = 'OutOfMemoryError';
}

/**
 * Owns the linear memory and a simple allocator (bump pointer plus first-fit reuse of freed blocks).
 * Allocation is rare (maps at load time, packet buffers per run); programs never allocate.
 */
export class AddressSpace {
  readonly memory: WebAssembly.Memory;
  /** Views over the memory; refreshed after growth (use the getters, never cache across allocations). */
  private u8: Uint8Array;
  private dv: DataView;
  private i32: Int32Array;
  private ab: ArrayBuffer;
  private top = GUARD_SIZE;
  private readonly free: { start: number; size: number }[] = [];
  /** Live regions sorted by start, for `regionAt`. */
  private readonly regions: Region[] = [];
  /** Bumped whenever the memory grows (views held elsewhere must be refreshed). */
  generation = 0;
  /**
   * Bytes maps may charge (their linear memory and JS-side structures at max_entries): createMap refuses
   * a map past it with ENOMEM, as the kernel's memcg charge does. `mapMemoryCharged` is what live maps hold.
   */
  mapMemoryLimit: number;
  mapMemoryCharged = 0;

  constructor(
    initialBytes = 16 * 1024 * 1024,
    readonly maxBytes = 1024 * 1024 * 1024,
  ) {
    this.mapMemoryLimit = Math.min(DEFAULT_MAP_MEMORY_LIMIT, maxBytes);
    const initial = Math.max(2, Math.ceil(initialBytes / PAGE_SIZE));
    this.memory = new WebAssembly.Memory({ initial, maximum: Math.ceil(maxBytes / PAGE_SIZE) });
    this.ab = this.memory.buffer;
    this.u8 = new Uint8Array(this.ab);
    this.dv = new DataView(this.ab);
    this.i32 = new Int32Array(this.ab);
  }

  // Growing the memory detaches the old buffer, and a view of a detached buffer has length 0: checking
  // that is far cheaper than reading `memory.buffer` (a host call) on every access.
  get bytes(): Uint8Array {
    if (this.u8.length === 0) this.refresh();
    return this.u8;
  }

  get view(): DataView {
    if (this.u8.length === 0) this.refresh();
    return this.dv;
  }

  /** The memory as 32-bit words (word i is bytes 4i..4i+3). */
  get words(): Int32Array {
    if (this.u8.length === 0) this.refresh();
    return this.i32;
  }

  /**
   * The memory's ArrayBuffer, for views of a range (`new Uint8Array(space.buffer, start, length)`): a
   * typed array's own `.buffer` and `.byteOffset` getters cost 10-30 ns each on wasm memory.
   */
  get buffer(): ArrayBuffer {
    if (this.u8.length === 0) this.refresh();
    return this.ab;
  }

  private refresh(): void {
    this.ab = this.memory.buffer;
    this.u8 = new Uint8Array(this.ab);
    this.dv = new DataView(this.ab);
    this.i32 = new Int32Array(this.ab);
    this.generation++;
  }

  /**
   * Allocate `size` zeroed bytes and record them as a region. `align` (a power of two, at least 8) places
   * the region's base: packet frames are cache-line aligned, as the kernel's page-based frames are.
   */
  allocate(size: number, kind: RegionKind, name: string, writable = true, align = ALLOC_ALIGN): Region {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`bad allocation size ${size}`);
    if (!Number.isInteger(align) || align < ALLOC_ALIGN || (align & (align - 1)) !== 0) {
      throw new RangeError(`bad allocation alignment ${align}`);
    }
    const rounded = Math.max(ALLOC_ALIGN, Math.ceil(size / ALLOC_ALIGN) * ALLOC_ALIGN);
    const up = (at: number): number => Math.ceil(at / align) * align;
    let start = -1;
    const fit = this.free.findIndex((b) => up(b.start) + rounded <= b.start + b.size);
    if (fit >= 0) {
      const block = this.free[fit]!;
      start = up(block.start);
      const after = block.start + block.size - (start + rounded);
      // The gap before an aligned start stays free; so does what is left after the region.
      if (start > block.start) {
        block.size = start - block.start;
        if (after > 0) this.free.push({ start: start + rounded, size: after });
      } else if (after > 0) {
        block.start += rounded;
        block.size = after;
      } else this.free.splice(fit, 1);
    } else {
      start = up(this.top);
      const needed = start + rounded;
      if (needed > this.maxBytes) {
        throw new OutOfMemoryError(
          `address space exhausted: ${name} needs ${size} bytes (limit ${this.maxBytes})`,
        );
      }
      if (needed > this.memory.buffer.byteLength) {
        this.memory.grow(Math.ceil((needed - this.memory.buffer.byteLength) / PAGE_SIZE));
        this.refresh();
      }
      if (start > this.top) this.free.push({ start: this.top, size: start - this.top });
      this.top = needed;
    }
    this.bytes.fill(0, start, start + rounded);
    const region: Region = { base: start, capacity: rounded, start, end: start + size, kind, writable, name };
    this.insertRegion(region);
    return region;
  }

  /** Return a region's bytes to the allocator. */
  release(region: Region): void {
    const i = this.regions.indexOf(region);
    if (i < 0) return;
    this.regions.splice(i, 1);
    this.free.push({ start: region.base, size: region.capacity });
  }

  private insertRegion(r: Region): void {
    let lo = 0;
    let hi = this.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.regions[mid]!.base < r.base) lo = mid + 1;
      else hi = mid;
    }
    this.regions.splice(lo, 0, r);
  }

  /**
   * The region that contains [addr, addr + size), or undefined when the access straddles regions or
   * falls outside every live one (including the slack between `start`/`end` and the allocation).
   */
  regionAt(addr: number, size = 1): Region | undefined {
    const found = this.regionBefore(addr);
    if (!found || addr + size > found.end || addr < found.start) return undefined;
    return found;
  }

  /** The live region with the greatest base <= addr (addr may lie past its end), for fault messages. */
  regionBefore(addr: number): Region | undefined {
    let lo = 0;
    let hi = this.regions.length - 1;
    let found: Region | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.regions[mid]!;
      if (r.base <= addr) {
        found = r;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Copy bytes into linear memory. */
  write(addr: number, data: Uint8Array): void {
    this.bytes.set(data, addr);
  }

  /** Copy bytes out of linear memory. */
  read(addr: number, length: number): Uint8Array {
    return this.bytes.slice(addr, addr + length);
  }
}
