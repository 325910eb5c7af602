// bpf_fib_lookup over a configurable network (HelperEnv.net: interfaces, routes, neighbours), with the
// kernel's order of checks, return codes (BPF_FIB_LKUP_RET_*) and the fields of struct bpf_fib_lookup it
// fills: ifindex, rt_metric, the gateway in place of the destination, smac/dmac, mtu_result, the VLAN
// fields zeroed. Without a network the model is a fresh namespace's: loopback (ifindex 1, forwarding off).
// The lookup is longest prefix first, then the lowest metric; one table (policy routing, multipath and
// lightweight tunnels are not modelled).

import { Errno } from '../spec/errno.js';
import { onNumbers, ptrWord, writable } from './args.js';
import { TC_XDP_TYPES } from './groups.js';
import type { HelperDef, HelperEnv, NetModel, RouteModel } from './types.js';

/** BPF_FIB_LKUP_RET_*. */
export const FibResult = {
  SUCCESS: 0,
  BLACKHOLE: 1,
  UNREACHABLE: 2,
  PROHIBIT: 3,
  NOT_FWDED: 4,
  FWD_DISABLED: 5,
  UNSUPP_LWT: 6,
  NO_NEIGH: 7,
  FRAG_NEEDED: 8,
  NO_SRC_ADDR: 9,
} as const;

/** BPF_FIB_LOOKUP_* flags. */
export const FibFlag = { DIRECT: 1, OUTPUT: 2, SKIP_NEIGH: 4, TBID: 8, SRC: 16, MARK: 32 } as const;
const FIB_FLAGS = 63;

/** sizeof(struct bpf_fib_lookup) and its fields' offsets. */
export const FIB_LOOKUP_SIZE = 64;
const F = {
  family: 0,
  totLen: 6, // tot_len in, mtu_result out
  ifindex: 8,
  tos: 12, // tos / flowinfo in, rt_metric out
  src: 16,
  dst: 32,
  vlanProto: 48,
  vlanTci: 50,
  smac: 52,
  dmac: 58,
} as const;
const AF_INET = 2;
const AF_INET6 = 10;

/** A fresh network namespace: loopback only, forwarding off. */
export const DEFAULT_NET: NetModel = {
  interfaces: [{ ifindex: 1, name: 'lo', mtu: 65536, forwarding: false }],
  routes: [],
};

/** An IPv4 or IPv6 address in text as its bytes (network order), or undefined. */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes(':')) {
    const [head, tail] = text.split('::') as [string, string | undefined];
    const part = (s: string | undefined) => (s ? s.split(':') : []);
    const h = part(head);
    const t = part(tail);
    if (tail === undefined ? h.length !== 8 : h.length + t.length > 7) return undefined;
    const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    const out = new Uint8Array(16);
    for (let i = 0; i < 8; i++) {
      const w = Number.parseInt(words[i]!, 16);
      if (!/^[0-9a-f]{1,4}$/i.test(words[i]!) || Number.isNaN(w)) return undefined;
      out[2 * i] = w >> 8;
      out[2 * i + 1] = w & 0xff;
    }
    return out;
  }
  const p = text.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return undefined;
  return Uint8Array.from(p.map(Number));
}

/** A MAC address `aa:bb:cc:dd:ee:ff` as 6 bytes, or undefined. */
export function parseMac(text: string): Uint8Array | undefined {
  const p = text.split(':');
  if (p.length !== 6 || p.some((x) => !/^[0-9a-f]{2}$/i.test(x))) return undefined;
  return Uint8Array.from(p.map((x) => Number.parseInt(x, 16)));
}

/** Whether the first `bits` bits of `a` and `b` agree. */
function prefixMatch(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const m = 0x80 >> (i & 7);
    if ((a[i >> 3]! & m) !== (b[i >> 3]! & m)) return false;
  }
  return true;
}

/** Check a network model once: addresses parse, routes name interfaces; throws a one-line error. */
export function checkNet(net: NetModel): void {
  const known = new Set(net.interfaces.map((i) => i.ifindex));
  for (const r of net.routes) {
    const [addr, len] = r.prefix.split('/');
    const bytes = parseIp(addr ?? '');
    if (!bytes || !/^\d+$/.test(len ?? '') || Number(len) > bytes.length * 8)
      throw new Error(`route '${r.prefix}': not an address/prefix-length`);
    if (!known.has(r.ifindex)) throw new Error(`route '${r.prefix}': no interface with ifindex ${r.ifindex}`);
    if (r.gateway && parseIp(r.gateway)?.length !== bytes.length)
      throw new Error(`route '${r.prefix}': gateway '${r.gateway}' is not an address of its family`);
    for (const [what, mac] of [
      ['smac', r.smac],
      ['dmac', r.dmac],
    ] as const)
      if (mac !== undefined && !parseMac(mac))
        throw new Error(`route '${r.prefix}': ${what} '${mac}' is not a MAC`);
  }
}

