import { describe, expect, it } from 'vitest';
import { helperByName } from '../../src/helpers/registry.js';
import { MapType } from '../../src/maps/index.js';
import type { Region } from '../../src/memory/address-space.js';
import { XDP_MD_OFFSETS } from '../../src/spec/program-types.js';
import { FakeEnv } from './env.js';

const call = (env: FakeEnv, name: string, ...args: (bigint | number)[]): bigint => {
  const a = args.map((x) => BigInt.asUintN(64, BigInt(x)));
  return helperByName(name)!.call(env, a[0] ?? 0n, a[1] ?? 0n, a[2] ?? 0n, a[3] ?? 0n, a[4] ?? 0n);
};

/** A frame like the XDP hook's: 3776 bytes (a page minus skb_shared_info), data at +256. */
function xdpEnv(len = 64): { env: FakeEnv; pkt: Region; ctx: number; field: (n: string) => number } {
  const env = new FakeEnv();
  const pkt = env.space.allocate(4096 - 320, 'packet', 'packet');
  pkt.start = pkt.base + 256;
  pkt.end = pkt.start + len;
  for (let i = 0; i < len; i++) env.space.bytes[pkt.start + i] = i;
  const ctx = env.space.allocate(24, 'ctx', 'xdp_md', false).start;
  const v = env.space.view;
  v.setUint32(ctx + XDP_MD_OFFSETS.data!, pkt.start, true);
  v.setUint32(ctx + XDP_MD_OFFSETS.data_end!, pkt.end, true);
  v.setUint32(ctx + XDP_MD_OFFSETS.data_meta!, pkt.start, true);
  env.invocation = { ctx, programType: 'xdp', tailCalls: 0, packet: pkt };
  return {
    env,
    pkt,
    ctx,
    field: (n) => v.getUint32(ctx + (XDP_MD_OFFSETS as Record<string, number>)[n]!, true),
  };
}

