// bpf_fib_lookup over a modelled network, against the kernel's on the same network: a network namespace of
// our own (never the machine's interfaces) with a veth pair, addresses, routes (via a gateway, with an MTU,
// blackhole/unreachable/prohibit), permanent neighbours and forwarding; the fixture
// test/fixtures/helpers/fib.c is test-run there (bpftool prog run, inside the namespace) and on both engines
// with the same network as a NetModel. Every case compares the return value and all 64 bytes of struct
// bpf_fib_lookup as the helper left them.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { DEFAULT_NET, FibFlag, FibResult, parseIp } from '../../src/helpers/route.js';
import type { NetModel } from '../../src/helpers/types.js';
import { testRun } from '../../src/hooks/test-run.js';
import { Errno } from '../../src/spec/errno.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = join(__dirname, '../fixtures/helpers/fib.o');
const NS = `tsbpf-fib-${process.pid}`;
const PIN = `/sys/fs/bpf/tsbpf_fib_${process.pid}`;

interface Case {
  name: string;
  family?: number;
  dst: string;
  ifindex: 'veth0' | 'veth1' | 'lo' | number;
  flags?: number;
  totLen?: number;
}

const CASES: Case[] = [
  { name: 'via a gateway', dst: '10.2.3.4', ifindex: 'veth0' },
  { name: 'via a gateway, source address', dst: '10.2.3.4', ifindex: 'veth0', flags: FibFlag.SRC },
  { name: 'on the link', dst: '10.1.0.2', ifindex: 'veth0' },
  { name: 'route with an MTU, packet fits', dst: '10.3.0.9', ifindex: 'veth0', totLen: 1400 },
  { name: 'route with an MTU, packet too big', dst: '10.3.0.9', ifindex: 'veth0', totLen: 1401 },
  { name: 'no neighbour', dst: '10.3.0.8', ifindex: 'veth0' },
  { name: 'no neighbour, skipped', dst: '10.3.0.8', ifindex: 'veth0', flags: FibFlag.SKIP_NEIGH },
  { name: 'blackhole', dst: '10.4.1.1', ifindex: 'veth0' },
  { name: 'unreachable', dst: '10.5.1.1', ifindex: 'veth0' },
  { name: 'prohibit', dst: '10.6.1.1', ifindex: 'veth0' },
  { name: 'no route', dst: '192.168.7.7', ifindex: 'veth0' },
  { name: 'a local address', dst: '10.1.0.1', ifindex: 'veth0' },
  { name: 'forwarding off on the input interface', dst: '10.2.3.4', ifindex: 'veth1' },
  { name: 'no such interface', dst: '10.2.3.4', ifindex: 999 },
  { name: 'not an IP family', family: 7, dst: '10.2.3.4', ifindex: 'veth0' },
  { name: 'unknown flags', dst: '10.2.3.4', ifindex: 'veth0', flags: 64 },
];

const MAC0 = '02:00:00:00:0a:01';
const MAC1 = '02:00:00:00:0a:02';
const NEIGH9 = '02:00:00:00:0a:09';

/** The namespace's network as a NetModel (ifindexes as the kernel gave them). */
function model(veth0: number, veth1: number): NetModel {
  return {
    interfaces: [
      { ifindex: 1, name: 'lo', mtu: 65536, forwarding: true },
      { ifindex: veth0, name: 'veth0', mac: MAC0, mtu: 1500, forwarding: true },
      { ifindex: veth1, name: 'veth1', mac: MAC1, mtu: 1500, forwarding: false },
    ],
    routes: [
      { prefix: '10.1.0.1/32', ifindex: veth0, type: 'local' },
      { prefix: '10.1.0.0/24', ifindex: veth0, src: '10.1.0.1', dmac: MAC1 },
      { prefix: '10.2.0.0/16', ifindex: veth0, gateway: '10.1.0.2', metric: 7, src: '10.1.0.1', dmac: MAC1 },
      { prefix: '10.3.0.9/32', ifindex: veth0, mtu: 1400, src: '10.1.0.1', dmac: NEIGH9 },
      { prefix: '10.3.0.0/16', ifindex: veth0, mtu: 1400, src: '10.1.0.1' },
      { prefix: '10.4.0.0/16', ifindex: 1, type: 'blackhole' },
      { prefix: '10.5.0.0/16', ifindex: 1, type: 'unreachable' },
      { prefix: '10.6.0.0/16', ifindex: 1, type: 'prohibit' },
    ],
  };
}

