// Error numbers: one table of the Linux errno values this project meets — returned (negated) by helpers
// and map operations, thrown as MapError and KernelError, given by node:fs to the CLI — with each one's
// name and its words. The words are strerror's, lower-cased, as the CLI prints them after a path
// (`no space left on device`); three say more than glibc does, for paths (ENOTDIR, EXDEV, ENFILE).
// Numbers are the generic ones (asm-generic/errno*.h: x86-64, arm64, riscv64).

/** [number, name, words]; a number appears once (its aliases are in ALIASES). */
const TABLE = [
  [1, 'EPERM', 'operation not permitted'],
  [2, 'ENOENT', 'no such file or directory'],
  [3, 'ESRCH', 'no such process'],
  [4, 'EINTR', 'interrupted system call'],
  [5, 'EIO', 'input/output error'],
  [6, 'ENXIO', 'no such device or address'],
  [7, 'E2BIG', 'argument list too long'],
  [9, 'EBADF', 'bad file descriptor'],
  [11, 'EAGAIN', 'resource temporarily unavailable'],
  [12, 'ENOMEM', 'cannot allocate memory'],
  [13, 'EACCES', 'permission denied'],
  [14, 'EFAULT', 'bad address'],
  [16, 'EBUSY', 'device or resource busy'],
  [17, 'EEXIST', 'file exists'],
  [18, 'EXDEV', 'not on the same file system'],
  [19, 'ENODEV', 'no such device'],
  [20, 'ENOTDIR', 'a component of the path is not a directory'],
  [21, 'EISDIR', 'is a directory'],
  [22, 'EINVAL', 'invalid argument'],
  [23, 'ENFILE', 'too many open files in the system'],
  [24, 'EMFILE', 'too many open files'],
  [26, 'ETXTBSY', 'text file busy'],
  [27, 'EFBIG', 'file too large'],
  [28, 'ENOSPC', 'no space left on device'],
  [30, 'EROFS', 'read-only file system'],
  [32, 'EPIPE', 'broken pipe'],
  [34, 'ERANGE', 'numerical result out of range'],
  [36, 'ENAMETOOLONG', 'file name too long'],
  [38, 'ENOSYS', 'function not implemented'],
  [40, 'ELOOP', 'too many levels of symbolic links'],
  [90, 'EMSGSIZE', 'message too long'],
  [95, 'EOPNOTSUPP', 'operation not supported'],
  [97, 'EAFNOSUPPORT', 'address family not supported by protocol'],
  [98, 'EADDRINUSE', 'address already in use'],
  [100, 'ENETDOWN', 'network is down'],
  [101, 'ENETUNREACH', 'network is unreachable'],
  [105, 'ENOBUFS', 'no buffer space available'],
  [110, 'ETIMEDOUT', 'connection timed out'],
  [111, 'ECONNREFUSED', 'connection refused'],
  [122, 'EDQUOT', 'disk quota exceeded'],
  // Kernel-internal (include/linux/errno.h), never in libc's errno.h, but bpf() returns it for map
  // operations a map type lacks (a lookup on a ring buffer); strerror knows no words for it.
  [524, 'ENOTSUPP', 'operation not supported'],
] as const;

/** Other names of a number in the table (libuv and Node say ENOTSUP for 95). */
const ALIASES = { ENOTSUP: 95 } as const;

type Row = (typeof TABLE)[number];

/** Errno numbers by name (positive; helpers and map operations return them negated). */
export const Errno = Object.freeze({
  ...Object.fromEntries(TABLE.map(([errno, name]) => [name, errno])),
  ...ALIASES,
}) as { readonly [R in Row as R[1]]: R[0] } & typeof ALIASES;

/** Kernel-internal errno values and the ones only the kernel's map code returns (all in `Errno` too). */
export const KernelErrno = {
  /** ENOTSUPP: operation not supported by this map type (e.g. lookup on a ring buffer). */
  ENOTSUPP: Errno.ENOTSUPP,
  EACCES: Errno.EACCES,
  EOPNOTSUPP: Errno.EOPNOTSUPP,
} as const;

/** One errno: its number, its name (`ENOENT`) and its words (`no such file or directory`). */
export interface ErrnoInfo {
  readonly errno: number;
  readonly name: string;
  readonly text: string;
}

const BY_NUMBER = new Map<number, ErrnoInfo>(
  TABLE.map(([errno, name, text]) => [errno, { errno, name, text }]),
);
const BY_NAME = new Map<string, ErrnoInfo>([...BY_NUMBER.values()].map((e) => [e.name, e]));
for (const [alias, errno] of Object.entries(ALIASES)) BY_NAME.set(alias, BY_NUMBER.get(errno)!);

/** The errno `errno` (positive), or undefined for a number not in the table. */
export function errnoInfo(errno: number): ErrnoInfo | undefined {
  return BY_NUMBER.get(errno);
}

/** The errno named `name` (`ENOSPC`, or an alias such as `ENOTSUP`), or undefined. */
export function errnoByName(name: string): ErrnoInfo | undefined {
  return BY_NAME.get(name);
}

/** `EINVAL` for 22; `errno N` for a number not in the table. */
export function errnoName(errno: number): string {
  return BY_NUMBER.get(errno)?.name ?? `errno ${errno}`;
}

/** `invalid argument` for 22; `unknown error N` (strerror's words) for a number not in the table. */
export function errnoText(errno: number): string {
  return BY_NUMBER.get(errno)?.text ?? `unknown error ${errno}`;
}

/** `invalid argument (EINVAL)`: how MapError and KernelError messages state an errno. */
export function errnoMessage(errno: number): string {
  const e = BY_NUMBER.get(errno);
  return e ? `${e.text} (${e.name})` : `errno ${errno}`;
}