describe('XDP helpers', () => {
  it("adjust_head: grows into the headroom down to the kernel's xdp_frame, keeps >= 14 bytes", () => {
    const { env, pkt, ctx, field } = xdpEnv(64);
    const data0 = pkt.start;
    expect(call(env, 'xdp_adjust_head', ctx, -216)).toBe(0n);
    expect(pkt.start).toBe(data0 - 216);
    expect(field('data')).toBe(pkt.start);
    expect(field('data_meta')).toBe(pkt.start);
    expect(call(env, 'xdp_adjust_head', ctx, -1)).toBe(-22n);
    expect(call(env, 'xdp_adjust_head', ctx, 216 + 50)).toBe(0n);
    expect(pkt.end - pkt.start).toBe(14);
    expect(call(env, 'xdp_adjust_head', ctx, 1)).toBe(-22n);
    expect(env.space.bytes[pkt.start]).toBe(50);
  });

  it('adjust_meta: 4-byte multiples, not below the xdp_frame; adjust_head moves the metadata along', () => {
    const { env, pkt, ctx, field } = xdpEnv(64);
    expect(call(env, 'xdp_adjust_meta', ctx, -8)).toBe(0n);
    expect(field('data_meta')).toBe(pkt.start - 8);
    env.space.write(pkt.start - 8, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(call(env, 'xdp_adjust_meta', ctx, -2)).toBe(-13n);
    expect(call(env, 'xdp_adjust_meta', ctx, 9)).toBe(-22n);
    expect(call(env, 'xdp_adjust_head', ctx, 4)).toBe(0n);
    expect([...env.space.read(field('data_meta'), 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(field('data') - field('data_meta')).toBe(8);
    // The metadata also limits how far the head can grow.
    expect(call(env, 'xdp_adjust_head', ctx, -(256 + 4 - 40 - 8) - 1)).toBe(-22n);
    expect(call(env, 'xdp_adjust_head', ctx, -(256 + 4 - 40 - 8))).toBe(0n);
    expect(call(env, 'xdp_adjust_meta', ctx, -1)).toBe(-22n);
  });

  it('adjust_tail: shrinks to 14 bytes, grows to the frame end zero-filled', () => {
    const { env, pkt, ctx, field } = xdpEnv(64);
    expect(call(env, 'xdp_adjust_tail', ctx, -50)).toBe(0n);
    expect(pkt.end - pkt.start).toBe(14);
    expect(call(env, 'xdp_adjust_tail', ctx, -1)).toBe(-22n);
    expect(call(env, 'xdp_adjust_tail', ctx, 10)).toBe(0n);
    expect([...env.space.read(pkt.start + 14, 10)]).toEqual(new Array(10).fill(0));
    expect(field('data_end')).toBe(pkt.end);
    const room = pkt.base + pkt.capacity - pkt.end;
    expect(room).toBe(4096 - 320 - 256 - 24);
    expect(call(env, 'xdp_adjust_tail', ctx, room + 1)).toBe(-22n);
    expect(call(env, 'xdp_adjust_tail', ctx, room)).toBe(0n);
  });

  it('load_bytes/store_bytes: bounds give -EINVAL, offsets above 0xffff -EFAULT', () => {
    const { env, pkt, ctx } = xdpEnv(32);
    const buf = env.buf(8);
    expect(call(env, 'xdp_load_bytes', ctx, 4, buf, 8)).toBe(0n);
    expect([...env.read(buf, 8)]).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(call(env, 'xdp_load_bytes', ctx, 25, buf, 8)).toBe(-22n);
    expect(call(env, 'xdp_load_bytes', ctx, 0x10000, buf, 1)).toBe(-14n);
    env.space.write(buf, new Uint8Array([0xaa, 0xbb]));
    expect(call(env, 'xdp_store_bytes', ctx, 30, buf, 2)).toBe(0n);
    expect([...env.space.read(pkt.end - 2, 2)]).toEqual([0xaa, 0xbb]);
  });

  it('redirect and redirect_map record the target; a missing entry returns the fallback action', () => {
    const { env, ctx } = xdpEnv();
    expect(call(env, 'redirect', 7, 0)).toBe(4n);
    expect(env.invocation.redirect).toEqual({ ifindex: 7, flags: 0 });
    expect(call(env, 'redirect', 7, 1)).toBe(0n);
    env.invocation.programType = 'sched_cls';
    expect(call(env, 'redirect', 7, 1)).toBe(7n);
    expect(call(env, 'redirect', 7, 2)).toBe(2n);
    env.invocation.programType = 'xdp';
    const dev = env.map({ type: MapType.DEVMAP, keySize: 4, valueSize: 4, maxEntries: 4 });
    dev.update(new Uint8Array([2, 0, 0, 0]), new Uint8Array([9, 0, 0, 0]));
    expect(call(env, 'redirect_map', dev.addr, 2, 0)).toBe(4n);
    expect(env.invocation.redirect).toEqual({ ifindex: 9, flags: 0, map: 'm', key: 2 });
    expect(call(env, 'redirect_map', dev.addr, 1, 2)).toBe(2n);
    expect(call(env, 'redirect_map', dev.addr, 1, 0x40)).toBe(0n);
    const hash = env.map({ type: MapType.DEVMAP_HASH, keySize: 4, valueSize: 4, maxEntries: 4 });
    hash.update(new Uint8Array([5, 0, 0, 0]), new Uint8Array([3, 0, 0, 0]));
    expect(call(env, 'redirect_map', hash.addr, 5, 0)).toBe(4n);
    expect(env.invocation.redirect?.ifindex).toBe(3);
    expect(ctx).toBeGreaterThan(0);
  });

  it('csum_diff: a one-word change folds to the RFC 1624 incremental checksum', () => {
    const env = new FakeEnv();
    const from = env.buf(new Uint8Array([0x0a, 0x00, 0x00, 0x01]));
    const to = env.buf(new Uint8Array([0x0a, 0x00, 0x00, 0x02]));
    const fold = (x: bigint) => {
      let s = Number(x);
      s = (s & 0xffff) + (s >>> 16);
      s = (s & 0xffff) + (s >>> 16);
      return s;
    };
    // Pushing 4 bytes from nothing: the sum of the words; the diff of a changed word: to - from.
    expect(fold(call(env, 'csum_diff', 0, 0, to, 4, 0))).toBe(0x000a + 0x0200);
    expect(fold(call(env, 'csum_diff', from, 4, to, 4, 0))).toBe(0x0100);
    // Sizes need not be multiples of 4 (kernel >= 6.13): a partial word is zero padded.
    expect(call(env, 'csum_diff', from, 3, to, 3, 0)).toBe(0xffffn); // equal data: one's-complement zero
    expect(call(env, 'csum_diff', from, 4, to, 4, 0)).toBeLessThan(0x10000n);
  });
});
