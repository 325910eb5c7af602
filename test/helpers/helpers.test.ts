import { describe, expect, it } from 'vitest';
import { HELPERS, helperById, helperByName } from '../../src/helpers/registry.js';
import { type FdArrayMap, MapType, type QueueStackMap, type RingBufMap } from '../../src/maps/index.js';
import { kernelHelperId, kernelHelperName } from '../../src/spec/helper-names.js';
import { FakeEnv } from './env.js';

const call = (env: FakeEnv, name: string, ...args: (bigint | number)[]): bigint => {
  const h = helperByName(name);
  if (!h) throw new Error(`no helper ${name}`);
  const a = args.map((x) => BigInt(x));
  return h.call(env, a[0] ?? 0n, a[1] ?? 0n, a[2] ?? 0n, a[3] ?? 0n, a[4] ?? 0n);
};
const u32le = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('helper registry', () => {
  it('has the kernel ids and names, unique, with prototypes', () => {
    const expected: [number, string][] = [
      [1, 'map_lookup_elem'],
      [2, 'map_update_elem'],
      [3, 'map_delete_elem'],
      [4, 'probe_read'],
      [5, 'ktime_get_ns'],
      [6, 'trace_printk'],
      [7, 'get_prandom_u32'],
      [8, 'get_smp_processor_id'],
      [12, 'tail_call'],
      [14, 'get_current_pid_tgid'],
      [15, 'get_current_uid_gid'],
      [16, 'get_current_comm'],
      [23, 'redirect'],
      [25, 'perf_event_output'],
      [28, 'csum_diff'],
      [44, 'xdp_adjust_head'],
      [45, 'probe_read_str'],
      [51, 'redirect_map'],
      [54, 'xdp_adjust_meta'],
      [65, 'xdp_adjust_tail'],
      [87, 'map_push_elem'],
      [88, 'map_pop_elem'],
      [89, 'map_peek_elem'],
      [93, 'spin_lock'],
      [94, 'spin_unlock'],
      [105, 'strtol'],
      [106, 'strtoul'],
      [112, 'probe_read_user'],
      [113, 'probe_read_kernel'],
      [114, 'probe_read_user_str'],
      [115, 'probe_read_kernel_str'],
      [118, 'jiffies64'],
      [125, 'ktime_get_boot_ns'],
      [130, 'ringbuf_output'],
      [131, 'ringbuf_reserve'],
      [132, 'ringbuf_submit'],
      [133, 'ringbuf_discard'],
      [134, 'ringbuf_query'],
      [160, 'ktime_get_coarse_ns'],
      [164, 'for_each_map_elem'],
      [165, 'snprintf'],
      [181, 'loop'],
      [189, 'xdp_load_bytes'],
      [190, 'xdp_store_bytes'],
      // Tracing, stack and socket helpers (trace.ts, stack.ts, sock.ts).
      ...([
        [27, 'get_stackid'],
        [35, 'get_current_task'],
        [37, 'current_task_under_cgroup'],
        [42, 'get_numa_node_id'],
        [58, 'override_return'],
        [67, 'get_stack'],
        [69, 'fib_lookup'],
        [80, 'get_current_cgroup_id'],
        [84, 'sk_lookup_tcp'],
        [85, 'sk_lookup_udp'],
        [86, 'sk_release'],
        [95, 'sk_fullsock'],
        [99, 'skc_lookup_tcp'],
        [100, 'tcp_check_syncookie'],
        [109, 'send_signal'],
        [117, 'send_signal_thread'],
        [120, 'get_ns_current_pid_tgid'],
        [123, 'get_current_ancestor_cgroup_id'],
        [141, 'get_task_stack'],
        [158, 'get_current_task_btf'],
        [173, 'get_func_ip'],
        [174, 'get_attach_cookie'],
        [182, 'strncmp'],
        [183, 'get_func_arg'],
        [184, 'get_func_ret'],
        [185, 'get_func_arg_cnt'],
        [195, 'map_lookup_percpu_elem'],
        [208, 'ktime_get_tai_ns'],
      ] as [number, string][]),
      // Socket-level program types' helpers (sockops.ts).
      ...([
        [49, 'setsockopt'],
        [52, 'sk_redirect_map'],
        [53, 'sock_map_update'],
        [57, 'getsockopt'],
        [59, 'sock_ops_cb_flags_set'],
        [60, 'msg_redirect_map'],
        [61, 'msg_apply_bytes'],
        [62, 'msg_cork_bytes'],
        [63, 'msg_pull_data'],
        [70, 'sock_hash_update'],
        [71, 'msg_redirect_hash'],
        [72, 'sk_redirect_hash'],
        [82, 'sk_select_reuseport'],
        [101, 'sysctl_get_name'],
        [102, 'sysctl_get_current_value'],
        [103, 'sysctl_get_new_value'],
        [104, 'sysctl_set_new_value'],
      ] as [number, string][]),
      // Local storage helpers (storage.ts).
      ...([
        [107, 'sk_storage_get'],
        [108, 'sk_storage_delete'],
        [145, 'inode_storage_get'],
        [146, 'inode_storage_delete'],
        [156, 'task_storage_get'],
        [157, 'task_storage_delete'],
        [210, 'cgrp_storage_get'],
        [211, 'cgrp_storage_delete'],
      ] as [number, string][]),
      // Where a packet program runs (netinfo.ts).
      ...([
        [46, 'get_socket_cookie'],
        [47, 'get_socket_uid'],
        [79, 'skb_cgroup_id'],
        [83, 'skb_ancestor_cgroup_id'],
        [122, 'get_netns_cookie'],
        [151, 'skb_cgroup_classid'],
        [163, 'check_mtu'],
        [188, 'xdp_get_buff_len'],
      ] as [number, string][]),
      // Counters and trace output (perf.ts).
      ...([
        [22, 'perf_event_read'],
        [55, 'perf_event_read_value'],
        [177, 'trace_vprintk'],
      ] as [number, string][]),
      ...([
        [128, 'sk_cgroup_id'],
        [129, 'sk_ancestor_cgroup_id'],
        [175, 'task_pt_regs'],
        [176, 'get_branch_snapshot'],
        [186, 'get_retval'],
        [187, 'set_retval'],
        [124, 'sk_assign'],
        [126, 'seq_printf'],
        [127, 'seq_write'],
        [148, 'copy_from_user'],
        [191, 'copy_from_user_task'],
      ] as [number, string][]),
      // Socket-buffer helpers (skb.ts).
      ...([
        [9, 'skb_store_bytes'],
        [10, 'l3_csum_replace'],
        [11, 'l4_csum_replace'],
        [13, 'clone_redirect'],
        [17, 'get_cgroup_classid'],
        [18, 'skb_vlan_push'],
        [19, 'skb_vlan_pop'],
        [20, 'skb_get_tunnel_key'],
        [21, 'skb_set_tunnel_key'],
        [24, 'get_route_realm'],
        [26, 'skb_load_bytes'],
        [31, 'skb_change_proto'],
        [32, 'skb_change_type'],
        [33, 'skb_under_cgroup'],
        [34, 'get_hash_recalc'],
        [38, 'skb_change_tail'],
        [39, 'skb_pull_data'],
        [40, 'csum_update'],
        [41, 'set_hash_invalid'],
        [43, 'skb_change_head'],
        [48, 'set_hash'],
        [50, 'skb_adjust_room'],
        [68, 'skb_load_bytes_relative'],
        [97, 'skb_ecn_set_ce'],
        [135, 'csum_level'],
        [152, 'redirect_neigh'],
        [155, 'redirect_peer'],
        [192, 'skb_set_tstamp'],
      ] as [number, string][]),
      // Kernel pointers in map values (kptr.ts); timers, dynptrs, callbacks over VMAs and the user ring
      // buffer (timer.ts, dynptr.ts).
      ...([
        [194, 'kptr_xchg'],
        [169, 'timer_init'],
        [170, 'timer_set_callback'],
        [171, 'timer_start'],
        [172, 'timer_cancel'],
        [180, 'find_vma'],
        [197, 'dynptr_from_mem'],
        [198, 'ringbuf_reserve_dynptr'],
        [199, 'ringbuf_submit_dynptr'],
        [200, 'ringbuf_discard_dynptr'],
        [201, 'dynptr_read'],
        [202, 'dynptr_write'],
        [203, 'dynptr_data'],
        [209, 'user_ringbuf_drain'],
      ] as [number, string][]),
      // Tunnel options, IPsec state, lwt encapsulation (tunnel.ts); socket casts (sock-casts.ts); SYN
      // cookies (syncookie.ts); cgroup storage; socket-level calls (sock-calls.ts); syscall programs;
      // LSM/tracing (security.ts, trace-output.ts); infrared decoders (lirc.ts).
      ...([
        [29, 'skb_get_tunnel_opt'],
        [30, 'skb_set_tunnel_opt'],
        [66, 'skb_get_xfrm_state'],
        [73, 'lwt_push_encap'],
        [74, 'lwt_seg6_store_bytes'],
        [75, 'lwt_seg6_adjust_srh'],
        [76, 'lwt_seg6_action'],
        [96, 'tcp_sock'],
        [98, 'get_listener_sock'],
        [116, 'tcp_send_ack'],
        [136, 'skc_to_tcp6_sock'],
        [137, 'skc_to_tcp_sock'],
        [138, 'skc_to_tcp_timewait_sock'],
        [139, 'skc_to_tcp_request_sock'],
        [140, 'skc_to_udp6_sock'],
        [162, 'sock_from_file'],
        [178, 'skc_to_unix_sock'],
        [196, 'skc_to_mptcp_sock'],
        [110, 'tcp_gen_syncookie'],
        [204, 'tcp_raw_gen_syncookie_ipv4'],
        [205, 'tcp_raw_gen_syncookie_ipv6'],
        [206, 'tcp_raw_check_syncookie_ipv4'],
        [207, 'tcp_raw_check_syncookie_ipv6'],
        [81, 'get_local_storage'],
        [64, 'bind'],
        [90, 'msg_push_data'],
        [91, 'msg_pop_data'],
        [142, 'load_hdr_opt'],
        [143, 'store_hdr_opt'],
        [144, 'reserve_hdr_opt'],
        [166, 'sys_bpf'],
        [167, 'btf_find_by_name_kind'],
        [168, 'sys_close'],
        [179, 'kallsyms_lookup_name'],
        [36, 'probe_write_user'],
        [147, 'd_path'],
        [159, 'bprm_opts_set'],
        [161, 'ima_inode_hash'],
        [193, 'ima_file_hash'],
        [56, 'perf_prog_read_value'],
        [111, 'skb_output'],
        [119, 'read_branch_records'],
        [121, 'xdp_output'],
        [149, 'snprintf_btf'],
        [150, 'seq_printf_btf'],
        [77, 'rc_repeat'],
        [78, 'rc_keydown'],
        [92, 'rc_pointer_rel'],
      ] as [number, string][]),
      // Per-CPU variables of typed ksyms (kptr.ts; kptr_xchg is listed above).
      ...([
        [153, 'per_cpu_ptr'],
        [154, 'this_cpu_ptr'],
      ] as [number, string][]),
    ];
    for (const [id, name] of expected) expect(helperById(id)?.name, `helper ${id}`).toBe(name);
    expect(HELPERS.size).toBe(expected.length);
    expect(helperByName('bpf_map_lookup_elem')?.id).toBe(1);
    for (const h of HELPERS.values()) expect(h.proto.args.length).toBeLessThanOrEqual(5);
    expect(helperById(44)?.proto.changesPacket).toBe(true);
    expect(helperById(44)?.programTypes).toEqual(['xdp']);
  });

  it('names every helper through the one kernel table (names.ts), implemented or not', () => {
    for (const h of HELPERS.values()) {
      expect(kernelHelperName(h.id), `helper ${h.id}`).toBe(h.name);
      expect(helperByName(h.name)).toBe(h);
    }
    expect(kernelHelperId('bpf_trace_printk')).toBe(6);
    expect(kernelHelperName(209)).toBe('user_ringbuf_drain');
    expect(kernelHelperId('user_ringbuf_drain')).toBe(209);
    expect(kernelHelperId('skb_get_xfrm_state')).toBe(66);
    expect(helperByName('bpf_skb_get_xfrm_state')?.id).toBe(66);
    for (const bad of [0, -1, 212, 1.5]) expect(kernelHelperName(bad), `id ${bad}`).toBeUndefined();
    expect(kernelHelperId('no_such_helper')).toBeUndefined();
  });
});

