// Cgroup programs on a fresh cgroup v2 directory: every cgroup program of the fixture attached from its
// section with attachAll({ cgroup }), triggered by child processes placed in that cgroup (a UDP connect and
// send, a setsockopt, a sysctl read, opening /dev/zero), counted exactly, detached, the cgroup removed.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../../src/kernel/index.js';
import type { Link } from '../../../src/spec/link.js';
import { kernelOracle } from '../../support/kernel.js';
import { count, type Ids, leftovers, loadFixture, Slot } from './support.js';

const oracle = kernelOracle();

/** The cgroup v2 mount: /sys/fs/cgroup itself on unified hosts, /sys/fs/cgroup/unified on hybrid ones. */
function cgroup2Root(): string {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  const line = mounts.find((l) => l.split(' ')[2] === 'cgroup2');
  if (!line) throw new Error('no cgroup2 mount on this machine');
  return line.split(' ')[1]!;
}

const CGROUP_PROGRAMS = [
  'cg_connect4',
  'cg_egress',
  'cg_sock_create',
  'cg_setsockopt',
  'cg_sysctl',
  'cg_dev',
];

describe.skipIf(!oracle)('cgroup attachments', () => {
  let obj: k.KernelObject;
  let ids: Ids;
  let cg: string;
  beforeAll(() => {
    cg = `${cgroup2Root()}/tsbpf-attach-${process.pid}`;
    mkdirSync(cg);
    ({ obj, ids } = loadFixture(CGROUP_PROGRAMS));
  });
  afterAll(async () => {
    obj?.close();
    if (existsSync(cg)) rmdirSync(cg);
    expect(await leftovers(ids)).toEqual([]);
    expect(existsSync(cg)).toBe(false);
  });

  /** Run shell `script` in a child process that first moves itself into the test's cgroup. */
  const inCgroup = (script: string) =>
    execFileSync('bash', ['-c', `echo $$ > ${cg}/cgroup.procs && ${script}`]);
  const triggers = () => {
    inCgroup('echo x > /dev/udp/127.0.0.1/5001'); // bash: a UDP socket, connect(), one datagram out
    inCgroup(
      `python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)"`,
    );
    inCgroup('dd if=/proc/sys/kernel/ostype bs=64 count=1 status=none');
    inCgroup(': < /dev/zero; : < /dev/zero; : < /dev/zero');
  };
  const counts = () =>
    [
      Slot.CG_CONNECT4,
      Slot.CG_SKB_EGRESS,
      Slot.CG_SOCK_CREATE,
      Slot.CG_SETSOCKOPT,
      Slot.CG_SYSCTL,
      Slot.CG_DEV,
    ].map((s) => count(obj, s));

  it('attachAll({ cgroup }) attaches each by its section; each sees its event in that cgroup only; close detaches', () => {
    const links: Link[] = obj.attachAll({ cgroup: cg });
    try {
      for (const l of links) ids.link.push((l as k.BpfLink).id);
      expect(links.map((l) => l.info().kind)).toEqual([
        'cgroup cgroup_inet4_connect',
        'cgroup cgroup_inet_egress',
        'cgroup cgroup_inet_sock_create',
        'cgroup cgroup_setsockopt',
        'cgroup cgroup_sysctl',
        'cgroup cgroup_device',
      ]);
      // The kernel lists them on the cgroup.
      const shown = execFileSync('bpftool', ['cgroup', 'show', cg]).toString();
      for (const name of CGROUP_PROGRAMS) expect(shown).toContain(name);
      // Outside the cgroup nothing is counted.
      execFileSync('bash', ['-c', 'echo x > /dev/udp/127.0.0.1/5001; : < /dev/zero']);
      expect(counts()).toEqual([0n, 0n, 0n, 0n, 0n, 0n]);
      triggers();
      // connect4 once, one datagram out, one UDP socket, one SO_RCVBUF, one sysctl read, three opens of /dev/zero.
      expect(counts()).toEqual([1n, 1n, 1n, 1n, 1n, 3n]);
    } finally {
      for (const l of links) void l.close();
    }
    triggers();
    expect(counts()).toEqual([1n, 1n, 1n, 1n, 1n, 3n]);
    expect(execFileSync('bpftool', ['cgroup', 'show', cg]).toString()).toBe('');
  });

  it('BPF_PROG_ATTACH in multi mode (the pre-link way) counts the same and detaches', () => {
    const before = count(obj, Slot.CG_CONNECT4);
    const link = obj.program('cg_connect4').attach({ kind: 'cgroup', path: cg, progAttach: true });
    try {
      expect(link).toBeInstanceOf(k.HookLink);
      expect(execFileSync('bpftool', ['cgroup', 'show', cg]).toString()).toMatch(/cg_connect4/);
      inCgroup('echo x > /dev/udp/127.0.0.1/5001; echo x > /dev/udp/127.0.0.1/5001');
      expect(count(obj, Slot.CG_CONNECT4) - before).toBe(2n);
    } finally {
      link.close();
    }
    inCgroup('echo x > /dev/udp/127.0.0.1/5001');
    expect(count(obj, Slot.CG_CONNECT4) - before).toBe(2n);
    expect(execFileSync('bpftool', ['cgroup', 'show', cg]).toString()).toBe('');
  });

  it('names what is missing: the cgroup, or a directory that is not cgroup v2', () => {
    expect(() => obj.program('cg_connect4').attach()).toThrow(
      /program cg_connect4 \(section cgroup\/connect4\): cannot attach automatically: needs a cgroup v2 directory for cgroup_inet4_connect/,
    );
    expect(() => obj.program('cg_connect4').attach({ kind: 'cgroup', path: '/tmp' })).toThrow(
      /\/tmp is not a cgroup v2 directory/,
    );
    expect(() => obj.program('cg_connect4').attach({ cgroup: `${cg}/none` })).toThrow(/no cgroup directory/);
  });
});
