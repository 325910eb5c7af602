// Which program types may call the helpers of tunnel.ts, sock-casts.ts, syncookie.ts, cgroup-storage.ts,
// sock-calls.ts, syscall.ts, security.ts, trace-output.ts and lirc.ts, as the kernel answers: for every
// such helper and every program type (and attach type) the kernel loads here without an attach target, a
// one-call program is loaded in the kernel, and the registry must allow the call exactly when the kernel
// does. Two answers of this machine's kernel are its build's, not mainline's, and the registry keeps
// mainline's: probe_write_user is withheld under lockdown (CONFIG_SECURITY_LOCKDOWN_LSM), and the seg6local
// helpers need CONFIG_IPV6_SEG6_LWTUNNEL, which this kernel lacks.
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { CGROUP_STORAGE_HELPERS } from '../../src/helpers/cgroup-storage.js';
import { LIRC_HELPERS } from '../../src/helpers/lirc.js';
import { SECURITY_HELPERS } from '../../src/helpers/security.js';
import { SOCK_CALL_HELPERS } from '../../src/helpers/sock-calls.js';
import { SOCK_CAST_HELPERS } from '../../src/helpers/sock-casts.js';
import { SYNCOOKIE_HELPERS } from '../../src/helpers/syncookie.js';
import { SYSCALL_HELPERS } from '../../src/helpers/syscall.js';
import { TRACE_OUTPUT_HELPERS } from '../../src/helpers/trace-output.js';
import { TUNNEL_HELPERS } from '../../src/helpers/tunnel.js';
import { helperAllowed, programTypeFor } from '../../src/spec/program-types.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/**
 * The program types (and attach types) the kernel loads here with a one-call program, as
 * prototypes.test.ts has them, plus cgroup_sock_addr as a connect4 program (bind is for connect only).
 */
const TYPES: [name: string, attachType: string | undefined, attr: Record<string, number>][] = [
  ['socket_filter', undefined, { type: 1 }],
  ['kprobe', undefined, { type: 2 }],
  ['sched_cls', undefined, { type: 3 }],
  ['sched_act', undefined, { type: 4 }],
  ['tracepoint', undefined, { type: 5 }],
  ['xdp', undefined, { type: 6 }],
  ['perf_event', undefined, { type: 7 }],
  ['cgroup_skb', undefined, { type: 8 }],
  ['cgroup_sock', undefined, { type: 9 }],
  ['lwt_in', undefined, { type: 10 }],
  ['lwt_out', undefined, { type: 11 }],
  ['lwt_xmit', undefined, { type: 12 }],
  ['sock_ops', undefined, { type: 13 }],
  ['sk_skb', undefined, { type: 14 }],
  ['cgroup_device', undefined, { type: 15 }],
  ['sk_msg', undefined, { type: 16 }],
  ['raw_tracepoint', undefined, { type: 17 }],
  ['cgroup_sock_addr', 'cgroup_inet4_bind', { type: 18, expectedAttachType: 8 }],
  ['cgroup_sock_addr', 'cgroup_inet4_connect', { type: 18, expectedAttachType: 10 }],
  ['lwt_seg6local', undefined, { type: 19 }],
  ['sk_reuseport', undefined, { type: 21 }],
  ['flow_dissector', undefined, { type: 22 }],
  ['cgroup_sysctl', undefined, { type: 23 }],
  ['raw_tracepoint_writable', undefined, { type: 24 }],
  ['cgroup_sockopt', 'cgroup_getsockopt', { type: 25, expectedAttachType: 21 }],
  ['sk_lookup', 'sk_lookup', { type: 30, expectedAttachType: 36 }],
  ['syscall', undefined, { type: 31, flags: 16 }],
  ['netfilter', 'netfilter', { type: 32, expectedAttachType: 45 }],
];

/** This kernel's build answers (see the header): the helper, and the types where mainline differs. */
const KERNEL_BUILD_QUIRKS: Record<string, string[]> = {
  probe_write_user: [
    'kprobe',
    'tracepoint',
    'perf_event',
    'raw_tracepoint',
    'raw_tracepoint_writable',
    'syscall',
  ],
  lwt_seg6_store_bytes: ['lwt_seg6local'],
  lwt_seg6_adjust_srh: ['lwt_seg6local'],
  lwt_seg6_action: ['lwt_seg6local'],
};

const HELPERS = [
  ...TUNNEL_HELPERS,
  ...SOCK_CAST_HELPERS,
  ...SYNCOOKIE_HELPERS,
  ...CGROUP_STORAGE_HELPERS,
  ...SOCK_CALL_HELPERS,
  ...SYSCALL_HELPERS,
  ...SECURITY_HELPERS,
  ...TRACE_OUTPUT_HELPERS,
  ...LIRC_HELPERS,
];

/**
 * Whether the kernel lets a program of this type call helper `id`: refused for the type ("cannot use
 * helper", ENOTSUPP, d_path's "not allowed in probe"), or for anything else (an argument: the call itself
 * is allowed).
 */
async function kernelAllows(attr: Record<string, number>, id: number): Promise<boolean> {
  const { progLoad, close } = await import('../../src/kernel/index.js');
  try {
    const insns = assemble(`r2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall ${id}\nr0 = 0\nexit`);
    close(progLoad({ ...attr, insns, license: 'GPL', logLevel: 1 } as never).fd);
    return true;
  } catch (e) {
    const m = (e as Error & { log?: string }).log ?? (e as Error).message;
    if (/cannot use helper|unknown func|ENOTSUPP|not allowed in probe/.test(m)) return false;
    if (/EPERM|operation not permitted/.test((e as Error).message)) throw e;
    return true;
  }
}

let compared = 0;
afterAll(() => {
  if (compared) console.log(`helpers2 prototypes vs kernel: ${compared} (helper, program type) pairs agree`);
});

describe.runIf(oracle)('which program types may call each new helper, as the kernel answers', () => {
  it('covers every helper of the nine groups', () => {
    expect(HELPERS.length).toBe(48);
  });

  it.each(HELPERS.map((h) => [`${h.name} (#${h.id})`, h] as const))('%s', async (_, h) => {
    const differ: string[] = [];
    for (const [name, attachType, attr] of TYPES) {
      const type = programTypeFor(name, attachType)!;
      const ours = helperAllowed(type, h);
      const quirk = KERNEL_BUILD_QUIRKS[h.name]?.includes(name);
      const kernel = (await kernelAllows(attr, h.id)) !== !!quirk;
      const where = attachType ? `${name} (${attachType})` : name;
      if (kernel !== ours)
        differ.push(`${where}: kernel ${kernel ? 'allows' : 'refuses'}, we ${ours ? 'allow' : 'refuse'}`);
      else compared++;
    }
    expect(differ).toEqual([]);
  });
});