describe('map helpers', () => {
  it('lookup/update/delete through pointers, with the kernel errnos', () => {
    const env = new FakeEnv();
    const m = env.map({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 1 });
    const k = env.buf(u32le(7));
    const v = env.buf(u32le(99));
    expect(call(env, 'map_lookup_elem', m.addr, k)).toBe(0n);
    expect(call(env, 'map_update_elem', m.addr, k, v, 0)).toBe(0n);
    const p = Number(call(env, 'map_lookup_elem', m.addr, k));
    expect(env.space.view.getUint32(p, true)).toBe(99);
    expect(call(env, 'map_update_elem', m.addr, k, v, 1)).toBe(-17n);
    expect(call(env, 'map_update_elem', m.addr, env.buf(u32le(8)), v, 0)).toBe(-7n);
    expect(call(env, 'map_update_elem', m.addr, k, v, 1n << 40n)).toBe(-22n);
    expect(call(env, 'map_delete_elem', m.addr, k)).toBe(0n);
    expect(call(env, 'map_delete_elem', m.addr, k)).toBe(-2n);
    expect(() => call(env, 'map_lookup_elem', 0x12345, k)).toThrow(/not a map/);
  });

  it('push/pop/peek on a stack, and for_each_map_elem calls back per element until told to stop', () => {
    const env = new FakeEnv();
    const s = env.map({ type: MapType.STACK, keySize: 0, valueSize: 4, maxEntries: 2 }) as QueueStackMap;
    expect(call(env, 'map_push_elem', s.addr, env.buf(u32le(1)), 0)).toBe(0n);
    expect(call(env, 'map_push_elem', s.addr, env.buf(u32le(2)), 0)).toBe(0n);
    expect(call(env, 'map_push_elem', s.addr, env.buf(u32le(3)), 0)).toBe(-7n);
    const out = env.buf(4);
    expect(call(env, 'map_peek_elem', s.addr, out)).toBe(0n);
    expect(env.space.view.getUint32(out, true)).toBe(2);
    expect(call(env, 'map_pop_elem', s.addr, out)).toBe(0n);
    expect(call(env, 'map_pop_elem', s.addr, out)).toBe(0n);
    expect(env.space.view.getUint32(out, true)).toBe(1);
    expect(call(env, 'map_pop_elem', s.addr, out)).toBe(-2n);

    const a = env.map({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 5 });
    env.onCallback = (_t, [, key]) => (env.space.view.getUint32(Number(key), true) === 2 ? 1n : 0n);
    expect(call(env, 'for_each_map_elem', a.addr, 17, 0x99, 0)).toBe(3n);
    expect(env.calls.map((c) => Number(c[0]))).toEqual([17, 17, 17]);
    expect(env.calls[0]![1]).toBe(BigInt(a.addr));
    expect(env.calls[0]![4]).toBe(0x99n);
    expect(call(env, 'for_each_map_elem', a.addr, 17, 0, 1)).toBe(-22n);
  });
});

