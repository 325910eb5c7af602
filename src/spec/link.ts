// What an attachment is, on every back end and hook: something that can be detached and closed, and that
// says what it attaches. Kept with the vocabulary so hooks, loaders and the kernel back end all name it.

/** What a Link is attached to, for `info()`. */
export interface LinkInfo {
  /** `xdp`, `probe`, `tracepoint`, `kprobe` … */
  readonly kind: string;
  /** The program attached. */
  readonly program: string;
  /** What it is attached to: an interface, a function, a tracepoint's name. */
  readonly target: string;
  readonly backend: 'userspace' | 'kernel';
}

/**
 * An attachment of a program: a kernel link, a probe on a JavaScript function, a tracepoint, an XDP hook a
 * program runs in. `detach()` stops the program from running there; `close()` detaches and releases what
 * the attachment holds. Both are idempotent.
 */
export interface Link {
  detach(): void;
  /**
   * Detach and release. A link whose release takes a while (the user-space data path's sockets) returns a
   * promise that settles once everything is released: await it before moving on.
   */
  close(): void | Promise<void>;
  info(): LinkInfo;
}
