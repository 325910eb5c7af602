// Auto-attach: what target each section name gives (libbpf's rules), completed by options, and the error
// naming what is missing when neither says where. No kernel needed: only the reading of sections.

import { describe, expect, it } from 'vitest';
import { autoTarget } from '../../../src/kernel/links/target.js';
import { programTypeForSection } from '../../../src/spec/sections.js';

const prog = (section: string) => ({
  fd: -1,
  name: 'p',
  spec: {
    name: 'p',
    section,
    type: programTypeForSection(section)?.type ?? 'unspec',
    insns: [],
    license: 'GPL',
  },
});

describe('autoTarget', () => {
  it.each([
    [
      'tracepoint/syscalls/sys_enter_openat',
      { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' },
    ],
    ['tp/sched/sched_switch', { kind: 'tracepoint', category: 'sched', name: 'sched_switch' }],
    ['raw_tp/sys_enter', { kind: 'raw_tracepoint', name: 'sys_enter' }],
    ['raw_tracepoint.w/bpf_test_finish', { kind: 'raw_tracepoint', name: 'bpf_test_finish' }],
    ['kprobe/do_unlinkat', { kind: 'kprobe', function: 'do_unlinkat', retprobe: false }],
    ['kprobe/tcp_connect+0x10', { kind: 'kprobe', function: 'tcp_connect', offset: 16, retprobe: false }],
    ['kretprobe/do_unlinkat', { kind: 'kprobe', function: 'do_unlinkat', retprobe: true }],
    ['uprobe/libc.so.6:malloc', { kind: 'uprobe', binary: 'libc.so.6', symbol: 'malloc', retprobe: false }],
    [
      'uretprobe//usr/bin/bash:readline',
      { kind: 'uprobe', binary: '/usr/bin/bash', symbol: 'readline', retprobe: true },
    ],
    [
      'uprobe//bin/x:main+8',
      { kind: 'uprobe', binary: '/bin/x', symbol: 'main', offset: 8, retprobe: false },
    ],
    ['uprobe//bin/x:0x1234', { kind: 'uprobe', binary: '/bin/x', offset: 0x1234, retprobe: false }],
    ['uprobe.s//bin/x:f', { kind: 'uprobe', binary: '/bin/x', symbol: 'f', retprobe: false }],
    ['uprobe.multi//bin/x:f_*', { kind: 'uprobe_multi', binary: '/bin/x', symbols: 'f_*', retprobe: false }],
    [
      'uretprobe.multi/libc.so.6:mem*',
      { kind: 'uprobe_multi', binary: 'libc.so.6', symbols: 'mem*', retprobe: true },
    ],
    ['kprobe.multi/tcp_*', { kind: 'kprobe_multi', functions: 'tcp_*', retprobe: false }],
    ['kretprobe.multi/do_sys_*', { kind: 'kprobe_multi', functions: 'do_sys_*', retprobe: true }],
    ['fentry/do_unlinkat', { kind: 'tracing' }],
    ['fexit/do_unlinkat', { kind: 'tracing' }],
    ['fmod_ret/security_file_open', { kind: 'tracing' }],
    ['lsm/file_open', { kind: 'tracing' }],
    ['tp_btf/sched_switch', { kind: 'tracing' }],
  ])('%s', (section, target) => {
    expect(autoTarget(prog(section))).toEqual(expect.objectContaining(target));
  });

  it('ksyscall names the architecture wrapper', () => {
    const prefix = { x64: '__x64_sys_', arm64: '__arm64_sys_' }[process.arch as 'x64' | 'arm64'];
    if (prefix)
      expect(autoTarget(prog('ksyscall/openat'))).toMatchObject({
        kind: 'kprobe',
        function: `${prefix}openat`,
      });
  });

  it.each([
    [
      'tcx/ingress',
      { iface: 'eth9', netns: 'n' },
      { kind: 'tcx', iface: 'eth9', direction: 'ingress', netns: 'n' },
    ],
    ['tc/egress', { iface: 3 }, { kind: 'tcx', iface: 3, direction: 'egress' }],
    ['tc', { iface: 'x', direction: 'ingress' }, { kind: 'tcx', direction: 'ingress' }],
    ['xdp', { iface: 'vb', xdpMode: 'skb' }, { kind: 'xdp', iface: 'vb', mode: 'skb' }],
    ['cgroup/connect4', { cgroup: '/sys/fs/cgroup/x' }, { kind: 'cgroup', path: '/sys/fs/cgroup/x' }],
    ['cgroup_skb/egress', { cgroup: '/c' }, { kind: 'cgroup', path: '/c' }],
    ['sockops', { cgroup: '/c' }, { kind: 'cgroup', path: '/c' }],
    ['socket', { socket: 7 }, { kind: 'socket', fd: 7 }],
    ['sk_lookup', { netns: 'n' }, { kind: 'sk_lookup', netns: 'n' }],
    [
      'flow_dissector',
      { netns: '/proc/self/ns/net' },
      { kind: 'flow_dissector', netns: '/proc/self/ns/net' },
    ],
    ['sk_msg', { map: 5 }, { kind: 'sockmap', map: 5 }],
    ['sk_skb/stream_verdict', { map: 5 }, { kind: 'sockmap', map: 5 }],
    ['perf_event', { cpu: 1, frequency: 50 }, { kind: 'perf_event', cpu: 1, frequency: 50 }],
    [
      'netfilter',
      { netfilter: { family: 'ipv4', hook: 'input', priority: 1 } },
      { kind: 'netfilter', family: 'ipv4', hook: 'input', priority: 1 },
    ],
    [
      'uprobe',
      { binary: 'libc.so.6', symbol: 'free', pid: 9 },
      { kind: 'uprobe', binary: 'libc.so.6', symbol: 'free', pid: 9 },
    ],
  ] as const)('%s with %o', (section, options, target) => {
    expect(autoTarget(prog(section), options as never)).toEqual(expect.objectContaining(target));
  });

  it.each([
    ['tracepoint/syscalls', /needs a tracepoint in the section: tracepoint\/CATEGORY\/NAME/],
    ['tracepoint', /needs a tracepoint in the section/],
    ['raw_tp', /needs a tracepoint name in the section: raw_tp\/NAME/],
    ['kprobe', /needs a kernel function in the section: kprobe\/FUNCTION\[\+OFFSET\]/],
    ['uprobe//bin/x', /needs a binary and a function in the section: uprobe\/PATH:FUNCTION\[\+OFFSET\]/],
    ['uprobe', /needs a binary and a function: section uprobe\/PATH:FUNCTION, or \{ binary, symbol \}/],
    [
      'uprobe.multi',
      /needs a binary and functions: section uprobe\.multi\/PATH:PATTERN, or \{ binary, symbol \}/,
    ],
    ['kprobe.multi', /needs kernel functions in the section: kprobe\.multi\/PATTERN/],
    ['tcx/ingress', /needs an interface for tcx ingress: \{ iface, netns\? \}/],
    ['tc', /needs a direction: section tcx\/ingress or tcx\/egress, or \{ direction \}/],
    ['xdp', /needs an interface: \{ iface, netns\? \}/],
    ['xdp/devmap', /needs a device or CPU map: xdp\/devmap programs run from a devmap\/cpumap entry/],
    ['cgroup/sysctl', /needs a cgroup v2 directory for cgroup_sysctl: \{ cgroup \}/],
    ['socket', /needs a socket: \{ socket: fd \}/],
    ['sk_lookup', /needs a network namespace/],
    ['sk_msg', /needs a sockmap or sockhash: \{ map \}/],
    ['perf_event', /needs a CPU to sample on/],
    ['netfilter', /needs a netfilter hook/],
    ['usdt/libc.so.6:libc:setjmp', /USDT probes are not supported yet/],
    ['lwt_in', /lwt_in programs do not auto-attach/],
  ])('%s: the error names what is missing', (section, message) => {
    expect(() => autoTarget(prog(section))).toThrow(message);
    expect(() => autoTarget(prog(section))).toThrow(`program p (section ${section})`);
  });
});