describe('time, task and probe helpers', () => {
  it('clocks, jiffies, random, cpu', () => {
    const env = new FakeEnv();
    env.now = 5_003_000_000;
    expect(call(env, 'ktime_get_ns')).toBe(5_003_000_000n);
    expect(call(env, 'ktime_get_coarse_ns')).toBe(5_000_000_000n);
    expect(call(env, 'jiffies64')).toBe((1n << 32n) - 75000n + 1250n);
    expect(call(env, 'get_prandom_u32')).toBe(0x9e3779b9n);
    env.cpu = 1;
    expect(call(env, 'get_smp_processor_id')).toBe(1n);
  });

  it('current task ids and comm (truncated to the buffer, NUL padded)', () => {
    const env = new FakeEnv();
    expect(call(env, 'get_current_pid_tgid')).toBe((41n << 32n) | 42n);
    expect(call(env, 'get_current_uid_gid')).toBe((100n << 32n) | 1000n);
    const b = env.buf(new Uint8Array(16).fill(0xff));
    expect(call(env, 'get_current_comm', b, 16)).toBe(0n);
    expect(Buffer.from(env.read(b, 16)).toString('latin1')).toBe('a-very-long-com\0');
    expect(call(env, 'get_current_comm', b, 4)).toBe(0n);
    expect(hex(env.read(b, 5))).toBe('612d760072'); // bytes past the size are untouched
  });

  it('probe_read copies mapped memory, faults (zeroing) on unmapped memory; _str variants count the NUL', () => {
    const env = new FakeEnv();
    const src = env.str('hello');
    const dst = env.buf(new Uint8Array(8).fill(0xee));
    expect(call(env, 'probe_read_kernel', dst, 6, src)).toBe(0n);
    expect(Buffer.from(env.read(dst, 6)).toString('latin1')).toBe('hello\0');
    expect(call(env, 'probe_read_user', dst, 8, 0x100)).toBe(-14n);
    expect(hex(env.read(dst, 8))).toBe('0000000000000000');
    expect(call(env, 'probe_read_kernel_str', dst, 8, src)).toBe(6n);
    expect(call(env, 'probe_read_user_str', dst, 3, src)).toBe(3n);
    expect(Buffer.from(env.read(dst, 3)).toString('latin1')).toBe('he\0');
    expect(call(env, 'probe_read_str', dst, 8, 0x20)).toBe(-14n);
    expect(() => call(env, 'probe_read', 0x30, 4, src)).toThrow(/cannot write/);
  });
});

