// The Links attaching returns. A BPF link (BpfLink) is a kernel object: closing its last fd detaches the
// program, pinning it in bpffs keeps it attached after the process exits. Attachments made through the
// older interfaces (a socket option, BPF_PROG_ATTACH to a sockmap, PERF_EVENT_IOC_SET_BPF) are not kernel
// objects: a HookLink remembers how to undo them and cannot be pinned.

import { TsbpfError } from '../../errors.js';
import type { Link, LinkInfo } from '../../spec/link.js';
import { KernelError } from '../errors.js';
import * as sys from '../syscall.js';
import { linkFdById, linkInfo } from './sys.js';

const EINVAL = 22;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

/**
 * A Link of the kernel back end: besides detach/close/info it can be pinned in bpffs to outlive the
 * process (a BPF link), or says why not (an attachment made through an older interface).
 */
export interface KernelAttachment extends Link {
  /** Pin at `path` in bpffs; throws for attachments that are not BPF links. */
  pin(path: string): void;
}

/** A BPF link: an fd the kernel holds the attachment by, and the fds it keeps alive (a perf event). */
export class BpfLink implements KernelAttachment {
  private closed = false;
  private detached = false;
  private cachedId = 0;
  constructor(
    readonly fd: number,
    private readonly what: LinkInfo,
    /** Descriptors released with the link (the perf event a perf link attaches through). */
    private readonly owned: readonly number[] = [],
  ) {}

  /** The kernel's id of the link (what `bpftool link show id N` takes). */
  get id(): number {
    if (this.cachedId === 0) this.cachedId = linkInfo(this.fd).id;
    return this.cachedId;
  }

  /** The id of the program the link runs. */
  get programId(): number {
    return linkInfo(this.fd).progId;
  }

  /**
   * Stop the program running here (BPF_LINK_DETACH), even while a pin keeps the link. Link types the
   * kernel cannot detach that way (perf events, raw tracepoints) are released instead.
   */
  detach(): void {
    if (this.closed || this.detached) return;
    try {
      sys.linkDetach(this.fd);
      this.detached = true;
    } catch (e) {
      const errno = e instanceof KernelError ? e.errno : 0;
      if (errno !== EOPNOTSUPP && errno !== ENOTSUPP && errno !== EINVAL) throw e;
      this.close();
    }
  }

  /**
   * Pin the link at `path` in bpffs: it stays attached after this process closes it or exits, until the
   * pin is removed (`unlink`) and no fd is left.
   */
  pin(path: string): void {
    if (this.closed) throw new TsbpfError(`link ${this.what.kind} ${this.what.target} is closed`);
    sys.objPin(this.fd, path);
  }

  /** Close the link's fds: the program is detached unless the link is pinned. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let first: unknown;
    for (const fd of [this.fd, ...this.owned]) {
      try {
        sys.close(fd);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  info(): LinkInfo {
    return this.what;
  }
}

/**
 * An attachment made through an older interface: `undo` detaches (once), `release` frees what it holds
 * (after detaching). Not a kernel object, so it cannot be pinned and ends with the process.
 */
export class HookLink implements KernelAttachment {
  private detached = false;
  private closed = false;
  constructor(
    private readonly what: LinkInfo,
    private readonly undo: () => void,
    private readonly release: () => void = () => {},
  ) {}

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.undo();
  }

  pin(_path: string): void {
    throw new TsbpfError(
      `a ${this.what.kind} attachment is not a BPF link and cannot be pinned (it ends with this process)`,
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.detach();
    } finally {
      this.release();
    }
  }

  info(): LinkInfo {
    return this.what;
  }
}

/** Open a link pinned at `path` (by this or another process); closing it leaves the pin in place. */
export function openPinnedLink(path: string): BpfLink {
  const fd = sys.objGet(path);
  try {
    const k = linkInfo(fd);
    return new BpfLink(fd, { kind: 'pinned', program: `id ${k.progId}`, target: path, backend: 'kernel' });
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}

/** Open the link with kernel id `id` (e.g. from `bpftool link list`). */
export function openLinkById(id: number): BpfLink {
  const fd = linkFdById(id);
  try {
    const k = linkInfo(fd);
    return new BpfLink(fd, {
      kind: 'link',
      program: `id ${k.progId}`,
      target: `link ${id}`,
      backend: 'kernel',
    });
  } catch (e) {
    sys.close(fd);
    throw e;
  }
}
