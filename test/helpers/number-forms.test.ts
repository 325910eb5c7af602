// Helpers' number forms (what the JIT and the interpreter call, no BigInt) against their BigInt `call`:
// the same r0, the same exception, the same memory and the same state on a table of register values,
// each argument handed to the number form as the engines decode it. And the list of helpers that have
// no number form, so that losing one shows.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HELPERS, helperByName } from '../../src/helpers/registry.js';
import type { HelperDef, NumberArg } from '../../src/helpers/types.js';
import { SkbSlot } from '../../src/hooks/skb.js';
import { MapType, type PerfEventArrayMap, type RingBufMap } from '../../src/maps/index.js';
import { XDP_MD_OFFSETS } from '../../src/spec/program-types.js';
import { FakeEnv } from './env.js';

const U64 = (x: bigint | number) => BigInt.asUintN(64, BigInt(x));

/** A register as the engines hand it to a number form (the interpreter's halves; the JIT's f64 agree). */
function decode(kind: NumberArg, v: bigint): number {
  const lo = Number(v & 0xffffffffn);
  if (kind === 'u32') return lo;
  if (kind === 's32') return lo | 0;
  return Number(BigInt.asIntN(32, v >> 32n)) * 0x1_0000_0000 + lo;
}

/** An environment with a map of each kind the helpers take, buffers, strings, a packet and a sample. */
function world() {
  const env = new FakeEnv(1 << 16);
  const map = (type: number, keySize: number, valueSize: number, maxEntries: number) =>
    env.map({ type, keySize, valueSize, maxEntries });
  const maps = {
    hash: map(MapType.HASH, 4, 4, 4),
    queue: map(MapType.QUEUE, 0, 8, 2),
    stack: map(MapType.STACK, 0, 4, 2),
    rb: map(MapType.RINGBUF, 0, 0, 4096) as RingBufMap,
    perf: map(MapType.PERF_EVENT_ARRAY, 4, 4, 2) as PerfEventArrayMap,
    dev: map(MapType.DEVMAP, 4, 4, 4),
    stacks: map(MapType.STACK_TRACE, 4, 24, 2),
    cgroups: map(MapType.CGROUP_ARRAY, 4, 4, 2),
    percpu: map(MapType.PERCPU_ARRAY, 4, 8, 2),
    cgroupStorage: map(MapType.CGROUP_STORAGE, 16, 16, 0),
    storage: env.map({
      type: 29, // TASK_STORAGE
      keySize: 4,
      valueSize: 16,
      maxEntries: 0,
      flags: 1,
      btfKeyTypeId: 1,
      btfValueTypeId: 2,
    }),
  };
  maps.cgroups.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array([1, 0, 0, 0]));
  maps.perf.reader({ cpus: 1, pagesPerCpu: 1 });
  const buf = env.buf(Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 3) & 0xff));
  env.space.view.setUint32(buf + 64, 0, true); // a free spin lock
  const text = (s: string) => {
    const r = env.space.allocate(64, 'ctx', s, false); // read-only: a write there is refused
    env.space.write(r.start, new Uint8Array([...Buffer.from(s, 'latin1'), 0]));
    return r.start;
  };
  const str = text('  -0x1fz hello');
  const fmt = text('v=%d h=%llx c=%c');
  const pkt = env.space.allocate(4096 - 320, 'packet', 'packet');
  pkt.start = pkt.base + 256;
  pkt.end = pkt.start + 64;
  for (let i = 0; i < 64; i++) env.space.bytes[pkt.start + i] = i;
  const ctx = env.space.allocate(24, 'ctx', 'xdp_md', false).start;
  for (const [f, v] of [
    ['data', pkt.start],
    ['data_end', pkt.end],
    ['data_meta', pkt.start],
  ] as const)
    env.space.view.setUint32(ctx + XDP_MD_OFFSETS[f]!, v, true);
  env.invocation = { ctx, programType: 'xdp', tailCalls: 0, packet: pkt };
  const sample = maps.rb.reserve(16);
  // A socket buffer as the tc hook lays it out: a VLAN-tagged IPv4 packet.
  const skbSlot = new SkbSlot(env.space, true);
  skbSlot.load(Uint8Array.from({ length: 64 }, (_, i) => [0x81, 0, 0, 5, 8, 0, 0x45][i - 12] ?? i));
  const skb = skbSlot.ctx.start;
  return { env, maps, buf, str, fmt, ctx, pkt, sample, skb };
}
type World = ReturnType<typeof world>;