describe('string helpers', () => {
  it('trace_printk formats like the kernel and sends lines to env.trace', () => {
    const env = new FakeEnv();
    const fmt = (s: string) => [env.str(s), s.length + 1] as const;
    expect(
      call(env, 'trace_printk', ...fmt('n=%d u=%u x=%x\n'), -1n & 0xffffffffffffffffn, 0xffffffffn, 255),
    ).toBe(BigInt('n=-1 u=4294967295 x=ff\n'.length));
    call(env, 'trace_printk', ...fmt('%ld %llu %lx'), -2n & 0xffffffffffffffffn, 1n << 40n, 0xabcn);
    call(env, 'trace_printk', ...fmt('%5d|%-4d|%04x'), 7, 3, 0xab);
    expect(env.lines).toEqual(['n=-1 u=4294967295 x=ff', '-2 1099511627776 abc', '    7|3   |00ab']);
    const s = env.str('world');
    call(env, 'trace_printk', ...fmt('%s %c %% %pI4'), s, 65, env.buf(new Uint8Array([10, 0, 0, 1])));
    expect(env.lines[3]).toBe('world A % 10.0.0.1');
    expect(call(env, 'trace_printk', ...fmt('%d %d %d %d'), 1, 2, 3)).toBe(-22n);
    expect(call(env, 'trace_printk', ...fmt('%q'), 1)).toBe(-22n);
    expect(call(env, 'trace_printk', env.buf(new Uint8Array([65, 66])), 2)).toBe(-22n);
  });

  it('snprintf writes a NUL-terminated, truncated string and returns the full length + 1', () => {
    const env = new FakeEnv();
    const out = env.buf(8);
    const data = env.buf(new Uint8Array(new BigUint64Array([12345n, 7n]).buffer));
    expect(call(env, 'snprintf', out, 8, env.str('v=%d/%d'), data, 16)).toBe(10n);
    expect(Buffer.from(env.read(out, 8)).toString('latin1')).toBe('v=12345\0');
    expect(call(env, 'snprintf', out, 8, env.str('%d'), data, 12)).toBe(-22n);
    expect(call(env, 'snprintf', 0, 0, env.str('%d%d'), data, 8)).toBe(-22n);
  });

  it('strtol and strtoul follow the kernel (bases, signs, errors, consumed length)', () => {
    const env = new FakeEnv();
    const res = env.buf(8);
    const parse = (name: string, s: string, flags = 0): [bigint, bigint] => {
      const r = call(env, name, env.buf(new Uint8Array(Buffer.from(s, 'latin1'))), s.length, flags, res);
      return [r, env.space.view.getBigInt64(res, true)];
    };
    expect(parse('strtol', '  -42xyz')).toEqual([5n, -42n]);
    expect(parse('strtol', '0x1f', 0)).toEqual([4n, 31n]);
    expect(parse('strtol', '017', 0)).toEqual([3n, 15n]);
    expect(parse('strtol', 'ff', 16)).toEqual([2n, 255n]);
    expect(parse('strtol', '9223372036854775808')[0]).toBe(-34n);
    expect(parse('strtol', '-9223372036854775808')).toEqual([20n, -9223372036854775808n]);
    expect(parse('strtol', '99999999999999999999')[0]).toBe(-34n);
    expect(parse('strtol', 'abc')[0]).toBe(-22n);
    expect(parse('strtol', '12', 7)[0]).toBe(-22n);
    expect(parse('strtol', '   ')[0]).toBe(-22n);
    expect(parse('strtoul', '-1')[0]).toBe(-22n);
    expect(parse('strtoul', '18446744073709551615')).toEqual([20n, -1n]);
  });
});

