// Helper prototypes against the Linux kernel. (1) Which program types may call each helper: for every
// helper of the registry (the packet helpers of skb.ts are checked by their own tests) and every program
// type the kernel loads here without an attach target, a one-call program is loaded in the kernel, and the
// registry must allow the call exactly when the kernel does. (2) The fixtures of test/fixtures/helpers
// (clang-built: trace.c, stack.c, sock.c, fib_rules.c, sockmap.c; one program per rule): ok_* the kernel loads and bad_* it refuses, and our verifier gives
// the same verdict for the same reason (a helper refused for the type, a map refused for the helper, a
// wrong argument, a leaked reference).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { loadCollection } from '../../src/collection/load.js';
import { readObject } from '../../src/elf/index.js';
import { CONTROL_HELPERS } from '../../src/helpers/control.js';
import { MAP_HELPERS } from '../../src/helpers/maps.js';
import { NETINFO_HELPERS } from '../../src/helpers/netinfo.js';
import { PERF_HELPERS } from '../../src/helpers/perf.js';
import { RINGBUF_HELPERS } from '../../src/helpers/ringbuf.js';
import { ROUTE_HELPERS } from '../../src/helpers/route.js';
import { SOCK_HELPERS } from '../../src/helpers/sock.js';
import { SOCKOPS_HELPERS } from '../../src/helpers/sockops.js';
import { STACK_HELPERS } from '../../src/helpers/stack.js';
import { STORAGE_HELPERS } from '../../src/helpers/storage.js';
import { STRING_HELPERS } from '../../src/helpers/strings.js';
import { TASK_HELPERS } from '../../src/helpers/task.js';
import { TIME_HELPERS } from '../../src/helpers/time.js';
import { TRACE_HELPERS } from '../../src/helpers/trace.js';
import { XDP_HELPERS } from '../../src/helpers/xdp.js';
import '../../src/kernel/register.js';
import { helperAllowed, type ProgramType } from '../../src/spec/program-types.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURES = join(__dirname, '../fixtures/helpers');

/**
 * The program types the kernel loads here with a one-call program: BPF_PROG_TYPE_* and, where the kernel
 * needs one, the expected attach type (cgroup/sock_addr: inet4_bind, sockopt: getsockopt, sk_lookup,
 * netfilter) or flags (syscall programs are sleepable). tracing, lsm, struct_ops and ext need an attach
 * target this machine refuses (EPERM), lirc_mode2 a kernel built with it.
 */
const TYPES: Record<string, { type: number; expectedAttachType?: number; flags?: number }> = {
  socket_filter: { type: 1 },
  kprobe: { type: 2 },
  sched_cls: { type: 3 },
  sched_act: { type: 4 },
  tracepoint: { type: 5 },
  xdp: { type: 6 },
  perf_event: { type: 7 },
  cgroup_skb: { type: 8 },
  cgroup_sock: { type: 9 },
  lwt_in: { type: 10 },
  lwt_out: { type: 11 },
  lwt_xmit: { type: 12 },
  sock_ops: { type: 13 },
  sk_skb: { type: 14 },
  cgroup_device: { type: 15 },
  sk_msg: { type: 16 },
  raw_tracepoint: { type: 17 },
  cgroup_sock_addr: { type: 18, expectedAttachType: 8 },
  lwt_seg6local: { type: 19 },
  sk_reuseport: { type: 21 },
  flow_dissector: { type: 22 },
  cgroup_sysctl: { type: 23 },
  raw_tracepoint_writable: { type: 24 },
  cgroup_sockopt: { type: 25, expectedAttachType: 21 },
  sk_lookup: { type: 30, expectedAttachType: 36 },
  syscall: { type: 31, flags: 16 },
  netfilter: { type: 32, expectedAttachType: 45 },
};

/**
 * This kernel refuses xdp_adjust_meta in XDP programs, which mainline allows (a build option of its driver
 * support; test/support/kernel.ts kernelRefusesHelper): the registry keeps mainline's answer.
 */
const KERNEL_BUILD_QUIRKS = new Set(['xdp_adjust_meta']);

const HELPERS = [
  ...MAP_HELPERS,
  ...TIME_HELPERS,
  ...TASK_HELPERS,
  ...STRING_HELPERS,
  ...CONTROL_HELPERS,
  ...XDP_HELPERS,
  ...RINGBUF_HELPERS,
  ...TRACE_HELPERS,
  ...STACK_HELPERS,
  ...SOCK_HELPERS,
  ...ROUTE_HELPERS,
  ...SOCKOPS_HELPERS,
  ...STORAGE_HELPERS,
  ...NETINFO_HELPERS,
  ...PERF_HELPERS,
].filter((h) => !KERNEL_BUILD_QUIRKS.has(h.name));

