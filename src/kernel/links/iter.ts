// BPF iterators (`SEC("iter/task")`, `iter/bpf_map`, `iter/bpf_map_elem` …): tracing programs loaded with
// expected attach type BPF_TRACE_ITER against `bpf_iter_<name>`. They need no trampoline: BPF_LINK_CREATE
// (BPF_TRACE_ITER, with a `union bpf_iter_link_info` naming a map, a task or a cgroup for the iterators that
// take one) makes the link, and each BPF_ITER_CREATE on the link gives a fresh seq file whose read() returns
// what one walk of the program wrote with bpf_seq_printf/bpf_seq_write. A pinned iterator link is a file in
// bpffs that `cat` walks. Offsets follow include/uapi/linux/bpf.h (6.18).

import { readSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import { attachTypeNumber } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { arena } from '../ffi.js';
import * as sys from '../syscall.js';
import { BpfLink } from './link.js';
import type { AttachableProgram } from './types.js';

const BPF_LINK_CREATE = 28;
const BPF_ITER_CREATE = 33;
const EINTR = 4;
const EAGAIN = 11;

/** What an iterator walks when it takes a target (the iterators that take none ignore these). */
export interface IterOptions {
  /** Map iterators (`bpf_map_elem`, `bpf_sk_storage_map`, `sockmap`): the map's fd, or a map holding one. */
  map?: number | { readonly fd: number };
  /** Task iterators (`task`, `task_file`, `task_vma`): only this thread (`tid`) or process (`pid`). */
  tid?: number;
  pid?: number;
  /** cgroup iterators: the cgroup (an fd of its v2 directory) and the walk order. */
  cgroupFd?: number;
  order?: 'self' | 'descendants_pre' | 'descendants_post' | 'ancestors_up';
  /** Most bytes one read() returns (default 64 MiB): an iterator over a huge table stops there with an error. */
  maxBytes?: number;
}

/** enum bpf_cgroup_iter_order. */
const ORDER = { self: 1, descendants_pre: 2, descendants_post: 3, ancestors_up: 4 } as const;

/** `union bpf_iter_link_info` for `o`, or undefined when it names nothing. */
function linkInfoBytes(o: IterOptions): Uint8Array | undefined {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  if (o.map !== undefined) {
    v.setUint32(0, typeof o.map === 'number' ? o.map : o.map.fd, true);
  } else if (o.tid !== undefined || o.pid !== undefined) {
    v.setUint32(0, o.tid ?? 0, true);
    v.setUint32(4, o.pid ?? 0, true);
  } else if (o.cgroupFd !== undefined) {
    v.setUint32(0, ORDER[o.order ?? 'self'], true);
    v.setUint32(4, o.cgroupFd, true);
  } else {
    return undefined;
  }
  return b;
}

/** An iterator's link: `read()` walks it once and returns what the program wrote. */
export class IterLink extends BpfLink {
  constructor(
    fd: number,
    what: ConstructorParameters<typeof BpfLink>[1],
    private readonly maxBytes: number,
  ) {
    super(fd, what);
  }

  /** A new seq file on this iterator (BPF_ITER_CREATE): the caller reads and closes it. */
  open(): number {
    const a = arena();
    a.begin(0);
    a.view.setUint32(0, this.fd, true);
    a.view.setUint32(4, 0, true);
    const r = a.call(BPF_ITER_CREATE, 8);
    if (r < 0) throw new KernelError('BPF_ITER_CREATE', -r, `iterator ${this.info().target}`);
    return r;
  }

  /** Walk the iterator once: the bytes the program wrote, at most `maxBytes`. */
  readBytes(): Uint8Array {
    const fd = this.open();
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for (;;) {
        const buf = new Uint8Array(64 * 1024);
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          const errno = -((e as { errno?: number }).errno ?? 0);
          if (errno === EINTR || errno === EAGAIN) continue;
          throw new TsbpfError(`reading iterator ${this.info().target}: ${(e as Error).message}`);
        }
        if (n === 0) break;
        total += n;
        if (total > this.maxBytes)
          throw new TsbpfError(
            `iterator ${this.info().target} wrote more than ${this.maxBytes} bytes (maxBytes)`,
          );
        chunks.push(buf.subarray(0, n));
      }
    } finally {
      sys.close(fd);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Walk the iterator once: what the program wrote, as text (UTF-8). */
  read(): string {
    return new TextDecoder().decode(this.readBytes());
  }
}

/** Attach an iterator program (loaded with attach type trace_iter): a link that `read()` walks. */
export function attachIter(prog: AttachableProgram, options: IterOptions = {}): IterLink {
  const section = prog.spec.section;
  const name = prog.spec.attachTo ?? section.replace(/^iter(\.s)?\//, '');
  if (!/^iter(\.s)?\//.test(section) && prog.spec.attachType !== 'trace_iter')
    throw new TsbpfError(
      `program ${prog.name} (section ${section || '(none)'}) is not an iterator: it needs section iter/NAME`,
    );
  const info = linkInfoBytes(options);
  const a = arena();
  a.begin(16);
  const v = a.view;
  v.setUint32(0, prog.fd, true);
  v.setUint32(4, 0, true);
  v.setUint32(8, attachTypeNumber('trace_iter')!, true);
  v.setUint32(12, 0, true);
  if (info) {
    const at = a.reserve(16);
    a.bytes.set(info, at);
    a.setPointer(16, at);
    v.setUint32(24, info.length, true);
  }
  const what = { kind: 'iter', program: prog.name, target: name, backend: 'kernel' as const };
  const r = a.call(BPF_LINK_CREATE, 64);
  if (r < 0) {
    const needsMap = /^(bpf_map_elem|bpf_sk_storage_map|sockmap)$/.test(name) && options.map === undefined;
    throw new KernelError(
      'BPF_LINK_CREATE',
      -r,
      `iterator ${name}, program ${prog.name}${needsMap ? ': this iterator needs a map ({ map })' : ''}`,
    );
  }
  return new IterLink(r, what, options.maxBytes ?? 64 * 1024 * 1024);
}