describe('control helpers', () => {
  it('tail_call sets the target program id; empty or out-of-range slots fall through', () => {
    const env = new FakeEnv();
    const pa = env.map({ type: MapType.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 }) as FdArrayMap;
    pa.update(u32le(1), u32le(5));
    expect(call(env, 'tail_call', 0, pa.addr, 0)).toBeLessThan(0n);
    expect(env.invocation.tailCall).toBeUndefined();
    expect(call(env, 'tail_call', 0, pa.addr, 2)).toBeLessThan(0n);
    expect(call(env, 'tail_call', 0, pa.addr, 1)).toBe(0n);
    expect(env.invocation.tailCall).toBe(5);
  });

  it('loop calls back with the index and stops on a non-zero return', () => {
    const env = new FakeEnv();
    env.onCallback = (_t, [i]) => (i === 3n ? 1n : 0n);
    expect(call(env, 'loop', 10, 40, 0x1234, 0)).toBe(4n);
    expect(env.calls.map((c) => c[1])).toEqual([0n, 1n, 2n, 3n]);
    expect(env.calls[0]![2]).toBe(0x1234n);
    env.onCallback = () => 0n;
    expect(call(env, 'loop', 5, 40, 0, 0)).toBe(5n);
    // -E2BIG as the kernel's inlined bpf_loop sets it: w0 = -7, zero-extended.
    expect(call(env, 'loop', 1 << 24, 40, 0, 0)).toBe(0xfffffff9n);
    expect(call(env, 'loop', 1, 40, 0, 1)).toBe(-22n);
  });

  it('spin_lock and spin_unlock toggle the lock word; a double lock is reported', () => {
    const env = new FakeEnv();
    const lock = env.buf(4);
    call(env, 'spin_lock', lock);
    expect(env.space.view.getUint32(lock, true)).toBe(1);
    expect(() => call(env, 'spin_lock', lock)).toThrow(/already held/);
    call(env, 'spin_unlock', lock);
    expect(env.space.view.getUint32(lock, true)).toBe(0);
  });
});

