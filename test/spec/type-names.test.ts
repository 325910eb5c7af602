// Program type names as users spell them (src/spec/type-names.ts): kernel, bpftool and libbpf section
// names resolve to the kernel's type; bpftool's own list and its loads are the oracle.
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  closeProgramTypeNames,
  programTypeNames,
  resolveProgramType,
  unknownProgramTypeMessage,
} from '../../src/spec/type-names.js';
import { tsbpf } from '../cli/run-cli.js';
import { kernelOracle } from '../support/kernel.js';

const ANY = 'test/fixtures/cli/any_type.o';

describe('resolveProgramType', () => {
  it('takes the kernel names, with or without BPF_PROG_TYPE_, in any case', () => {
    expect(resolveProgramType('sched_cls')).toEqual({ type: 'sched_cls' });
    expect(resolveProgramType('BPF_PROG_TYPE_SCHED_CLS')).toEqual({ type: 'sched_cls' });
    expect(resolveProgramType('socket_filter')).toEqual({ type: 'socket_filter' });
    expect(resolveProgramType('tracing')).toEqual({ type: 'tracing' });
    expect(resolveProgramType('unspec')).toBeUndefined();
  });

  it("takes bpftool's and libbpf's names, with the attach type the name fixes", () => {
    expect(resolveProgramType('classifier')).toEqual({ type: 'sched_cls' });
    expect(resolveProgramType('tc')).toEqual({ type: 'sched_cls' });
    expect(resolveProgramType('action')).toEqual({ type: 'sched_act' });
    expect(resolveProgramType('socket')).toEqual({ type: 'socket_filter' });
    expect(resolveProgramType('kretprobe')).toEqual({ type: 'kprobe' });
    expect(resolveProgramType('cgroup/skb')).toEqual({ type: 'cgroup_skb' });
    expect(resolveProgramType('cgroup/bind4')).toEqual({
      type: 'cgroup_sock_addr',
      attachType: 'cgroup_inet4_bind',
    });
    expect(resolveProgramType('fentry')).toEqual({ type: 'tracing', attachType: 'trace_fentry' });
    expect(resolveProgramType('freplace')).toEqual({ type: 'ext' });
    expect(resolveProgramType('xdp/devmap')).toEqual({ type: 'xdp', attachType: 'xdp_devmap' });
    expect(resolveProgramType('kprobe/do_sys_open')).toEqual({ type: 'kprobe' });
  });

  it('every name it lists resolves; unknown names get close ones', () => {
    for (const n of programTypeNames()) expect(resolveProgramType(n), n).toBeDefined();
    expect(resolveProgramType('clasifier')).toBeUndefined();
    expect(closeProgramTypeNames('clasifier')[0]).toBe('classifier');
    expect(closeProgramTypeNames('cgroup_bind4')).toContain('cgroup/bind4');
    expect(unknownProgramTypeMessage('sockett')).toMatch(
      /^unknown program type 'sockett' \(did you mean socket/,
    );
    expect(unknownProgramTypeMessage('zzzz')).toBe(
      "unknown program type 'zzzz' (e.g. xdp, tc, socket, kprobe, cgroup/skb)",
    );
    // A very long name costs no more than a 64-character one.
    expect(closeProgramTypeNames('x'.repeat(100_000))).toEqual([]);
  });
});

describe('--type NAME on the command line', () => {
  it('verify takes every spelling of one type, and says which type it became', () => {
    for (const t of ['classifier', 'tc', 'sched_cls', 'BPF_PROG_TYPE_SCHED_CLS']) {
      const r = tsbpf(['verify', ANY, '--type', t, '--json']);
      expect(r.code, t).toBe(0);
      expect(JSON.parse(r.stdout).programs[0].type).toBe('sched_cls');
    }
    const bind = tsbpf(['verify', ANY, '--type', 'cgroup/bind4', '--json']);
    expect(bind.code).toBe(0);
    expect(JSON.parse(bind.stdout).programs[0].type).toBe('cgroup_sock_addr');
  });

  it('an unknown name is a usage error with close names', () => {
    const r = tsbpf(['verify', ANY, '--type', 'clasifier']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tsbpf: --type: unknown program type 'clasifier' \(did you mean classifier/);
  });
});

describe.skipIf(!kernelOracle())("bpftool's names mean the kernel type bpftool loads", () => {
  // bpftool's own list of TYPE words, from its help.
  // (bpftool prints its help on stderr.)
  const helped = spawnSync('bpftool', ['prog', 'help'], { encoding: 'utf8' });
  const help = `${helped.stdout}${helped.stderr}`;
  const block = /TYPE := \{([^}]*)\}/.exec(help)?.[1] ?? '';
  const names = block
    .split('|')
    .map((w) => w.trim())
    .filter(Boolean);
  // Types whose programs need a target (BTF id, attach program) or a device before the kernel loads them.
  const needTarget = new Set(['fentry', 'fexit', 'freplace', 'struct_ops', 'lirc_mode2']);

  it('bpftool lists the names we take', () => {
    expect(names.length).toBeGreaterThan(40);
    for (const n of names) expect(resolveProgramType(n), n).toBeDefined();
  });

  it('each loads as the type we resolve it to', () => {
    const pin = `/sys/fs/bpf/tsbpf_types_${process.pid}`;
    let compared = 0;
    for (const n of names) {
      if (needTarget.has(n)) continue;
      try {
        execFileSync('bpftool', ['prog', 'load', ANY, pin, 'type', n], { stdio: 'pipe' });
        const shown = JSON.parse(
          execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', pin], { encoding: 'utf8' }),
        );
        expect(resolveProgramType(n)?.type, n).toBe(shown.type);
        compared++;
      } finally {
        rmSync(pin, { force: true });
      }
    }
    expect(compared).toBe(names.length - needTarget.size);
  });
});