/** Everything a helper may change: memory, and the state kept outside it. */
function state(w: World): { bytes: Uint8Array; rest: string } {
  const inv = w.env.invocation;
  return {
    bytes: w.env.space.bytes,
    rest: JSON.stringify({
      lines: w.env.lines,
      rand: w.env.rand,
      redirect: inv.redirect,
      tailCall: inv.tailCall,
      packet: [inv.packet!.start, inv.packet!.end],
      perf: w.maps.perf.drain().map((r) => [r.cpu, r.lost, r.data && Buffer.from(r.data).toString('hex')]),
      ring: [w.maps.rb.producerPos, w.maps.rb.consumerPos],
    }),
  };
}

/** r0 as the engines see it (u64), or the exception's message. */
function outcome(fn: () => bigint | number): string {
  try {
    const r = fn();
    if (typeof r === 'number' && !Number.isSafeInteger(r)) return `not a safe integer: ${r}`;
    return `r0 = ${U64(r)}`;
  } catch (e) {
    return `throws ${(e as Error).message}`;
  }
}

/**
 * Run `h` both ways on registers `regs` (u64; zero beyond the prototype, as the engines pass them), the
 * BigInt call in world `big`, the number form in world `num`: its outcome, or how the two differ.
 */
function both(h: HelperDef, regs: readonly bigint[], big = world(), num = world()) {
  const a = [0, 1, 2, 3, 4].map((i) => (i < h.proto.args.length ? U64(regs[i] ?? 0n) : 0n));
  // Beyond its kinds the JIT passes nothing: a number form must not read those arguments.
  const n = h.numbers!.args.map((k, i) => decode(k, a[i]!));
  const call = outcome(() => h.call(big.env, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!));
  const numbers = outcome(() => h.numbers!.call(num.env, n[0]!, n[1]!, n[2]!, n[3]!, n[4]!));
  const [sb, sn] = [state(big), state(num)];
  let difference: string | undefined;
  if (numbers !== call) difference = `number form: ${numbers}, BigInt call: ${call}`;
  else if (sn.rest !== sb.rest) difference = `state: ${sn.rest} against ${sb.rest}`;
  else if (Buffer.compare(sn.bytes, sb.bytes) !== 0) difference = 'memory differs';
  return { call, difference };
}

// Hash maps take a random seed: the same one in every world, so their memory compares equal.
beforeAll(() => {
  vi.spyOn(Math, 'random').mockReturnValue(0.375);
});
afterAll(() => {
  vi.restoreAllMocks();
});

const W = world();
/** Registers worth trying in every argument: edges of u32, s32 and ±2^53, and every address above. */
const addresses = [
  W.buf,
  W.buf + 64,
  W.buf + 250,
  W.str,
  W.fmt,
  W.ctx,
  W.pkt.start,
  W.pkt.start + 60,
  W.sample,
  W.skb,
];
for (const m of Object.values(W.maps)) addresses.push(m.addr);
const POOL: bigint[] = [
  ...[0, 1, 2, 3, 4, 7, 8, 10, 14, 16, 63, 64, 255, 256, 0xffff, 0x10000, 0x7fffffff, 0x80000000].map(BigInt),
  ...[0xffffffffn, 1n << 32n, (1n << 32n) + 4n, (1n << 52n) - 1n, 1n << 52n, 1n << 53n, (1n << 53n) + 1n],
  ...[1n << 63n, -1n, -2n, -8n, -14n, -(1n << 31n), -(1n << 32n), -(1n << 53n), -(1n << 53n) - 1n],
  (0xfffffn << 32n) | 0xffffffffn, // perf_event_output: the largest context length, the current CPU
  ...addresses.map(BigInt),
  // Addresses with high bits (not addresses), and negative pointers.
  ...[W.buf, W.str, W.ctx, W.maps.queue.addr].flatMap((x) => [
    BigInt(x) + (1n << 32n),
    BigInt(x) - (1n << 62n),
  ]),
].map(U64);