describe('ring buffer and perf helpers', () => {
  it('reserve/submit/discard/output/query', () => {
    const env = new FakeEnv();
    const rb = env.map({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096 }) as RingBufMap;
    const r = rb.reader();
    const p = call(env, 'ringbuf_reserve', rb.addr, 4, 0);
    expect(p).not.toBe(0n);
    env.space.write(Number(p), u32le(0xdeadbeef));
    call(env, 'ringbuf_submit', p, 0);
    const q = call(env, 'ringbuf_reserve', rb.addr, 4, 0);
    call(env, 'ringbuf_discard', q, 0);
    expect(call(env, 'ringbuf_reserve', rb.addr, 4, 1)).toBe(0n);
    expect(call(env, 'ringbuf_output', rb.addr, env.buf(u32le(1)), 4, 0)).toBe(0n);
    expect(call(env, 'ringbuf_output', rb.addr, env.buf(u32le(1)), 4, 8)).toBe(-22n);
    expect(call(env, 'ringbuf_query', rb.addr, 0)).toBe(48n);
    expect(call(env, 'ringbuf_query', rb.addr, 1)).toBe(4096n);
    expect(call(env, 'ringbuf_output', rb.addr, env.buf(5000), 5000, 0)).toBe(-11n);
    expect(r.poll().map(hex)).toEqual(['efbeadde', '01000000']);
    expect(() => call(env, 'ringbuf_submit', env.buf(8), 0)).toThrow(/not a ring buffer sample/);
  });

  it('perf_event_output writes to the current CPU buffer', () => {
    const env = new FakeEnv();
    const pe = env.map({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 });
    const reader = (
      pe as unknown as { reader(o: { cpus: number }): { poll(): { cpu: number; data?: Uint8Array }[] } }
    ).reader({ cpus: 2 });
    env.cpu = 1;
    expect(call(env, 'perf_event_output', 0, pe.addr, 0xffffffffn, env.buf(u32le(7)), 4)).toBe(0n);
    expect(call(env, 'perf_event_output', 0, pe.addr, 1n << 60n, env.buf(u32le(7)), 4)).toBe(-22n);
    expect(reader.poll().map((x) => [x.cpu, hex(x.data!)])).toEqual([[1, '07000000']]);
  });
});
