// Socket casts in user space (src/helpers/sock-casts.ts): which cast gives the socket back and which gives
// NULL, for sockets of each kind laid out as programs read them (struct bpf_sock: family, type, protocol,
// state), and NULL for anything that is no socket in memory. Their verdicts against the kernel are in
// verdicts-more.test.ts (fixtures casts.c), their program types in prototypes-more.test.ts; from fentry
// programs (typed_socks.c, which this machine cannot load) by the kernel's rule, our verifier alone. At
// run time on the test run's socket (casts_run.c): each cast's result and tcp_gen_syncookie's, as the
// kernel's BPF_PROG_TEST_RUN gives them, on both engines.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import { readObject } from '../../src/elf/index.js';
import { helperByName } from '../../src/helpers/registry.js';
import '../../src/node/core-target.js';
import { compareWithKernel, PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';
import { FakeEnv } from './env.js';

const oracle = kernelOracle();

/** A struct bpf_sock of this kind; returns its address. */
function sock(env: FakeEnv, family: number, type: number, protocol: number, state: number): number {
  const b = new Uint8Array(80);
  const v = new DataView(b.buffer);
  v.setUint32(4, family, true);
  v.setUint32(8, type, true);
  v.setUint32(12, protocol, true);
  v.setUint32(72, state, true);
  return env.buf(b);
}

const CASTS = [
  'tcp_sock',
  'get_listener_sock',
  'skc_to_tcp6_sock',
  'skc_to_tcp_sock',
  'skc_to_tcp_timewait_sock',
  'skc_to_tcp_request_sock',
  'skc_to_udp6_sock',
  'skc_to_unix_sock',
  'skc_to_mptcp_sock',
];

describe('socket casts', () => {
  const env = new FakeEnv();
  const kinds: [what: string, addr: number, casts: string[]][] = [
    ['an established TCP/IPv4 socket', sock(env, 2, 1, 6, 1), ['tcp_sock', 'skc_to_tcp_sock']],
    [
      'a listening TCP/IPv6 socket',
      sock(env, 10, 1, 6, 10),
      ['tcp_sock', 'get_listener_sock', 'skc_to_tcp6_sock', 'skc_to_tcp_sock'],
    ],
    ['a time-wait socket', sock(env, 2, 1, 6, 6), ['skc_to_tcp_timewait_sock']],
    ['a request socket', sock(env, 10, 1, 6, 12), ['skc_to_tcp_request_sock']],
    ['a UDP/IPv6 socket', sock(env, 10, 2, 17, 7), ['skc_to_udp6_sock']],
    ['a UDP/IPv4 socket', sock(env, 2, 2, 17, 7), []],
    ['a unix socket', sock(env, 1, 1, 0, 1), ['skc_to_unix_sock']],
    ['NULL', 0, []],
    ['an unmapped address', 0x7fff0000, []],
  ];
  for (const [what, addr, casts] of kinds) {
    it(`${what}: ${casts.join(', ') || 'no cast'} succeed`, () => {
      for (const name of CASTS) {
        const h = helperByName(name)!;
        const want = casts.includes(name) ? BigInt(addr) : 0n;
        expect(h.call(env, BigInt(addr), 0n, 0n, 0n, 0n), name).toBe(want);
        expect(h.numbers!.call(env, addr, 0, 0, 0, 0), name).toBe(Number(want));
      }
    });
  }
});

describe('casts of typed pointers (fentry)', () => {
  const spec = readObject(readFileSync('test/fixtures/helpers2/typed_socks.o'));
  const verdict = (name: string) => {
    try {
      loadCollection(spec, { backend: 'userspace', programs: [name] }).close();
      return 'accepted';
    } catch (e) {
      return (e as Error).message;
    }
  };
  it('a struct sock argument casts to a tcp_sock whose fields are read', () => {
    expect(verdict('ok_cast_sock_arg')).toBe('accepted');
  });
  it('a task_struct is no socket', () => {
    expect(verdict('bad_cast_task')).toMatch(
      /argument 1 of skc_to_tcp_sock \(R1\) must be a pointer to a socket/,
    );
  });
});

describe.runIf(oracle)('casts on the test run’s socket: tsbpf vs the kernel', () => {
  it('every cast and tcp_gen_syncookie over the captures', async () => {
    const packets = PACKETS.filter((_, i) => i % 8 === 0);
    expect(await compareWithKernel('test/fixtures/helpers2/casts_run.o', 'casts_run', packets, [false])).toBe(
      packets.length * 2,
    );
  });
});
