// The native boundary: libc's syscall() and close() through koffi, loaded on first use so that the rest of
// tsbpf works where koffi (an optional dependency) or Linux is missing.
//
// Everything the kernel reads or writes by pointer lives in one native arena allocated with koffi: the
// `union bpf_attr` at offset 0, then the buffers it points to (keys, values, instructions, logs, packets).
// JavaScript fills it through a DataView over the same memory, so a call copies nothing but the payload.

import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';
import { KernelError } from './errors.js';

/** Syscall number of bpf() by architecture (Linux). */
const BPF_SYSCALL: Readonly<Record<string, number>> = {
  x64: 321,
  arm64: 280,
  ia32: 357,
  arm: 386,
  riscv64: 280,
};

/** Bytes reserved at the start of the arena for `union bpf_attr` (the kernel's is 160 bytes in 6.x). */
export const ATTR_SPACE = 256;

interface Native {
  koffi: typeof Koffi;
  libc: Koffi.LibraryHandle;
  syscall: (nr: number, cmd: number, attr: unknown, size: number) => number;
  close: (fd: number) => number;
  ifNameToIndex: (name: string) => number;
  setns: (fd: number, nstype: number) => number;
  mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => unknown;
  munmap: (addr: unknown, length: number) => number;
  pageSize: number;
  nr: number;
}

let native: Native | undefined;
let loadError: string | undefined;

function load(): Native {
  if (native) return native;
  if (loadError) throw new KernelError('bpf()', 38, loadError);
  try {
    if (process.platform !== 'linux')
      throw new Error(`bpf() exists only on Linux (this is ${process.platform})`);
    const nr = BPF_SYSCALL[process.arch];
    if (nr === undefined) throw new Error(`unknown bpf() syscall number for architecture ${process.arch}`);
    const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
    const libc = koffi.load('libc.so.6');
    // syscall() is variadic in C; on the supported ABIs integer arguments travel the same way either way,
    // and the fixed prototype avoids koffi's slower variadic path.
    const syscall = libc.func('long syscall(long nr, long cmd, void *attr, long size)') as Native['syscall'];
    const close = libc.func('int close(int fd)') as Native['close'];
    const ifNameToIndex = libc.func(
      'unsigned int if_nametoindex(const char *name)',
    ) as Native['ifNameToIndex'];
    const setns = libc.func('int setns(int fd, int nstype)') as Native['setns'];
    const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)');
    const munmap = libc.func('int munmap(void *addr, size_t length)') as Native['munmap'];
    const sysconf = libc.func('long sysconf(int name)') as (name: number) => number;
    const pageSize = sysconf(30); // _SC_PAGESIZE
    native = {
      koffi,
      libc,
      syscall,
      close,
      ifNameToIndex,
      setns,
      mmap: mmap as Native['mmap'],
      munmap,
      pageSize,
      nr,
    };
    return native;
  } catch (e) {
    loadError = `cannot reach bpf() from Node.js: ${(e as Error).message}`;
    throw new KernelError('bpf()', 38, loadError);
  }
}

/** koffi and libc, for other native calls of the Node back end (packet sockets, TAP devices). */
export function nativeLibc(): { koffi: typeof Koffi; libc: Koffi.LibraryHandle } {
  const n = load();
  return { koffi: n.koffi, libc: n.libc };
}

/** Whether bpf() can be called from this process (koffi loads and this is Linux); never throws. */
export function ffiAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/**
 * The arena: native memory that does not move, with a bump allocator reset before each call.
 * Not re-entrant (bpf() calls are synchronous, so nothing interleaves).
 */
export class Arena {
  private ptr: unknown;
  /** Native address of the arena as a number (user-space addresses fit in 53 bits) and as halves. */
  private base = 0;
  private size = 0;
  private top = ATTR_SPACE;
  bytes = new Uint8Array(0);
  view = new DataView(new ArrayBuffer(0));

