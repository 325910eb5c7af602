// Auto-attach: what target each section name gives (libbpf's rules), completed by options, and the error
// naming what is missing when neither says where; and the command-line grammar of attach targets. No kernel
// needed: only the reading of sections and words.

import { describe, expect, it } from 'vitest';
import * as k from '../../../src/kernel/links/index.js';
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
    ['lsm_cgroup/socket_bind', { cgroup: '/c' }, { kind: 'cgroup', path: '/c', attachType: 'lsm_cgroup' }],
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
    ['lsm_cgroup/socket_bind', /needs a cgroup v2 directory for lsm_cgroup: \{ cgroup \}/],
    ['sk_lookup', /needs a network namespace/],
    ['sk_msg', /needs a sockmap or sockhash: \{ map \}/],
    ['perf_event', /needs a CPU to sample on/],
    ['netfilter', /needs a netfilter hook/],
    ['usdt/libc.so.6', /needs a probe in the section: usdt\/BINARY:PROVIDER:NAME/],
    ['lwt_in', /lwt_in programs do not auto-attach/],
  ])('%s: the error names what is missing', (section, message) => {
    expect(() => autoTarget(prog(section))).toThrow(message);
    expect(() => autoTarget(prog(section))).toThrow(`program p (section ${section})`);
  });
});

describe('parseAttachTarget (the command-line grammar)', () => {
  it.each([
    [
      'tracepoint syscalls/sys_enter_openat',
      { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' },
    ],
    ['raw_tp sys_enter', { kind: 'raw_tracepoint', name: 'sys_enter' }],
    ['kprobe do_unlinkat+0x8', { kind: 'kprobe', function: 'do_unlinkat', offset: 8, retprobe: false }],
    ['kretprobe do_unlinkat', { kind: 'kprobe', function: 'do_unlinkat', retprobe: true }],
    ['kprobe_multi tcp_*', { kind: 'kprobe_multi', functions: 'tcp_*', retprobe: false }],
    [
      'uprobe /bin/bash:readline pid 42',
      { kind: 'uprobe', binary: '/bin/bash', symbol: 'readline', retprobe: false, pid: 42 },
    ],
    [
      'uretprobe libc.so.6:malloc+4',
      { kind: 'uprobe', binary: 'libc.so.6', symbol: 'malloc', offset: 4, retprobe: true },
    ],
    ['uprobe /bin/x:0x1000', { kind: 'uprobe', binary: '/bin/x', offset: 4096 }],
    ['uprobe_multi /bin/x:f_*', { kind: 'uprobe_multi', binary: '/bin/x', symbols: 'f_*', retprobe: false }],
    ['perf_event cpu all freq 99', { kind: 'perf_event', cpu: 'all', frequency: 99 }],
    [
      'perf_event cpu 1 event task-clock period 1000',
      { kind: 'perf_event', cpu: 1, event: 'task-clock', period: 1000 },
    ],
    ['tcx_ingress dev vb netns t1', { kind: 'tcx', iface: 'vb', direction: 'ingress', netns: 't1' }],
    ['tc_egress dev 3 priority 9', { kind: 'tc', iface: 3, direction: 'egress', priority: 9 }],
    ['xdp dev eth0 mode skb', { kind: 'xdp', iface: 'eth0', mode: 'skb' }],
    [
      'cgroup /sys/fs/cgroup/x cgroup_inet4_connect',
      { kind: 'cgroup', path: '/sys/fs/cgroup/x', attachType: 'cgroup_inet4_connect' },
    ],
    ['socket 7', { kind: 'socket', fd: 7 }],
    ['sk_lookup netns blue', { kind: 'sk_lookup', netns: 'blue' }],
    ['flow_dissector', { kind: 'flow_dissector' }],
    [
      'netfilter ipv4 input -100 defrag netns n',
      { kind: 'netfilter', family: 'ipv4', hook: 'input', priority: -100, defrag: true, netns: 'n' },
    ],
    ['tracing', { kind: 'tracing' }],
  ])('%s', (text, target) => {
    expect(k.parseAttachTarget(text.split(' '))).toEqual(expect.objectContaining(target));
  });

  it.each([
    ['', /attach target: no target given \(forms: tracepoint CATEGORY\/NAME; /],
    ['bogus x', /unknown target bogus/],
    ['tracepoint syscalls', /tracepoint wants CATEGORY\/NAME, got syscalls/],
    ['uprobe /bin/x', /uprobe wants BINARY:SYMBOL, got \/bin\/x/],
    ['uprobe /bin/x:f pid', /pid needs a value/],
    ['uprobe /bin/x:f pid x', /pid must be an integer, got x/],
    ['perf_event freq 9', /perf_event wants cpu N or cpu all/],
    ['perf_event cpu 0 freq 9 period 9', /freq or period, not both/],
    ['tcx_ingress netns x', /tcx_ingress wants dev IFACE/],
    ['tcx_ingress dev a mode skb', /unexpected mode \(options here: dev, netns\)/],
    ['xdp dev a mode fast', /xdp mode is skb or native, got fast/],
    ['netfilter ipv5 input 1', /netfilter family is ipv4 or ipv6, got ipv5/],
    [
      'netfilter ipv4 sideways 1',
      /netfilter hook is one of prerouting, input, forward, output, postrouting, got sideways/,
    ],
    ['netfilter ipv4 input', /netfilter PRIORITY must be an integer, got nothing/],
    ['sockmap 3', /a sockmap is held open by the caller/],
    ['socket', /socket FD must be an integer, got nothing/],
  ])('"%s": the error says what is wrong', (text, message) => {
    expect(() => k.parseAttachTarget(text === '' ? [] : text.split(' '))).toThrow(message);
  });
});