/**
 * Whether the kernel lets a program of `type` call helper `id`: a program that calls it with r1 the
 * context and r2-r5 zero is refused for the type ("cannot use helper", "not supported for program type")
 * or for anything else (an argument), which means the call itself is allowed.
 */
async function kernelAllows(type: keyof typeof TYPES, id: number): Promise<boolean> {
  const { progLoad, close } = await import('../../src/kernel/index.js');
  try {
    const insns = assemble(`r2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall ${id}\nr0 = 0\nexit`);
    close(progLoad({ ...TYPES[type]!, insns, license: 'GPL', logLevel: 1 }).fd);
    return true;
  } catch (e) {
    const m = (e as Error & { log?: string }).log ?? (e as Error).message;
    // ENOTSUPP: a prototype exists but the call is not supported for the type (get_func_ip in a tracepoint).
    if (/cannot use helper|unknown func|ENOTSUPP/.test(m)) return false;
    if (/EPERM|operation not permitted/.test((e as Error).message)) throw e;
    return true;
  }
}

let compared = 0;
afterAll(() => {
  if (compared) console.log(`helper prototypes vs kernel: ${compared} (helper, program type) pairs agree`);
});

describe.runIf(oracle)('which program types may call each helper, as the kernel answers', () => {
  it.each(HELPERS.map((h) => [`${h.name} (#${h.id})`, h] as const))('%s', async (_, h) => {
    const differ: string[] = [];
    for (const type of Object.keys(TYPES)) {
      const kernel = await kernelAllows(type, h.id);
      const ours = helperAllowed({ name: type } as ProgramType, h);
      if (kernel !== ours)
        differ.push(`${type}: kernel ${kernel ? 'allows' : 'refuses'}, we ${ours ? 'allow' : 'refuse'}`);
      else compared++;
    }
    expect(differ).toEqual([]);
  });
});

/** Our verdict's reason in the kernel's terms, from our verifier's message. */
function ourReason(message: string): string {
  if (/programs cannot call helper/.test(message)) return 'helper for type';
  if (/cannot be passed to/.test(message)) return 'map for helper';
  if (/reference leak|neither submitted nor discarded|would never be released/.test(message)) return 'leak';
  if (/argument \d of/.test(message)) return 'argument';
  if (/stack access of .* is outside/.test(message)) return 'memory';
  return message;
}

/** The kernel's reason, from the last lines of its log. */
function kernelReason(log: string): string {
  if (/cannot use helper|ENOTSUPP/.test(log)) return 'helper for type';
  if (/cannot pass map_type/.test(log)) return 'map for helper';
  if (/reference leak|Unreleased reference/.test(log)) return 'leak';
  if (/R\d type=\S+ expected=/.test(log)) return 'argument';
  if (/invalid (read|write|indirect read) (from|to) stack/.test(log)) return 'memory';
  return log;
}

const FILES = ['trace', 'stack', 'sock', 'fib_rules', 'sockmap'];

describe.runIf(oracle)('helper fixtures: the kernel and our verifier agree', () => {
  const cases = FILES.flatMap((f) => {
    const spec = readObject(readFileSync(join(FIXTURES, `${f}.o`)));
    return spec.programs.map((p) => [`${f}.o ${p.name} (${p.type})`, spec, p.name] as const);
  });

  it('has programs of both verdicts in every fixture', () => {
    for (const f of FILES) {
      const names = cases.filter((c) => c[0].startsWith(`${f}.o `)).map((c) => c[2]);
      expect(names.some((n) => n.startsWith('ok_')) && names.some((n) => n.startsWith('bad_')), f).toBe(true);
    }
  });

  it.each(cases)('%s', (_, spec, name) => {
    const verdict = (backend: 'kernel' | 'userspace') => {
      try {
        loadCollection(spec, { backend, programs: [name] }).close();
        return 'accepted';
      } catch (e) {
        const err = e as Error & { log?: string };
        return backend === 'kernel' ? kernelReason(err.log ?? err.message) : ourReason(err.message);
      }
    };
    const kernel = verdict('kernel');
    expect(kernel === 'accepted', `the kernel's verdict on ${name}: ${kernel}`).toBe(name.startsWith('ok_'));
    expect(verdict('userspace')).toBe(kernel);
  });
});