/** The packet fib.c reads: struct bpf_fib_lookup, then the flags. */
function packet(c: Case, ifindexes: Record<string, number>): Uint8Array {
  const b = new Uint8Array(68);
  const v = new DataView(b.buffer);
  b[0] = c.family ?? 2;
  b[1] = 6; // l4_protocol
  v.setUint16(2, 0x1234, false);
  v.setUint16(4, 80, false);
  v.setUint16(6, c.totLen ?? 0, true);
  v.setUint32(8, typeof c.ifindex === 'number' ? c.ifindex : ifindexes[c.ifindex]!, true);
  b.set(parseIp('10.1.0.1')!, 16);
  b.set(parseIp(c.dst)!, 32);
  v.setUint32(64, c.flags ?? 0, true);
  return b;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();
const ipn = (...args: string[]) => sh('ip', ['-n', NS, ...args]);

describe.runIf(oracle)('fib_lookup: the kernel and both engines on the same network', () => {
  const ifindexes: Record<string, number> = { lo: 1 };
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-fib-'));
    sh('ip', ['netns', 'add', NS]);
    ipn('link', 'add', 'veth0', 'address', MAC0, 'type', 'veth', 'peer', 'name', 'veth1', 'address', MAC1);
    for (const d of ['lo', 'veth0', 'veth1']) ipn('link', 'set', d, 'up');
    sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
    sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.conf.veth1.forwarding=0']);
    ipn('addr', 'add', '10.1.0.1/24', 'dev', 'veth0');
    ipn('route', 'add', '10.2.0.0/16', 'via', '10.1.0.2', 'dev', 'veth0', 'metric', '7');
    // A route's MTU counts for forwarding only when locked (or with ip_forward_use_pmtu).
    ipn('route', 'add', '10.3.0.0/16', 'dev', 'veth0', 'mtu', 'lock', '1400');
    for (const t of ['blackhole', 'unreachable', 'prohibit'])
      ipn('route', 'add', t, `10.${4 + ['blackhole', 'unreachable', 'prohibit'].indexOf(t)}.0.0/16`);
    ipn('neigh', 'replace', '10.1.0.2', 'lladdr', MAC1, 'dev', 'veth0', 'nud', 'permanent');
    ipn('neigh', 'replace', '10.3.0.9', 'lladdr', NEIGH9, 'dev', 'veth0', 'nud', 'permanent');
    for (const d of ['veth0', 'veth1'])
      ifindexes[d] = (JSON.parse(ipn('-j', 'link', 'show', d)) as { ifindex: number }[])[0]!.ifindex;
    sh('bpftool', ['prog', 'load', FIXTURE, PIN, 'type', 'xdp']);
  });
  afterAll(() => {
    rmSync(PIN, { force: true, recursive: true });
    try {
      sh('ip', ['netns', 'del', NS]);
    } catch {
      /* already gone */
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The kernel's result: bpftool prog run inside the namespace (its test run looks up in the caller's). */
  function kernel(c: Case): { retval: number; out: string } {
    const fin = join(dir, 'in');
    const fout = join(dir, 'out');
    writeFileSync(fin, packet(c, ifindexes));
    const text = sh('nsenter', [
      `--net=/run/netns/${NS}`,
      'bpftool',
      'prog',
      'run',
      'pinned',
      PIN,
      'data_in',
      fin,
      'data_out',
      fout,
    ]);
    const retval = Number(/Return value: (\d+)/.exec(text)![1]);
    return { retval, out: Buffer.from(readFileSync(fout)).subarray(0, 64).toString('hex') };
  }

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const k = kernel(c);
    for (const engine of ENGINES) {
      const obj = loadObject(readObject(readFileSync(FIXTURE)), {
        programs: ['ok_fib'],
        runtimeOptions: { net: model(ifindexes.veth0!, ifindexes.veth1!) },
      });
      const r = testRun(obj.program('ok_fib').runner(engine), { dataIn: packet(c, ifindexes) });
      expect(
        { retval: r.retval >>> 0, out: Buffer.from(r.dataOut).subarray(0, 64).toString('hex') },
        `${c.name} on ${engine}`,
      ).toEqual(k);
    }
  });
});