/** The route for `dst` (longest prefix, then lowest metric) among routes of the address's family. */
function lookup(net: NetModel, dst: Uint8Array): RouteModel | undefined {
  let best: RouteModel | undefined;
  let bestLen = -1;
  for (const r of net.routes) {
    const [addr, len] = r.prefix.split('/');
    const p = parseIp(addr!);
    const bits = Number(len);
    if (!p || p.length !== dst.length || !prefixMatch(p, dst, bits)) continue;
    if (bits > bestLen || (bits === bestLen && (r.metric ?? 0) < (best!.metric ?? 0))) {
      best = r;
      bestLen = bits;
    }
  }
  return best;
}

function fibLookup(env: HelperEnv, at: number, size: number, flags: number): number {
  if (size < FIB_LOOKUP_SIZE) return -Errno.EINVAL;
  if (flags & ~FIB_FLAGS) return -Errno.EINVAL;
  const b = env.space.bytes;
  const v = env.space.view;
  const family = b[at + F.family]!;
  if (family !== AF_INET && family !== AF_INET6) return -Errno.EAFNOSUPPORT;
  const net = env.net ?? DEFAULT_NET;
  const dev = net.interfaces.find((i) => i.ifindex === v.getUint32(at + F.ifindex, true));
  if (!dev) return -Errno.ENODEV;
  if (!dev.forwarding) return FibResult.FWD_DISABLED;
  const alen = family === AF_INET ? 4 : 16;
  const dst = b.slice(at + F.dst, at + F.dst + alen);
  const route = lookup(net, dst);
  const type = route?.type ?? 'unicast';
  if (!route) return FibResult.NOT_FWDED;
  if (type === 'blackhole') return FibResult.BLACKHOLE;
  if (type === 'unreachable') return FibResult.UNREACHABLE;
  if (type === 'prohibit') return FibResult.PROHIBIT;
  if (type !== 'unicast') return FibResult.NOT_FWDED;
  const out = net.interfaces.find((i) => i.ifindex === route.ifindex)!;
  const mtu = route.mtu ?? out.mtu;
  // XDP and TC check the packet's length (tot_len) against the path's MTU first.
  const totLen = v.getUint16(at + F.totLen, true);
  if (totLen > mtu) {
    v.setUint16(at + F.totLen, mtu, true);
    return FibResult.FRAG_NEEDED;
  }
  v.setUint32(at + F.tos, route.metric ?? 0, true);
  v.setUint32(at + F.ifindex, out.ifindex, true);
  if (flags & FibFlag.SRC) {
    const src = route.src ? parseIp(route.src) : undefined;
    if (!src) return FibResult.NO_SRC_ADDR;
    b.set(src, at + F.src);
  }
  if (route.gateway) b.set(parseIp(route.gateway)!, at + F.dst);
  if (!(flags & FibFlag.SKIP_NEIGH)) {
    const dmac = route.dmac && parseMac(route.dmac);
    if (!dmac) return FibResult.NO_NEIGH;
    b.set(dmac, at + F.dmac);
    b.set(parseMac(route.smac ?? out.mac ?? '00:00:00:00:00:00')!, at + F.smac);
  }
  v.setUint16(at + F.vlanProto, 0, true);
  v.setUint16(at + F.vlanTci, 0, true);
  v.setUint16(at + F.totLen, mtu, true);
  return FibResult.SUCCESS;
}

export const ROUTE_HELPERS: HelperDef[] = [
  {
    id: 69,
    name: 'fib_lookup',
    proto: { ret: 'integer', args: ['ctx', 'mem', 'const_size', 'anything'] },
    programTypes: TC_XDP_TYPES,
    ...onNumbers(['word', 'word', 'u32', 'u32'], (env, _ctx, params, size, flags) => {
      const at = ptrWord(params);
      writable(env, at, Math.min(size, FIB_LOOKUP_SIZE), 'fib_lookup');
      return fibLookup(env, at, size, flags);
    }),
  },
];
