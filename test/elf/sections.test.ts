import { describe, expect, it } from 'vitest';
import { programTypeForSection, sectionForProgramType } from '../../src/spec/sections.js';

describe('programTypeForSection (libbpf rules)', () => {
  const cases: [string, string | undefined, string?][] = [
    ['xdp', 'xdp'],
    ['xdp.frags', 'xdp'],
    ['xdp/devmap', 'xdp'],
    ['socket', 'socket_filter'],
    ['socket/anything', 'socket_filter', 'anything'],
    ['tc', 'sched_cls'],
    ['classifier', 'sched_cls'],
    ['action', 'sched_act'],
    ['kprobe/do_sys_open', 'kprobe', 'do_sys_open'],
    ['kretprobe/tcp_v4_connect', 'kprobe', 'tcp_v4_connect'],
    ['uprobe//bin/bash:readline', 'kprobe', '/bin/bash:readline'],
    ['tracepoint/syscalls/sys_enter_write', 'tracepoint', 'syscalls/sys_enter_write'],
    ['tp/sched/sched_switch', 'tracepoint', 'sched/sched_switch'],
    ['raw_tracepoint/sched_switch', 'raw_tracepoint', 'sched_switch'],
    ['raw_tp/sys_enter', 'raw_tracepoint', 'sys_enter'],
    ['perf_event', 'perf_event'],
    ['cgroup_skb/ingress', 'cgroup_skb'],
    ['cgroup_skb/egress', 'cgroup_skb'],
    ['sk_skb/stream_parser', 'sk_skb'],
    ['sk_skb', 'sk_skb'],
    ['sk_msg', 'sk_msg'],
    ['sockops', 'sock_ops'],
    ['lwt_in', 'lwt_in'],
    ['lwt_xmit', 'lwt_xmit'],
    ['lwt_seg6local', 'lwt_seg6local'],
    ['cgroup/connect4', 'cgroup_sock_addr'],
    ['cgroup/sock_create', 'cgroup_sock'],
    ['cgroup/dev', 'cgroup_device'],
    ['cgroup/sysctl', 'cgroup_sysctl'],
    ['cgroup/getsockopt', 'cgroup_sockopt'],
    ['lirc_mode2', 'lirc_mode2'],
    ['sk_reuseport', 'sk_reuseport'],
    ['flow_dissector', 'flow_dissector'],
    ['fentry/tcp_sendmsg', 'tracing', 'tcp_sendmsg'],
    ['lsm/file_open', 'lsm', 'file_open'],
    // Not program sections, or malformed ones.
    ['.text', undefined],
    ['xdpfoo', undefined],
    ['kprobefoo', undefined],
    ['cgroup_skb/sideways', undefined],
  ];
  for (const [name, type, attachTo] of cases) {
    it(`${name} → ${type ?? 'none'}`, () => {
      const got = programTypeForSection(name);
      expect(got?.type).toBe(type);
      expect(got?.attachTo).toBe(attachTo);
    });
  }

  it('marks frags and attach types', () => {
    expect(programTypeForSection('xdp.frags')).toMatchObject({ frags: true, attachType: 'xdp' });
    expect(programTypeForSection('cgroup_skb/ingress')?.attachType).toBe('cgroup_inet_ingress');
  });

  it('gives writable section names that infer back to the same type', () => {
    for (const t of [
      'xdp',
      'socket_filter',
      'sched_cls',
      'kprobe',
      'cgroup_skb',
      'sk_msg',
      'lwt_in',
      'sock_ops',
    ]) {
      expect(programTypeForSection(sectionForProgramType(t)!)?.type).toBe(t);
    }
    expect(sectionForProgramType('kprobe', 'do_sys_open')).toBe('kprobe/do_sys_open');
    expect(sectionForProgramType('tracing')).toBeUndefined();
  });
});
