// Stack trace maps and the stack helpers: the map's creation rules against the kernel's BPF_MAP_CREATE,
// get_stackid's ids, reuse and collisions, get_stack's copies and errnos on a modelled stack, and the
// clang-built fixture (test/fixtures/helpers/stack.c) run on both engines with a given stack.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import type { MapError } from '../../src/errors.js';
import { helperByName } from '../../src/helpers/registry.js';
import { DEFAULT_KERNEL_STACK } from '../../src/helpers/stack.js';
import { jhash2 } from '../../src/maps/jhash.js';
import { checkMapSpec } from '../../src/maps/registry.js';
import { StackFlag, type StackTraceMap, stackBuckets } from '../../src/maps/stack-trace.js';
import { Errno } from '../../src/spec/errno.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { kernelOracle } from '../support/kernel.js';
import { FakeEnv } from './env.js';

const oracle = kernelOracle();
const FIXTURES = join(__dirname, '../fixtures/helpers');
const KSTACK = [0xffffffff81000010n, 0xffffffff81000020n, 0xffffffff81000030n, 0xffffffff81000040n];
const USTACK = [0x401000n, 0x402000n];

const call = (env: FakeEnv, name: string, ...args: (number | bigint)[]) => {
  const a = [0, 1, 2, 3, 4].map((i) => BigInt.asUintN(64, BigInt(args[i] ?? 0)));
  return BigInt.asIntN(64, helperByName(name)!.call(env, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!));
};

function withStacks(kernelStack: readonly bigint[] = KSTACK, userStack: readonly bigint[] = USTACK): FakeEnv {
  const env = new FakeEnv(1 << 18);
  env.task = { ...env.task, kernelStack, userStack };
  return env;
}

const u64s = (b: Uint8Array) =>
  Array.from({ length: b.length / 8 }, (_, i) =>
    new DataView(b.buffer, b.byteOffset).getBigUint64(8 * i, true),
  );

describe('stack trace map: creation as the kernel checks it', () => {
  const spec = (o: Partial<MapSpec>): MapSpec => ({
    name: 's',
    type: MapType.STACK_TRACE,
    keySize: 4,
    valueSize: 64,
    maxEntries: 8,
    flags: 0,
    ...o,
  });
  const cases: [string, Partial<MapSpec>][] = [
    ['a plain map', {}],
    ['one entry of one address', { valueSize: 8, maxEntries: 1 }],
    ['127 addresses (perf_event_max_stack)', { valueSize: 127 * 8 }],
    ['128 addresses', { valueSize: 128 * 8 }],
    ['a value that is not whole addresses', { valueSize: 12 }],
    ['a value of 4 bytes', { valueSize: 4 }],
    ['a key of 8 bytes', { keySize: 8 }],
    ['no entries', { maxEntries: 0 }],
    ['build ids', { flags: 0x20, valueSize: 64 }],
    ['build ids, a value not of whole entries', { flags: 0x20, valueSize: 40 }],
    ['BPF_F_NO_PREALLOC', { flags: 1 }],
    ['BPF_F_RDONLY', { flags: 8 }],
    ['a cgroup array', { type: MapType.CGROUP_ARRAY, valueSize: 4 }],
    ['a cgroup array of 8-byte values', { type: MapType.CGROUP_ARRAY, valueSize: 8 }],
  ];
  const ours = (s: MapSpec) => {
    try {
      checkMapSpec(s);
      return 0;
    } catch (e) {
      return (e as MapError).errno;
    }
  };

  it('refuses what the kernel refuses, with its errno (documented rules)', () => {
    expect(ours(spec({}))).toBe(0);
    expect(ours(spec({ valueSize: 12 }))).toBe(Errno.EINVAL);
    expect(ours(spec({ valueSize: 128 * 8 }))).toBe(Errno.EINVAL);
    expect(ours(spec({ flags: 1 }))).toBe(Errno.EINVAL);
    expect(stackBuckets(5)).toBe(8);
    expect(stackBuckets(8)).toBe(8);
  });

  it.runIf(oracle).each(cases)('%s: the kernel gives the same errno', async (_, o) => {
    const kernel = await import('../../src/kernel/index.js');
    const s = spec(o);
    let errno = 0;
    try {
      kernel.close(kernel.mapCreate({ ...s }));
    } catch (e) {
      errno = (e as { errno: number }).errno;
    }
    expect(ours(s)).toBe(errno);
  });
});

