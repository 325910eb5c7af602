// The files a command reads and writes. Every command declares its inputs and outputs first; `open`
// then compares each output with each input and with the other outputs — the same file by device and
// inode when it exists (so a symlink or a hard link to an input is caught), by resolved path when it does
// not — and a clash is a usage error before anything is opened. Outputs are written to a temporary file
// beside the target (same directory, so the rename is atomic) and renamed over it only by `commit`, after
// the run succeeded: a failed or interrupted run removes its temporaries and leaves an earlier output as
// it was. Targets that are not regular files (/dev/null, /dev/full, a FIFO, anything under /dev or
// /proc such as /dev/stdout) are written in place. Inputs are read with a size bound.

import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError, EXIT, fileError } from './errors.js';

/** Largest file read whole (an object, a program, a packet, memory): larger is not what these commands take. */
export const MAX_INPUT = 64 * 1024 * 1024;

/**
 * The bytes of `path` (standard input for `-`), at most `limit` of them: a
 * larger file, or a device that never ends (/dev/zero), is an error rather than unbounded memory.
 */
export function readInput(path: string, what: string, limit = MAX_INPUT): Uint8Array {
  let fd: number;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (e) {
    throw fileError(path, `read ${what}`, e);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new CliError(`${path}: cannot read ${what}: is a directory`);
    if (st.isFile() && st.size > limit) throw tooLarge(path, what, limit);
    // A regular file in one buffer of its size; anything else (a pipe, a device) in chunks, counted.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = new Uint8Array(st.isFile() && chunks.length === 0 ? st.size + 1 : 65536);
      let filled = 0;
      while (filled < chunk.length) {
        let n: number;
        try {
          n = readSync(fd, chunk, filled, chunk.length - filled, null);
        } catch (e) {
          // A standard input that is closed or cannot be read has nothing to give.
          const code = (e as NodeJS.ErrnoException).code;
          if (fd === 0 && (code === 'EAGAIN' || code === 'EOF')) break;
          throw fileError(path, `read ${what}`, e);
        }
        if (n === 0) break;
        filled += n;
      }
      total += filled;
      if (total > limit) throw tooLarge(path, what, limit);
      chunks.push(chunk.subarray(0, filled));
      if (filled < chunk.length) break;
    }
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

function tooLarge(path: string, what: string, limit: number): CliError {
  return new CliError(`${path}: cannot read ${what}: larger than ${limit / (1024 * 1024)} MiB`);
}

/** One output being written: `write` appends (an error names the file and the reason, exit 1). */
export interface OutputFile {
  /** The path as the user gave it. */
  readonly path: string;
  write(chunk: Uint8Array | string): void;
}

interface Declared {
  path: string;
  /** The flag or argument that named it (`-w`, `--results`, `data_in`, `object`), for messages. */
  what: string;
  /** Resolved absolute path (symlinks followed, also through a missing file's directory). */
  real: string;
  stat: Stats | undefined;
  /** Device and inode, exact (inode numbers may exceed 2^53). */
  id: string | undefined;
}

interface OutputOptions {
  /** `-` is standard output. */
  stdout?: boolean;
  /** The input this output may replace (`map set P.o … -o P.o`): allowed, through temp and rename. */
  replaces?: string;
}

interface Opened {
  out: Declared & OutputOptions;
  /** Whether the file was opened (at the first write, or at commit). */
  created: boolean;
  fd: number;
  /** The temporary file renamed over `out.real` at commit; undefined when written in place or stdout. */
  tmp?: string;
  writer: OutputFile;
}

/**
 * Temporary files of this process not yet renamed or removed. They are removed on exit, and on SIGINT,
 * SIGTERM or SIGHUP while any exists: the handlers are installed only then, because a JS handler runs
 * only when the event loop turns, and a command that never yields would otherwise ignore Ctrl-C (the
 * long runs that write as they go, `xdp` and `filter`, yield to the loop between batches).
 */
const live = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeLive(): void {
  for (const tmp of live) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone.
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeLive();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  // Die of the same signal, as without the handler (the shell sees 128 + n).
  process.kill(process.pid, signal);
}

function remember(tmp: string): void {
  if (live.size === 0) {
    process.on('exit', removeLive);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  live.add(tmp);
}

function forget(tmp: string): void {
  if (!live.delete(tmp) || live.size > 0) return;
  process.removeListener('exit', removeLive);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** The files of one command run. */
export class Files {
  private readonly inputs: Declared[] = [];
  private readonly outputs: (Declared & OutputOptions)[] = [];
  private readonly opened = new Map<string, Opened>();
  private state: 'declaring' | 'open' | 'done' = 'declaring';

  /** An input (ignored when undefined, or `-` for standard input). */
  input(path: string | undefined, what: string): this {
    if (path === undefined || path === '-') return this;
    this.inputs.push({ path, what, ...identify(path) });
    return this;
  }

  /** An output (ignored when undefined). */
  output(path: string | undefined, what: string, options: OutputOptions = {}): this {
    if (path === undefined) return this;
    if (path === '') throw new CliError(`${what}: empty file name`, EXIT.usage);
    if (path === '-' && options.stdout) {
      this.outputs.push({ path, what, real: '-', stat: undefined, id: undefined, ...options });
      return this;
    }
    this.outputs.push({ path, what, ...identify(path), ...options });
    return this;
  }

  /**
   * Check that no output is an input or another output (usage error, exit 2), then that each can be
   * written: not a directory, in a directory that exists and is writable (exit 1). Nothing is created
   * yet: an output's file appears at its first write (a temporary beside the target) or at `commit`.
   */
  open(): this {
    if (this.state !== 'declaring') throw new Error('Files.open called twice');
    this.checkClashes();
    for (const out of this.outputs) {
      if (out.real !== '-' && !inPlace(out)) checkDirectory(out);
      this.opened.set(out.what, newOutput(out));
    }
    this.state = 'open';
    return this;
  }

  /** The writer of the output declared as `what` (undefined when that output was not given). */
  writer(what: string): OutputFile | undefined {
    if (this.state !== 'open') throw new Error('Files.writer before open or after commit');
    return this.opened.get(what)?.writer;
  }

  /** The run succeeded: every output to disk, each temporary renamed over its target. */
  commit(): void {
    if (this.state !== 'open') throw new Error('Files.commit before open or after commit');
    const all = [...this.opened.values()];
    for (const o of all) {
      // An output nothing was written to is still created (empty), as the user asked for it.
      if (!o.created) create(o);
      if (o.fd < 0) continue;
      try {
        // The bytes reach the disk before the name points at them: a crash leaves the old file or the
        // new one, never an empty one.
        if (o.tmp) fsyncSync(o.fd);
        closeSync(o.fd);
      } catch (e) {
        o.fd = -1;
        throw fileError(`${o.out.what} ${o.out.path}`, 'write', e);
      }
      o.fd = -1;
    }
    for (const o of all) {
      if (!o.tmp) continue;
      try {
        renameSync(o.tmp, o.out.real);
      } catch (e) {
        throw fileError(`${o.out.what} ${o.out.path}`, 'write', e);
      }
      forget(o.tmp);
      o.tmp = undefined;
    }
    this.state = 'done';
  }

  /** Close and remove what `commit` did not take (always safe to call; after commit it does nothing). */
  discard(): void {
    for (const o of this.opened.values()) {
      if (o.fd >= 0) {
        try {
          closeSync(o.fd);
        } catch {
          // Closing after a failed write may fail again; the file is removed below anyway.
        }
        o.fd = -1;
      }
      if (o.tmp) {
        try {
          unlinkSync(o.tmp);
        } catch {
          // Already gone.
        }
        forget(o.tmp);
        o.tmp = undefined;
      }
    }
    this.state = 'done';
  }

  private checkClashes(): void {
    for (const [i, out] of this.outputs.entries()) {
      if (out.real === '-') continue;
      for (const input of this.inputs) {
        if (!sameFile(out, input) || out.replaces === input.what) continue;
        const how = out.path === input.path ? '' : ` (${input.path})`;
        throw new CliError(
          `${out.what} ${out.path} is the ${input.what} file${how}: writing it would destroy what is read; write the output to another file`,
          EXIT.usage,
        );
      }
      for (const other of this.outputs.slice(0, i)) {
        // Devices such as /dev/null have no contents to lose: two outputs may share one.
        if (other.real === '-' || !sameFile(out, other) || out.stat?.isCharacterDevice()) continue;
        throw new CliError(
          `${other.what} and ${out.what} are the same file (${out.path}): give each output its own file`,
          EXIT.usage,
        );
      }
    }
    for (const out of this.outputs) {
      if (out.stat?.isDirectory())
        throw new CliError(`${out.what} ${out.path}: cannot write: is a directory`);
    }
  }
}

/** Run `body` with the outputs open; commit them when it returns, discard them when it throws. */
export function writing<T>(files: Files, body: () => T): T {
  files.open();
  try {
    const result = body();
    files.commit();
    return result;
  } finally {
    files.discard();
  }
}

function identify(path: string): { real: string; stat: Stats | undefined; id: string | undefined } {
  const abs = resolve(path);
  let stat: Stats | undefined;
  let id: string | undefined;
  try {
    stat = statSync(abs);
    const big = statSync(abs, { bigint: true });
    id = `${big.dev}:${big.ino}`;
  } catch {
    stat = undefined;
  }
  if (!stat) return { real: resolveMissing(abs), stat, id };
  try {
    return { real: realpathSync(abs), stat, id };
  } catch {
    return { real: abs, stat, id };
  }
}

/**
 * Where a file that does not exist would be created: dangling symlinks followed (as open(O_CREAT) does),
 * then the existing directory resolved.
 */
function resolveMissing(abs: string): string {
  let p = abs;
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      if (!lstatSync(p).isSymbolicLink()) break;
      link = readlinkSync(p);
    } catch {
      break;
    }
    p = resolve(dirname(p), link);
  }
  try {
    return join(realpathSync(dirname(p)), basename(p));
  } catch {
    return p;
  }
}

function sameFile(a: Declared, b: Declared): boolean {
  if (a.id && b.id) return a.id === b.id;
  return a.real === b.real;
}

/** Written in place: existing files that are not regular, and anything under /dev or /proc. */
function inPlace(out: Declared): boolean {
  if (out.stat && !out.stat.isFile()) return true;
  return /^\/(dev|proc)\//.test(resolve(out.path)) || /^\/(dev|proc)\//.test(out.real);
}

/** The directory a temporary file goes to must exist and be writable. */
function checkDirectory(out: Declared): void {
  const dir = dirname(out.real);
  try {
    if (!statSync(dir).isDirectory())
      throw new CliError(`${out.what} ${out.path}: cannot write: ${dir} is not a directory`);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    if (e instanceof CliError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError(`${out.what} ${out.path}: cannot write: no such directory ${dir}`);
    throw fileError(`${out.what} ${out.path}`, 'write', e);
  }
}

function newOutput(out: Declared & OutputOptions): Opened {
  const o: Opened = { out, fd: -1, created: false, writer: undefined as unknown as OutputFile };
  if (out.real === '-') {
    o.created = true;
    o.writer = { path: out.path, write: (c) => void process.stdout.write(c) };
    return o;
  }
  o.writer = {
    path: out.path,
    write: (chunk) => {
      if (!o.created) create(o);
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      try {
        for (let at = 0; at < bytes.length; ) at += writeSync(o.fd, bytes, at, bytes.length - at);
      } catch (e) {
        throw fileError(`${out.what} ${out.path}`, 'write', e);
      }
    },
  };
  return o;
}

/** Open the output's file: the target itself when written in place, else a new temporary beside it. */
function create(o: Opened): void {
  const out = o.out;
  o.created = true;
  if (inPlace(out)) {
    try {
      o.fd = openSync(out.path, 'w');
    } catch (e) {
      throw fileError(`${out.what} ${out.path}`, 'write', e);
    }
    return;
  }
  const dir = dirname(out.real);
  // A short hidden name beside the target; the random part keeps concurrent runs apart.
  const name = `.${basename(out.real).slice(0, 64)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const tmp = join(dir, name);
  try {
    o.fd = openSync(tmp, 'wx', out.stat ? out.stat.mode & 0o777 : 0o666);
  } catch (e) {
    throw fileError(`${out.what} ${out.path}`, 'write', e);
  }
  remember(tmp);
  o.tmp = tmp;
  if (out.stat) keepOwnerAndMode(o.fd, out.stat);
}

/** The replacement keeps the replaced file's permissions (and owner, when we may set it). */
function keepOwnerAndMode(fd: number, st: Stats): void {
  try {
    fchmodSync(fd, st.mode & 0o7777);
  } catch {
    // A file system without modes: the default is what a new file gets.
  }
  if (process.getuid?.() === 0) {
    try {
      fchownSync(fd, st.uid, st.gid);
    } catch {
      // Not permitted here (e.g. a rootless container): the file is ours, as a new one would be.
    }
  }
}
