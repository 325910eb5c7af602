// Error numbers as the kernel and helpers return them (negated) and as map operations report them to
// JavaScript: one table, one text per number.

/** Negative errno values returned to programs and thrown (as MapError) to JS. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOTSUP: 95,
} as const;

/** Kernel-internal errno values the bpf() syscall can return for maps (not in libc's errno.h). */
export const KernelErrno = {
  /** ENOTSUPP: operation not supported by this map type (e.g. lookup on a ring buffer). */
  ENOTSUPP: 524,
  EACCES: 13,
  EOPNOTSUPP: 95,
} as const;