/** A call that succeeds, per helper; the table varies one argument of it at a time, then several. */
const BASE: Record<string, readonly (number | bigint)[]> = {
  map_lookup_elem: [W.maps.hash.addr, W.buf],
  map_update_elem: [W.maps.hash.addr, W.buf, W.buf + 8, 0],
  map_delete_elem: [W.maps.hash.addr, W.buf],
  map_push_elem: [W.maps.queue.addr, W.buf, 0],
  map_pop_elem: [W.maps.stack.addr, W.buf],
  map_peek_elem: [W.maps.queue.addr, W.buf],
  probe_read: [W.buf, 8, W.str],
  probe_read_str: [W.buf, 16, W.str],
  get_current_comm: [W.buf, 16],
  spin_lock: [W.buf + 64],
  spin_unlock: [W.buf + 64],
  xdp_adjust_head: [W.ctx, -8],
  xdp_adjust_meta: [W.ctx, -8],
  xdp_adjust_tail: [W.ctx, 8],
  xdp_load_bytes: [W.ctx, 2, W.buf, 8],
  xdp_store_bytes: [W.ctx, 2, W.buf, 8],
  redirect: [3, 0],
  redirect_map: [W.maps.dev.addr, 1, 0],
  csum_diff: [W.buf, 8, W.buf + 8, 8, 0],
  perf_event_output: [W.ctx, W.maps.perf.addr, 0xffffffff, W.buf, 8],
  ringbuf_output: [W.maps.rb.addr, W.buf, 8, 0],
  ringbuf_reserve: [W.maps.rb.addr, 8, 0],
  ringbuf_submit: [W.sample, 0],
  ringbuf_discard: [W.sample, 0],
  ringbuf_query: [W.maps.rb.addr, 0],
  snprintf: [W.buf, 32, W.fmt, W.buf + 128, 24],
  strtol: [W.str, 12, 0, W.buf],
  strtoul: [W.str + 3, 12, 16, W.buf],
  current_task_under_cgroup: [W.maps.cgroups.addr, 1],
  get_func_arg: [W.ctx, 0, W.buf],
  map_lookup_percpu_elem: [W.maps.percpu.addr, W.buf + 64, 0],
  get_stackid: [W.ctx, W.maps.stacks.addr, 0],
  get_stack: [W.ctx, W.buf, 32, 0],
  get_task_stack: [W.ctx, W.buf, 32, 0],
  get_ns_current_pid_tgid: [4, 0xeffffffc, W.buf, 8],
  strncmp: [W.buf, 8, W.str],
  get_current_ancestor_cgroup_id: [0],
  send_signal: [10],
  send_signal_thread: [10],
  get_attach_cookie: [W.ctx],
  get_func_ret: [W.ctx, W.buf],
  get_func_arg_cnt: [W.ctx],
  sk_lookup_tcp: [W.ctx, W.buf, 12, 0, 0],
  sk_lookup_udp: [W.ctx, W.buf, 36, 0, 0],
  skc_lookup_tcp: [W.ctx, W.buf, 12, 0, 0],
  sk_release: [W.buf],
  sk_fullsock: [W.buf],
  tcp_check_syncookie: [W.buf, W.buf, 20, W.buf + 20, 20],
  fib_lookup: [W.ctx, W.buf, 64, 0],
  task_storage_get: [W.maps.storage.addr, W.ctx, W.buf, 1],
  task_storage_delete: [W.maps.storage.addr, W.ctx],
  cgrp_storage_get: [W.maps.storage.addr, W.ctx, 0, 1],
  cgrp_storage_delete: [W.maps.storage.addr, W.ctx],
  sk_storage_get: [W.maps.storage.addr, W.buf, W.buf + 16, 1],
  sk_storage_delete: [W.maps.storage.addr, W.buf],
  inode_storage_get: [W.maps.storage.addr, W.str, 0, 0],
  inode_storage_delete: [W.maps.storage.addr, W.str],
  get_socket_cookie: [W.ctx],
  get_socket_uid: [W.ctx],
  skb_cgroup_id: [W.ctx],
  skb_ancestor_cgroup_id: [W.ctx, 0],
  get_netns_cookie: [W.ctx],
  skb_cgroup_classid: [W.ctx],
  check_mtu: [W.ctx, 0, W.buf, 0, 0],
  xdp_get_buff_len: [W.ctx],
  trace_vprintk: [W.fmt, 64, W.buf, 24],
  sk_cgroup_id: [W.buf],
  sk_ancestor_cgroup_id: [W.buf, 0],
  task_pt_regs: [W.ctx],
  get_branch_snapshot: [W.buf, 96, 0],
  copy_from_user: [W.buf, 8, W.str],
  copy_from_user_task: [W.buf, 8, W.str, W.ctx, 0],
  sk_redirect_map: [W.ctx, W.maps.hash.addr, 0, 0],
  sk_redirect_hash: [W.ctx, W.maps.hash.addr, W.buf, 0],
  msg_redirect_map: [W.ctx, W.maps.hash.addr, 0, 0],
  msg_redirect_hash: [W.ctx, W.maps.hash.addr, W.buf, 0],
  sk_select_reuseport: [W.ctx, W.maps.hash.addr, W.buf, 0],
  skb_load_bytes: [W.skb, 2, W.buf, 8],
  skb_load_bytes_relative: [W.skb, 2, W.buf, 8, 1],
  skb_store_bytes: [W.skb, 2, W.buf, 8, 2],
  l3_csum_replace: [W.skb, 24, 0x1234, 0x4321, 2],
  l4_csum_replace: [W.skb, 24, 0x1234, 0x4321, 0x14],
  csum_update: [W.skb, 7],
  csum_level: [W.skb, 1],
  skb_change_tail: [W.skb, 80, 0],
  skb_change_head: [W.skb, 14, 0],
  skb_pull_data: [W.skb, 10],
  set_hash: [W.skb, 9],
  sk_assign: [W.skb, W.buf, 0],
  get_hash_recalc: [W.skb],
  set_hash_invalid: [W.skb],
  get_cgroup_classid: [W.skb],
  get_route_realm: [W.skb],
  skb_under_cgroup: [W.skb, W.maps.cgroups.addr, 1],
  skb_get_tunnel_key: [W.skb, W.buf, 28, 0],
  skb_set_tunnel_key: [W.skb, W.buf, 44, 1],
  skb_ecn_set_ce: [W.skb],
  redirect_neigh: [3, W.buf, 20, 0],
  redirect_peer: [4, 0],
  skb_vlan_push: [W.skb, 0x81, 7],
  skb_vlan_pop: [W.skb],
  skb_change_proto: [W.skb, 0xdd86, 0],
  skb_change_type: [W.skb, 1],
  clone_redirect: [W.skb, 1, 0],
  skb_get_tunnel_opt: [W.skb, W.buf, 16],
  skb_set_tunnel_opt: [W.skb, W.buf, 8],
  skb_get_xfrm_state: [W.skb, 0, W.buf, 24, 0],
  lwt_push_encap: [W.skb, 2, W.buf, 20],
  lwt_seg6_store_bytes: [W.skb, 0, W.buf, 4],
  lwt_seg6_adjust_srh: [W.skb, 0, 4],
  lwt_seg6_action: [W.skb, 2, W.buf, 4],
  tcp_sock: [W.buf],
  get_listener_sock: [W.buf],
  skc_to_tcp6_sock: [W.buf],
  skc_to_tcp_sock: [W.buf],
  skc_to_tcp_timewait_sock: [W.buf],
  skc_to_tcp_request_sock: [W.buf],
  skc_to_udp6_sock: [W.buf],
  skc_to_unix_sock: [W.buf],
  skc_to_mptcp_sock: [W.buf],
  sock_from_file: [W.buf],
  tcp_send_ack: [W.buf, 1],
  tcp_gen_syncookie: [W.buf, W.buf, 20, W.buf, 20],
  tcp_raw_gen_syncookie_ipv4: [W.buf, W.buf, 20],
  tcp_raw_gen_syncookie_ipv6: [W.buf, W.buf, 20],
  tcp_raw_check_syncookie_ipv4: [W.buf, W.buf],
  tcp_raw_check_syncookie_ipv6: [W.buf, W.buf],
  get_local_storage: [W.maps.cgroupStorage.addr, 0],
  sys_bpf: [0, W.buf, 8],
  btf_find_by_name_kind: [W.str, 4, 1, 0],
  sys_close: [3],
  kallsyms_lookup_name: [W.str, 4, 0, W.buf],
  probe_write_user: [W.buf, W.str, 4],
  d_path: [W.buf, W.buf, 8],
  bprm_opts_set: [W.buf, 1],
  ima_inode_hash: [W.buf, W.buf, 8],
  ima_file_hash: [W.buf, W.buf, 8],
  perf_prog_read_value: [W.ctx, W.buf, 24],
  read_branch_records: [W.ctx, 0, 0, 1],
  skb_output: [W.buf, W.maps.perf.addr, 0xffffffff, W.buf, 8],
  xdp_output: [W.buf, W.maps.perf.addr, 0xffffffff, W.buf, 8],
  snprintf_btf: [W.buf, 16, W.buf, 16, 0],
  seq_printf_btf: [W.buf, W.buf, 16, 0],
};
for (const k of ['probe_read_user', 'probe_read_kernel']) BASE[k] = BASE.probe_read!;
for (const k of ['probe_read_user_str', 'probe_read_kernel_str']) BASE[k] = BASE.probe_read_str!;