describe('fib_lookup without a network', () => {
  it.each(ENGINES)('%s: a fresh namespace (loopback, forwarding off), and bad arguments', (engine) => {
    const obj = loadObject(readObject(readFileSync(FIXTURE)), { programs: ['ok_fib'] });
    const run = (c: Case) =>
      BigInt.asIntN(
        32,
        BigInt(testRun(obj.program('ok_fib').runner(engine), { dataIn: packet(c, {}) }).retval),
      );
    expect(DEFAULT_NET.interfaces.map((i) => i.ifindex)).toEqual([1]);
    expect(run({ name: 'lo', dst: '10.0.0.1', ifindex: 1 })).toBe(BigInt(FibResult.FWD_DISABLED));
    expect(run({ name: 'no device', dst: '10.0.0.1', ifindex: 2 })).toBe(BigInt(-Errno.ENODEV));
    expect(run({ name: 'family', family: 0, dst: '10.0.0.1', ifindex: 1 })).toBe(BigInt(-Errno.EAFNOSUPPORT));
    expect(run({ name: 'flags', dst: '10.0.0.1', ifindex: 1, flags: 128 })).toBe(BigInt(-Errno.EINVAL));
  });

  it('refuses a network that does not hold together, with a one-line error', () => {
    const bad = (routes: NetModel['routes']) => () =>
      loadObject(readObject(readFileSync(FIXTURE)), {
        programs: ['ok_fib'],
        runtimeOptions: { net: { interfaces: [{ ifindex: 1, mtu: 1500, forwarding: true }], routes } },
      });
    expect(bad([{ prefix: '10.0.0.0', ifindex: 1 }])).toThrow(
      "route '10.0.0.0': not an address/prefix-length",
    );
    expect(bad([{ prefix: '10.0.0.0/8', ifindex: 2 }])).toThrow(
      "route '10.0.0.0/8': no interface with ifindex 2",
    );
    expect(bad([{ prefix: '10.0.0.0/8', ifindex: 1, gateway: 'fe80::1' }])).toThrow(
      /not an address of its family/,
    );
    expect(bad([{ prefix: '10.0.0.0/8', ifindex: 1, dmac: '00:11' }])).toThrow(/dmac '00:11' is not a MAC/);
  });

  it('routes IPv6 the same way (longest prefix, then metric)', () => {
    const net: NetModel = {
      interfaces: [{ ifindex: 2, mac: '02:00:00:00:00:01', mtu: 1500, forwarding: true }],
      routes: [
        { prefix: 'fd00::/16', ifindex: 2, gateway: 'fd00::1', metric: 5, dmac: '02:00:00:00:00:05' },
        { prefix: 'fd00::/16', ifindex: 2, gateway: 'fd00::2', metric: 1, dmac: '02:00:00:00:00:06' },
        { prefix: 'fd00:1::/32', ifindex: 2, gateway: 'fd00::3', dmac: '02:00:00:00:00:07' },
      ],
    };
    const obj = loadObject(readObject(readFileSync(FIXTURE)), {
      programs: ['ok_fib'],
      runtimeOptions: { net },
    });
    const run = (dst: string) => {
      const p = new Uint8Array(68);
      p[0] = 10;
      new DataView(p.buffer).setUint32(8, 2, true);
      p.set(parseIp(dst)!, 32);
      const r = testRun(obj.program('ok_fib').runner('interp'), { dataIn: p });
      const out = r.dataOut;
      return { rc: r.retval, gw: Buffer.from(out.subarray(32, 48)).toString('hex'), dmac: out[63] };
    };
    expect(run('fd00:9::1')).toEqual({ rc: 0, gw: `fd00${'0'.repeat(27)}2`, dmac: 6 });
    expect(run('fd00:1::9')).toEqual({ rc: 0, gw: `fd00${'0'.repeat(27)}3`, dmac: 7 });
    expect(run('fe80::1').rc).toBe(FibResult.NOT_FWDED);
  });
});
