// Drive a real kernel map through bpftool, for differential tests. Each call returns a result in the same
// shape our maps give: bytes, or an errno. Pins live under /sys/fs/bpf/tsbpf_test_* and are removed.

import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const STRERROR: Record<string, number> = {
  'Operation not permitted': 1,
  'No such file or directory': 2,
  'Argument list too long': 7,
  'Bad file descriptor': 9,
  'Resource temporarily unavailable': 11,
  'Cannot allocate memory': 12,
  'File exists': 17,
  'Invalid argument': 22,
  'No space left on device': 28,
  'Numerical result out of range': 34,
  'Operation not supported': 95,
  'Unknown error 524': 524,
};

export type Outcome = { ok: true; value?: string } | { ok: false; errno: number };

function errnoFrom(text: string): number {
  for (const [msg, n] of Object.entries(STRERROR)) if (text.includes(msg)) return n;
  throw new Error(`bpftool: unrecognised error: ${text}`);
}

function hexArgs(bytes: Uint8Array): string[] {
  return [...bytes].map((b) => `0x${b.toString(16).padStart(2, '0')}`);
}

function fromJsonBytes(a: string[]): string {
  return a.map((x) => x.replace(/^0x/, '').padStart(2, '0')).join('');
}

function run(args: string[]): { rc: number; out: string; err: string } {
  const r = spawnSync('taskset', ['-c', '0', 'bpftool', '-j', ...args], { encoding: 'utf8' });
  return { rc: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}

function outcome(args: string[]): Outcome & { json?: unknown } {
  const r = run(args);
  const json = r.out === '' ? undefined : JSON.parse(r.out);
  if (json && typeof json === 'object' && 'error' in json)
    return { ok: false, errno: errnoFrom(String(json.error)) };
  if (r.rc !== 0 && json === null) return { ok: false, errno: 2 }; // lookup of a missing key
  if (r.rc !== 0) return { ok: false, errno: errnoFrom(r.err) };
  return { ok: true, json };
}

/** Number of possible CPUs: the kernel keeps per-CPU values (and LRU lists) for each. */
export function possibleCpus(): number {
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  let n = 0;
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

let counter = 0;

export class KernelMap {
  readonly pin: string;
  private constructor(pin: string) {
    this.pin = pin;
  }

  /** Create a map; returns the errno on failure. */
  static create(type: string, key: number, value: number, entries: number, flags = 0): KernelMap | number {
    const pin = `/sys/fs/bpf/tsbpf_test_${process.pid}_${counter++}`;
    rmSync(pin, { force: true });
    const args = [
      'map',
      'create',
      pin,
      'type',
      type,
      'key',
      `${key}`,
      'value',
      `${value}`,
      'entries',
      `${entries}`,
    ];
    args.push('name', 'tsbpf_t');
    if (flags) args.push('flags', `${flags}`);
    const r = outcome(args);
    if (!r.ok) return r.errno;
    return new KernelMap(pin);
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): Outcome {
    const f = ['any', 'noexist', 'exist'][flags];
    if (f === undefined) throw new Error(`bpftool cannot pass update flags ${flags}`);
    const r = outcome([
      'map',
      'update',
      'pinned',
      this.pin,
      'key',
      ...hexArgs(key),
      'value',
      ...hexArgs(value),
      f,
    ]);
    return r.ok ? { ok: true } : r;
  }

  lookup(key: Uint8Array): Outcome {
    const r = outcome(['map', 'lookup', 'pinned', this.pin, 'key', ...hexArgs(key)]);
    if (!r.ok) return r;
    const j = r.json as { value?: string[]; values?: { value: string[] }[] };
    // Per-CPU maps: one value per CPU, each padded to 8 bytes as the syscall returns them.
    if (j.values)
      return {
        ok: true,
        value: j.values
          .map((v) => fromJsonBytes(v.value).padEnd(Math.ceil(v.value.length / 8) * 16, '0'))
          .join(''),
      };
    return { ok: true, value: fromJsonBytes(j.value!) };
  }

  delete(key: Uint8Array): Outcome {
    const r = outcome(['map', 'delete', 'pinned', this.pin, 'key', ...hexArgs(key)]);
    return r.ok ? { ok: true } : r;
  }

  getnext(key?: Uint8Array): Outcome {
    const args = ['map', 'getnext', 'pinned', this.pin];
    if (key) args.push('key', ...hexArgs(key));
    const r = outcome(args);
    if (!r.ok) return r;
    return { ok: true, value: fromJsonBytes((r.json as { next_key: string[] }).next_key) };
  }

  /** Queue/stack: push, pop, peek. */
  push(value: Uint8Array, flags = 0): Outcome {
    const r = outcome([
      'map',
      'push',
      'pinned',
      this.pin,
      'value',
      ...hexArgs(value),
      ...(flags ? ['exist'] : []),
    ]);
    return r.ok ? { ok: true } : r;
  }

  take(op: 'pop' | 'peek'): Outcome {
    const r = outcome(['map', op, 'pinned', this.pin]);
    if (!r.ok) return r;
    return { ok: true, value: fromJsonBytes((r.json as { value: string[] }).value) };
  }

  /** All key/value pairs (order as the kernel iterates). */
  dump(): { key: string; value: string }[] {
    const r = outcome(['map', 'dump', 'pinned', this.pin]);
    if (!r.ok) throw new Error(`dump failed: errno ${r.errno}`);
    return (r.json as { key: string[]; value: string[] }[]).map((e) => ({
      key: fromJsonBytes(e.key),
      value: fromJsonBytes(e.value),
    }));
  }

  remove(): void {
    rmSync(this.pin, { force: true });
  }
}

export function bpftoolVersion(): string {
  return execFileSync('bpftool', ['version'], { encoding: 'utf8' }).split('\n')[0]!;
}

/**
 * The same operations through the bpf() syscall (src/kernel), for long random sequences where spawning
 * bpftool per operation would be too slow. The process is pinned to CPU 0 first, as bpftool is, because
 * the kernel's LRU keeps per-CPU free lists.
 */
export class SyscallMap {
  private constructor(private readonly map: import('../../src/kernel/object.js').KernelMap) {}

  static async create(spec: import('../../src/spec/maps.js').MapSpec): Promise<SyscallMap> {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'pipe' });
    const { KernelMap: K } = await import('../../src/kernel/object.js');
    const { mapCreate } = await import('../../src/kernel/syscall.js');
    const fd = mapCreate({ ...spec, name: 'tsbpf_t' });
    return new SyscallMap(new K(spec, fd));
  }

  private wrap(f: () => unknown, missing = false): Outcome {
    try {
      const v = f();
      if (v instanceof Uint8Array) return { ok: true, value: Buffer.from(v).toString('hex') };
      return missing ? { ok: false, errno: 2 } : { ok: true };
    } catch (e) {
      const errno = (e as { errno?: number }).errno;
      if (errno === undefined) throw e;
      return { ok: false, errno };
    }
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): Outcome {
    return this.wrap(() => this.map.update(key, value, flags));
  }
  lookup(key: Uint8Array): Outcome {
    return this.wrap(() => this.map.lookup(key), true);
  }
  delete(key: Uint8Array): Outcome {
    return this.wrap(() => this.map.delete(key));
  }
  getnext(key?: Uint8Array): Outcome {
    return this.wrap(() => this.map.nextKey(key), true);
  }
  dump(): { key: string; value: string }[] {
    const out: { key: string; value: string }[] = [];
    for (let k = this.map.nextKey(undefined); k; k = this.map.nextKey(k)) {
      const v = this.map.lookup(k);
      if (v) out.push({ key: Buffer.from(k).toString('hex'), value: Buffer.from(v).toString('hex') });
    }
    return out;
  }
  remove(): void {
    this.map.close();
  }
}