  /** Start a call that needs `payload` bytes after the attribute; clears the attribute. */
  begin(payload: number): void {
    const need = ATTR_SPACE + payload + 64;
    if (need > this.size) this.grow(need);
    this.bytes.fill(0, 0, ATTR_SPACE);
    this.top = ATTR_SPACE;
  }

  private grow(need: number): void {
    const { koffi } = load();
    let size = Math.max(this.size * 2, 64 * 1024);
    while (size < need) size *= 2;
    if (this.ptr !== undefined) koffi.free(this.ptr);
    this.ptr = koffi.alloc('uint8_t', size);
    this.base = Number(koffi.address(this.ptr));
    this.size = size;
    const ab = koffi.view(this.ptr, size);
    this.bytes = new Uint8Array(ab);
    this.view = new DataView(ab);
  }

  /** Reserve `n` zeroed bytes (8-aligned) and return their arena offset. */
  reserve(n: number): number {
    const at = this.top;
    this.top = at + Math.ceil(n / 8) * 8;
    if (this.top > this.size)
      throw new RangeError('bpf arena overflow (begin() was given too small a payload)');
    this.bytes.fill(0, at, at + n);
    return at;
  }

  /** Copy `data` into the arena; returns its offset. */
  put(data: Uint8Array): number {
    const at = this.reserve(data.length);
    this.bytes.set(data, at);
    return at;
  }

  /** The native address of an arena offset, as the kernel wants it in a u64 attribute field. */
  address(offset: number): bigint {
    return BigInt(this.base + offset);
  }

  /** Write a native pointer to `offset` into the attribute at `field` (two u32 halves: no BigInt). */
  setPointer(field: number, offset: number): void {
    const addr = this.base + offset;
    this.view.setUint32(field, addr >>> 0, true);
    this.view.setUint32(field + 4, Math.floor(addr / 0x100000000), true);
  }

  /** Call bpf(cmd, &attr, size). Returns the result (fd or 0) or minus the errno. */
  call(cmd: number, attrSize: number): number {
    const n = load();
    const r = n.syscall(n.nr, cmd, this.ptr, attrSize);
    return r < 0 ? -n.koffi.errno() : r;
  }
}

let shared: Arena | undefined;

/** The process's arena (created on first use). */
export function arena(): Arena {
  shared ??= new Arena();
  return shared;
}

/** close(fd); returns minus the errno on failure. */
export function closeFd(fd: number): number {
  const n = load();
  return n.close(fd) < 0 ? -n.koffi.errno() : 0;
}

/** if_nametoindex(3) in the calling thread's network namespace; throws ENODEV for an unknown name. */
export function ifNameToIndex(name: string): number {
  const n = load();
  const index = n.ifNameToIndex(name);
  if (index === 0) throw new KernelError('if_nametoindex', 19, `no interface ${name}`);
  return index;
}

/** setns(2) for the calling thread; returns minus the errno on failure. */
export function setNamespace(fd: number, nstype: number): number {
  const n = load();
  return n.setns(fd, nstype) < 0 ? -n.koffi.errno() : 0;
}

/** A shared mapping of a bpf object (ring buffer pages): a view over it, released with `unmap`. */
export interface Mapping {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  unmap(): void;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

/** mmap(2) `length` bytes of `fd` at `offset`, shared; `writable` adds PROT_WRITE. */
export function mapShared(fd: number, length: number, offset: number, writable: boolean): Mapping {
  const n = load();
  const ptr = n.mmap(null, length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, offset);
  const addr = ptr === null ? -1n : n.koffi.address(ptr);
  if (addr === -1n || addr === 0xffffffffffffffffn)
    throw new KernelError('mmap', n.koffi.errno(), `fd ${fd}`);
  const ab = n.koffi.view(ptr, length);
  let live = true;
  return {
    bytes: new Uint8Array(ab),
    view: new DataView(ab),
    unmap() {
      if (!live) return;
      live = false;
      n.munmap(ptr, length);
    },
  };
}

/** The system's page size (what ring buffer mappings are counted in). */
export function pageSize(): number {
  return load().pageSize;
}