describe('get_stackid', () => {
  const setup = (maxEntries = 16, valueSize = 64, env = withStacks()) => {
    const m = env.map({ type: MapType.STACK_TRACE, keySize: 4, valueSize, maxEntries }) as StackTraceMap;
    return { env, m, id: (flags = 0) => Number(call(env, 'get_stackid', 0, m.addr, flags)) };
  };
  const stored = (m: StackTraceMap, id: number) => {
    const k = new Uint8Array(4);
    new DataView(k.buffer).setUint32(0, id, true);
    const v = m.lookup(k);
    return v && u64s(v);
  };

  it('stores the stack under the id of its hash, and finds the same stack again', () => {
    const { m, id } = setup();
    const a = id();
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBe(jhash2(new Uint32Array(new BigUint64Array(KSTACK).buffer), 0) & (stackBuckets(16) - 1));
    expect(id()).toBe(a);
    expect(stored(m, a)).toEqual([...KSTACK, 0n, 0n, 0n, 0n]);
  });

  it('skips frames, takes the user stack, cuts the stack to the value size', () => {
    const { m, id } = setup(16, 16);
    expect(stored(m, id(1))).toEqual(KSTACK.slice(1, 3));
    expect(stored(m, id(StackFlag.USER_STACK))).toEqual(USTACK);
    // Skipping every frame leaves nothing: -EFAULT; an unknown flag: -EINVAL.
    expect(id(4)).toBe(-Errno.EFAULT);
    expect(id(1 << 12)).toBe(-Errno.EINVAL);
  });

  it('a different stack in a taken bucket: -EEXIST, replaced with BPF_F_REUSE_STACKID', () => {
    const env = withStacks();
    const { m, id } = setup(2, 64, env);
    const first = id();
    // Find another stack with the same bucket (two buckets: every other stack, about).
    let other: bigint[] = [];
    for (let k = 1n; ; k++) {
      other = [k, k + 1n];
      const h = jhash2(new Uint32Array(new BigUint64Array(other).buffer), 0) & 1;
      if (h === first) break;
    }
    env.task = { ...env.task, kernelStack: other };
    expect(id()).toBe(-Errno.EEXIST);
    expect(id(StackFlag.FAST_STACK_CMP)).toBe(-Errno.EEXIST);
    expect(id(StackFlag.REUSE_STACKID)).toBe(first);
    expect(stored(m, first)!.slice(0, 2)).toEqual(other);
    // User space deletes it, and iterates what is left.
    const k = new Uint8Array(4);
    new DataView(k.buffer).setUint32(0, first, true);
    m.delete(k);
    expect(m.lookup(k)).toBeUndefined();
    expect(m.nextKey(undefined)).toBeUndefined();
    expect(() => m.update(k, new Uint8Array(64))).toThrow(/EINVAL|invalid argument/);
  });

  it('holds at most max_entries stacks (-ENOMEM past them)', () => {
    const env = withStacks();
    const { id } = setup(1, 64, env);
    expect(id()).toBe(0);
    env.task = { ...env.task, kernelStack: [7n] };
    expect(id(StackFlag.REUSE_STACKID)).toBe(-Errno.ENOMEM);
  });

  it('uses a fixed stack when the task gives none', () => {
    const env = new FakeEnv(1 << 18);
    const { m, id } = setup(4, 64, env);
    expect(stored(m, id())!.slice(0, 3)).toEqual(DEFAULT_KERNEL_STACK);
  });
});