const withNumbers = [...HELPERS.values()].filter((h) => h.numbers);

describe('helper number forms', () => {
  it('exist for every helper but these (64-bit results, 64-bit values to print, engine control)', () => {
    const without = [...HELPERS.values()].filter((h) => !h.numbers).map((h) => h.name);
    expect(without.sort()).toEqual([
      // Helpers of program types no hook runs here (sock-calls.ts, lirc.ts): they stop the run.
      'bind',
      'dynptr_data',
      'dynptr_from_mem',
      'dynptr_read',
      'dynptr_write',
      'find_vma',
      'for_each_map_elem',
      'get_current_pid_tgid',
      'get_current_uid_gid',
      'get_func_ip',
      'get_ns_current_pid_tgid',
      'get_retval',
      'getsockopt',
      'kptr_xchg',
      'ktime_get_tai_ns',
      'load_hdr_opt',
      'loop',
      // Helpers of program types no hook runs here (sockops.ts): they stop the run, on any form.
      'msg_apply_bytes',
      'msg_cork_bytes',
      'msg_pop_data',
      'msg_pull_data',
      'msg_push_data',
      'override_return',
      'per_cpu_ptr',
      'perf_event_read',
      'perf_event_read_value',
      'rc_keydown',
      'rc_pointer_rel',
      'rc_repeat',
      'reserve_hdr_opt',
      'ringbuf_discard_dynptr',
      'ringbuf_reserve_dynptr',
      'ringbuf_submit_dynptr',
      'seq_printf',
      'seq_write',
      'set_retval',
      'setsockopt',
      'skb_adjust_room',
      'skb_set_tstamp',
      'sock_hash_update',
      'sock_map_update',
      'sock_ops_cb_flags_set',
      'store_hdr_opt',
      'sysctl_get_current_value',
      'sysctl_get_name',
      'sysctl_get_new_value',
      'sysctl_set_new_value',
      'tail_call',
      'this_cpu_ptr',
      'timer_cancel',
      'timer_init',
      'timer_set_callback',
      'timer_start',
      'trace_printk',
      'user_ringbuf_drain',
    ]);
    for (const h of withNumbers) {
      expect(h.numbers!.args.length, h.name).toBeLessThanOrEqual(h.proto.args.length);
      expect(
        BASE[h.name] ?? (h.proto.args.length === 0 ? [] : undefined),
        `a base call for ${h.name}`,
      ).toBeDefined();
    }
  });

  it.each(withNumbers.map((h) => [h.name, h] as const))(
    '%s: the number form agrees with the BigInt call',
    (_, h) => {
      const base = (BASE[h.name] ?? []).map(U64);
      const arity = h.proto.args.length;
      const table: bigint[][] = [base, base];
      for (let i = 0; i < arity; i++) for (const v of POOL) table.push(base.map((b, j) => (j === i ? v : b)));
      let seed = h.id;
      const pick = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed;
      };
      for (let k = 0; k < 40 && arity > 0; k++)
        table.push(base.map((b) => (pick() % 3 ? POOL[pick() % POOL.length]! : b)));
      let ok = 0;
      const differences: string[] = [];
      let big = world();
      let num = world();
      table.forEach((regs, i) => {
        // A fresh pair of worlds every few calls (making one costs more than a call); in between, the
        // state the calls leave is part of what must agree.
        if (i % 8 === 0) [big, num] = [world(), world()];
        const r = both(h, regs, big, num);
        const where = `${h.name}(${regs.map((x) => `0x${x.toString(16)}`).join(', ')})`;
        if (r.difference) differences.push(`${where}: ${r.difference}`);
        if (r.call.startsWith('r0')) ok++;
      });
      expect(differences.slice(0, 3), `${differences.length} of ${table.length} calls differ`).toEqual([]);
      // The table reaches the helper's work, not only its argument checks.
      expect(ok, h.name).toBeGreaterThan(0);
    },
  );

  it('decode registers as before: low 32 bits of sizes, pointers beyond 32 bits are invalid', () => {
    // Each value was the BigInt implementation's before the number forms; both forms give it.
    const w = world();
    const r0 = (name: string, ...args: (number | bigint)[]) => {
      const r = both(helperByName(name)!, args.map(U64));
      expect(r.difference, name).toBeUndefined();
      return r.call;
    };
    const P32 = 1n << 32n;
    expect(r0('probe_read', w.buf, P32 + 4n, w.str)).toBe('r0 = 0');
    expect(r0('probe_read', BigInt(w.buf) + P32, 8, w.str)).toMatch(/cannot write 8 bytes at 0x0/);
    expect(r0('probe_read', BigInt(w.buf) - (1n << 64n), 8, w.str)).toBe('r0 = 0'); // the same u64
    expect(r0('probe_read', w.buf, 8, -1)).toBe(`r0 = ${U64(-14)}`);
    expect(r0('probe_read', w.buf, 8, 1n << 53n)).toBe(`r0 = ${U64(-14)}`);
    expect(r0('probe_read_str', w.buf, P32, w.str)).toBe('r0 = 0');
    expect(r0('probe_read_str', w.buf, P32 + 3n, w.str)).toBe('r0 = 3');
    expect(r0('get_current_comm', w.buf, P32 + 4n)).toBe('r0 = 0');
    const perf = (flags: bigint | number) =>
      r0('perf_event_output', w.ctx, w.maps.perf.addr, flags, w.buf, 4);
    expect(perf(0xffffffff)).toBe('r0 = 0');
    expect(perf((8n << 32n) | 0xffffffffn)).toBe('r0 = 0'); // a context length
    for (const bad of [1n << 52n, (1n << 53n) + 1n, 1n << 63n, -1n])
      expect(perf(bad)).toBe(`r0 = ${U64(-22)}`);
    expect(perf(1)).toBe(`r0 = ${U64(-2)}`); // index 1: no buffer open there
    expect(r0('ringbuf_query', w.maps.rb.addr, 1)).toBe('r0 = 4096');
    for (const f of [P32 + 1n, -1n, 1n << 53n]) expect(r0('ringbuf_query', w.maps.rb.addr, f)).toBe('r0 = 0');
    expect(r0('strtoul', w.str + 3, 4, 16, w.buf)).toBe('r0 = 4'); // "0x1f"
    for (const f of [P32 + 16n, -1n, 17n])
      expect(r0('strtoul', w.str + 3, 4, f, w.buf)).toBe(`r0 = ${U64(-22)}`);
    expect(r0('strtoul', w.str + 3, P32 + 4n, 16, w.buf)).toBe('r0 = 4');
    for (const f of [0, 2]) expect(r0('map_push_elem', w.maps.queue.addr, w.buf, f)).toBe('r0 = 0');
    for (const f of [P32, -1n, 0x10000n])
      expect(r0('map_push_elem', w.maps.queue.addr, w.buf, f)).toBe(`r0 = ${U64(-22)}`);
    expect(r0('map_pop_elem', w.maps.queue.addr, BigInt(w.buf) + P32)).toMatch(/cannot write 8 bytes at 0x0/);
    expect(r0('map_push_elem', 1n << 53n, w.buf, 0)).toMatch(/not a map \(0x20000000000000\)/);
    // A size of 2^32 is 0: nothing written, the length + 1 returned; a data length of 2^32 + 8 is 8.
    expect(r0('snprintf', w.buf, P32, w.fmt, w.buf, P32 + 24n)).toMatch(/^r0 = \d+$/);
    expect(r0('snprintf', w.buf, 8, w.fmt, -1, 24)).toBe(`r0 = ${U64(-22)}`);
    expect(r0('xdp_load_bytes', w.ctx, P32 + 2n, w.buf, 8)).toBe('r0 = 0');
    expect(r0('xdp_load_bytes', w.ctx, 2, w.buf, -1)).toBe(`r0 = ${U64(-14)}`);
  });

  it('clocks stay exact up to 2^53 ns and round toward zero below 0, as the BigInt arithmetic did', () => {
    const env = new FakeEnv();
    const r0 = (name: string) => {
      const h = helperByName(name)!;
      const n = h.numbers!.call(env, 0, 0, 0, 0, 0);
      expect(BigInt(n), name).toBe(h.call(env, 0n, 0n, 0n, 0n, 0n));
      return n;
    };
    env.now = 2 ** 53 - 1;
    expect(r0('ktime_get_ns')).toBe(2 ** 53 - 1);
    expect(r0('ktime_get_boot_ns')).toBe(2 ** 53 - 1);
    expect(r0('ktime_get_coarse_ns')).toBe(9007199252000000);
    expect(r0('jiffies64')).toBe(2 ** 32 - 75000 + 2251799813);
    env.now = -5_000_001;
    expect(r0('ktime_get_coarse_ns')).toBe(-4_000_000);
    expect(r0('jiffies64')).toBe(2 ** 32 - 75000 - 1);
  });
});