describe('get_stack', () => {
  const run = (size: number, flags: number, env = withStacks()) => {
    const buf = env.buf(new Uint8Array(size + 8).fill(0xaa));
    const r = Number(call(env, 'get_stack', 0, buf, size, flags));
    return { r, words: u64s(env.read(buf, size)), after: env.read(buf + size, 8) };
  };
  it('copies the addresses after the skipped ones and zeroes the rest of the buffer', () => {
    expect(run(48, 0)).toMatchObject({ r: 32, words: [...KSTACK, 0n, 0n] });
    expect(run(16, 1)).toMatchObject({ r: 16, words: KSTACK.slice(1, 3) });
    expect(run(24, StackFlag.USER_STACK)).toMatchObject({ r: 16, words: [...USTACK, 0n] });
    expect(run(16, 0).after).toEqual(new Uint8Array(8).fill(0xaa));
    // Skipping every frame copies nothing; skipping more is -EFAULT.
    expect(run(16, 4)).toMatchObject({ r: 0, words: [0n, 0n] });
    expect(run(16, 5)).toMatchObject({ r: -Errno.EFAULT, words: [0n, 0n] });
  });
  it('refuses bad flags and sizes with -EINVAL, buffer zeroed', () => {
    expect(run(12, 0).r).toBe(-Errno.EINVAL);
    expect(run(12, 0).words).toEqual([0n]);
    expect(run(16, StackFlag.REUSE_STACKID)).toMatchObject({ r: -Errno.EINVAL, words: [0n, 0n] });
    expect(run(64, StackFlag.USER_BUILD_ID).r).toBe(-Errno.EINVAL);
  });
  it('gives build-id entries of user stacks as addresses (status BPF_STACK_BUILD_ID_IP)', () => {
    const { r, words } = run(64, StackFlag.USER_STACK | StackFlag.USER_BUILD_ID);
    expect(r).toBe(64);
    // Entry k: s32 status 2 at 0, then build id bytes, the address at 24.
    expect(words[0]! & 0xffffffffn).toBe(2n);
    expect(words[3]).toBe(USTACK[0]);
    expect(words[7]).toBe(USTACK[1]);
  });
});

describe('the stack fixture on both engines', () => {
  const spec = readObject(readFileSync(join(FIXTURES, 'stack.o')));
  const runIt = (name: string, engine: (typeof ENGINES)[number]) => {
    const obj = loadObject(spec, {
      programs: [name],
      runtimeOptions: { task: { kernelStack: KSTACK, userStack: USTACK } },
    });
    const ctx = obj.runtime.space.allocate(168, 'ctx', 'pt_regs', false).start;
    obj.program(name).runner(engine).run(ctx, { ctx, programType: 'kprobe' });
    const out = obj.map('out');
    const res: Record<number, bigint> = {};
    for (let k = 0; k < 16; k++) {
      const v = out.lookup(new Uint8Array([k, 0, 0, 0]));
      if (v) res[k] = new DataView(v.buffer, v.byteOffset).getBigInt64(0, true);
    }
    return { res, stacks: obj.map('stacks') as unknown as StackTraceMap };
  };

  it.each(ENGINES)('ok_stackid and ok_stack on %s', (engine) => {
    const { res } = runIt('ok_stackid', engine);
    const idOf = (ips: bigint[]) =>
      BigInt(jhash2(new Uint32Array(new BigUint64Array(ips).buffer), 0) & (stackBuckets(16) - 1));
    expect(res[0]).toBe(idOf(KSTACK));
    expect(res[1]).toBe(res[0]);
    expect(res[2]).toBe(idOf(KSTACK.slice(1)));
    expect(res[3]).toBe(res[2]);
    expect(res[4]).toBe(idOf(USTACK));
    expect(res[5]).toBe(BigInt(-Errno.EFAULT));
    expect(res[6]).toBe(BigInt(-Errno.EINVAL));
    const s = runIt('ok_stack', engine).res;
    expect([s[7], s[8], s[9], s[10], s[11], s[12]]).toEqual([
      32n,
      1n,
      8n,
      BigInt(-Errno.EINVAL),
      BigInt(-Errno.EINVAL),
      BigInt(-Errno.EFAULT),
    ]);
  });
});
