// Batch XDP gives exactly the results of running packets one by one: verdicts, packets out (adjust_head,
// adjust_tail, stores), redirect targets, ring-buffer events in packet order and the maps afterwards — on
// both engines, with batches that do not divide the packet count.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { type LoadedObject, loadObject, setTailCallTarget } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { createRunner, ENGINES } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { movesPacketBounds, XDP_MAX_PACKET, XdpHook, type XdpResult } from '../../src/hooks/xdp.js';
import { XdpBatch } from '../../src/hooks/xdp-batch.js';
import { RingBufMap } from '../../src/maps/ringbuf.js';
import { rawKeys } from '../../src/maps/typed.js';
import type { BpfMap } from '../../src/maps/types.js';
import { buildFrame } from '../../src/net/packet.js';
import { readCapture } from '../../src/net/pcap.js';
import { MapType } from '../../src/spec/maps.js';
import { Runtime } from '../../src/vm/runtime.js';
import { XDP_EXAMPLE_SETUP, XDP_EXAMPLES } from '../support/examples.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const captured = ['examples/xdp/iperf.pcap', 'test/fixtures/pcap/crafted.pcap'].flatMap((f) =>
  readCapture(readFileSync(f), f)
    .packets.map((p) => p.data)
    .filter((d) => d.length >= 14 && d.length <= XDP_MAX_PACKET),
);
// Frames the captures may lack: VLAN-tagged (vlan_pop), TCP SYN (syn_events), IPv6 with an extension header.
const synthetic = [
  buildFrame({
    vlans: [{ id: 10 }],
    ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
    udp: { sport: 1, dport: 5001 },
  }),
  buildFrame({ ipv4: { src: '10.0.0.3', dst: '10.0.0.4' }, tcp: { sport: 1000, dport: 80, flags: 2 } }),
  buildFrame({ ipv6: { src: 'fe80::1', dst: 'fe80::2', ext: [{ type: 0 }] }, udp: { sport: 7, dport: 9 } }),
];
const packets = [...captured, ...synthetic, ...captured.slice(0, 40)];

/** The shared example setup, applied to a user-space object. */
function setup(name: string, obj: LoadedObject): void {
  for (const s of XDP_EXAMPLE_SETUP[name] ?? []) {
    const key = Buffer.from(s.key, 'hex');
    if (/^[0-9a-f]+$/.test(s.value)) obj.map(s.map).update(key, Buffer.from(s.value, 'hex'));
    else setTailCallTarget(obj, s.map, key.readUInt32LE(0), s.value);
  }
}
const EXAMPLES = XDP_EXAMPLES;

function load(name: string): LoadedObject {
  // A clock that counts calls: both sides see the same timestamps (syn_events records them).
  let now = 0n;
  const runtimeOptions = { clock: () => (now += 1000n) };
  const obj = loadObject(readObject(readFileSync(`examples/xdp/${name}.o`)), { runtimeOptions });
  setup(name, obj);
  return obj;
}

function maps(obj: LoadedObject): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, map] of obj.maps) {
    const t = map.spec.type;
    if (t === MapType.RINGBUF || t === MapType.PROG_ARRAY || t === MapType.PERF_EVENT_ARRAY) continue;
    out[name] = [...rawKeys(map as BpfMap)].map((k) => `${hex(k)}=${hex(map.lookup(k)!)}`).sort();
  }
  return out;
}

/** Ring-buffer records so far, as "map:hex", drained in order. */
function drainEvents(obj: LoadedObject, into: string[]): void {
  for (const [name, map] of obj.maps)
    if (map instanceof RingBufMap) map.drain((d) => into.push(`${name}:${hex(d)}`));
}

const view = (r: XdpResult) => ({
  verdict: r.verdict,
  data: hex(r.data),
  changed: r.changed,
  redirect: r.redirect,
});

describe('XdpBatch: the results of running packets one by one', () => {
  for (const name of EXAMPLES) {
    for (const engine of ENGINES) {
      it(`${name} (${engine}) over ${packets.length} packets in batches of 7`, () => {
        const one = load(name);
        const many = load(name);
        const hook = new XdpHook(one.program().runner(engine));
        const want: ReturnType<typeof view>[] = [];
        const wantEvents: string[] = [];
        for (const p of packets) {
          want.push(view(hook.run(p)));
          drainEvents(one, wantEvents);
        }
        const batch = new XdpBatch(many.program().runner(engine), 7);
        const got: ReturnType<typeof view>[] = [];
        const gotEvents: string[] = [];
        for (let first = 0; first < packets.length; ) {
          const n = batch.run(packets, first, {}, () => drainEvents(many, gotEvents));
          for (let i = 0; i < n; i++) got.push(view(batch.result(i)));
          first += n;
        }
        drainEvents(many, gotEvents);
        expect(got).toEqual(want);
        expect(gotEvents).toEqual(wantEvents);
        expect(maps(many)).toEqual(maps(one));
        // The examples' behaviour is exercised, not vacuous: some packets change or leave with each verdict.
        if (name === 'vlan_pop') expect(got.some((r) => r.changed)).toBe(true);
        if (name === 'syn_events') expect(gotEvents.length).toBeGreaterThan(0);
        if (name === 'udp_drop') expect(new Set(got.map((r) => r.verdict))).toEqual(new Set([1, 2]));
        batch.close();
        hook.close();
      });
    }
  }

  // adjust_tail by the first byte's low bits, then redirect to ifindex = the second byte (or pass).
  const source = `
    r6 = r1
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 2
    if r4 > r3 goto pass
    r7 = *(u8 *)(r2 + 0)
    r8 = *(u8 *)(r2 + 1)
    r7 &= 3
    r2 = 0
    r2 -= r7
    r1 = r6
    call 65
    if r8 == 0 goto pass
    r1 = r8
    r2 = 0
    call 23
    exit
  pass:
    r0 = 2
    exit`;

  for (const engine of ENGINES) {
    it(`adjust_tail and redirect per packet (${engine})`, () => {
      const frames = Array.from({ length: 20 }, (_, i) => {
        const f = new Uint8Array(20 + i);
        f.fill(i);
        f[0] = i;
        f[1] = i % 3 === 0 ? 0 : i + 1;
        return f;
      });
      const run = (batched: boolean) => {
        const rt = new Runtime();
        const prog = rt.prepare(assembleProgram(source));
        const runner = createRunner(rt, prog, { engine, checked: false });
        if (!batched) {
          const hook = new XdpHook(runner);
          return frames.map((f) => view(hook.run(f)));
        }
        const batch = new XdpBatch(runner, 8);
        const out: ReturnType<typeof view>[] = [];
        for (let first = 0; first < frames.length; ) {
          const n = batch.run(frames, first);
          for (let i = 0; i < n; i++) out.push(view(batch.result(i)));
          first += n;
        }
        return out;
      };
      const want = run(false);
      expect(run(true)).toEqual(want);
      expect(want.filter((r) => r.redirect).map((r) => r.redirect!.ifindex)).toEqual([
        2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20,
      ]);
      expect(want.filter((r) => r.changed).length).toBe(15); // every frame whose first byte is not 0 mod 4
    });
  }

  // Grows the head by 8, reads those 8 headroom bytes, scribbles on them, shrinks back: every packet must
  // find the headroom zeroed (a fresh page, as the kernel's test run gives), though frames are reused.
  const scribble = `
    r6 = r1
    r2 = -8
    call 44
    if r0 != 0 goto fail
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r4 = r2
    r4 += 8
    if r4 > r3 goto fail
    r7 = *(u64 *)(r2 + 0)
    r5 = -1
    *(u64 *)(r2 + 0) = r5
    r1 = r6
    r2 = 8
    call 44
    r0 = 2
    if r7 == 0 goto out
    r0 = 3
  out:
    exit
  fail:
    r0 = 0
    exit`;
  for (const engine of ENGINES) {
    it(`every packet of a batch finds a clean headroom (${engine})`, () => {
      const rt = new Runtime();
      const runner = createRunner(rt, rt.prepare(assembleProgram(scribble)), { engine, checked: false });
      const batch = new XdpBatch(runner, 2);
      const frames = Array.from({ length: 6 }, (_, i) => new Uint8Array(30 + i).fill(i + 1));
      for (let round = 0; round < 2; round++) {
        for (let first = 0; first < frames.length; ) {
          const n = batch.run(frames, first);
          for (let i = 0; i < n; i++) expect(batch.result(i)).toMatchObject({ verdict: 2, changed: false });
          first += n;
        }
      }
    });
  }

  for (const engine of ENGINES) {
    it(`a program without helpers reports no redirect left by an earlier program (${engine})`, () => {
      const rt = new Runtime();
      const redirect = createRunner(rt, rt.prepare(assembleProgram('r1 = 5\nr2 = 0\ncall 23\nexit')), {
        engine,
        checked: false,
      });
      const plain = createRunner(rt, rt.prepare(assembleProgram('r0 = 2\nexit')), { engine, checked: false });
      const frame = new Uint8Array(20);
      expect(new XdpHook(redirect).run(frame).redirect).toEqual({ ifindex: 5, flags: 0 });
      expect(new XdpHook(plain).run(frame)).toEqual({ verdict: 2, data: frame, changed: false });
    });
  }

  for (const engine of ENGINES) {
    it(`runRanges and output give what run and result give (vlan_pop, ${engine})`, () => {
      const a = load('vlan_pop');
      const b = load('vlan_pop');
      // The packets back to back in one buffer with gaps, as records sit in a capture.
      const offsets: number[] = [];
      let size = 3;
      for (const p of packets) {
        offsets.push(size);
        size += p.length + 16;
      }
      const bytes = new Uint8Array(size);
      for (let i = 0; i < packets.length; i++) bytes.set(packets[i]!, offsets[i]!);
      const lengths = packets.map((p) => p.length);
      const byRun = new XdpBatch(a.program().runner(engine), 9);
      const byRanges = new XdpBatch(b.program().runner(engine), 9);
      let changed = 0;
      for (let first = 0; first < packets.length; ) {
        const n = byRun.run(packets, first);
        expect(byRanges.runRanges(bytes, offsets, lengths, packets.length, first)).toBe(n);
        for (let i = 0; i < n; i++) {
          const want = byRun.result(i);
          const out = hex(byRanges.output(i));
          expect(view(byRanges.result(i))).toEqual(view(want));
          expect(out).toBe(hex(want.data));
          if (want.changed) changed++;
        }
        first += n;
      }
      expect(changed).toBeGreaterThan(0);
      expect(maps(b)).toEqual(maps(a));
    });
  }

  it('clears frames only for programs that can move packet bounds', () => {
    const prepared = (name: string) => load(name).program().runner('interp').program;
    expect(movesPacketBounds(prepared('udp_drop'))).toBe(false); // map helpers only
    expect(movesPacketBounds(prepared('vlan_pop'))).toBe(true); // adjust_head
    expect(movesPacketBounds(prepared('tail_call'))).toBe(true); // the target may
    const rt = new Runtime();
    expect(movesPacketBounds(rt.prepare(assembleProgram(scribble)))).toBe(true);
    expect(movesPacketBounds(rt.prepare(assembleProgram('r0 = 2\nexit')))).toBe(false);
  });

  // Stores packet[1] at offset packet[0]: the packet changes unless that byte already held the value.
  const poke = `
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 2
    if r4 > r3 goto out
    r5 = *(u8 *)(r2 + 0)
    r6 = *(u8 *)(r2 + 1)
    r2 += r5
    r4 = r2
    r4 += 1
    if r4 > r3 goto out
    *(u8 *)(r2 + 0) = r6
  out:
    r0 = 2
    exit`;
  for (const engine of ENGINES) {
    it(`reports a changed byte wherever it is, aligned or not (${engine})`, () => {
      const rt = new Runtime();
      const runner = createRunner(rt, rt.prepare(assembleProgram(poke)), { engine, checked: false });
      const hook = new XdpHook(runner);
      const batch = new XdpBatch(runner, 5);
      const frames: Uint8Array[] = [];
      const want: { data: string; changed: boolean }[] = [];
      for (let len = 2; len <= 14; len++)
        for (let k = 0; k < len; k++)
          for (const same of [false, true]) {
            const f = Uint8Array.from({ length: len }, (_, i) => 0x40 + i);
            f[0] = k;
            f[1] = same ? f[k]! : 0x99;
            const out = f.slice();
            out[k] = f[1]!;
            frames.push(f);
            want.push({ data: hex(out), changed: hex(out) !== hex(f) });
          }
      const byHook = frames.map((f) => hook.run(f));
      const byBatch: XdpResult[] = [];
      for (let first = 0; first < frames.length; ) {
        const n = batch.run(frames, first);
        for (let i = 0; i < n; i++) byBatch.push(batch.result(i));
        first += n;
      }
      for (const got of [byHook, byBatch])
        expect(got.map((r) => ({ data: hex(r.data), changed: r.changed }))).toEqual(want);
      expect(want.filter((w) => w.changed).length).toBeGreaterThan(50);
      expect(want.filter((w) => !w.changed).length).toBeGreaterThan(50);
    });
  }

  it('rejects bad sizes and indexes', () => {
    const obj = load('udp_drop');
    expect(() => new XdpBatch(obj.program().runner('interp'), 0)).toThrow(RangeError);
    const batch = new XdpBatch(obj.program().runner('interp'), 4);
    batch.run(packets.slice(0, 2));
    expect(() => batch.verdict(2)).toThrow(/no packet 2 in the last batch \(it ran 2\)/);
    expect(() => batch.runLoaded(5)).toThrow(/exceeds the pool of 4 frames/);
  });
});

function assembleProgram(text: string) {
  const insns = assemble(text);
  return { name: 'prog', section: 'xdp', type: 'xdp', insns, license: 'GPL' } as never;
}

describe('testRun', () => {
  // Adds 1 to the first byte on every run: repeats must run on the same buffer (as the kernel's do).
  const bump = `
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 1
    if r4 > r3 goto out
    r5 = *(u8 *)(r2 + 0)
    r5 += 1
    *(u8 *)(r2 + 0) = r5
    r0 = r5
    exit
  out:
    r0 = 0
    exit`;
  for (const engine of ENGINES) {
    for (const repeat of [1, 3, 1000, 2500]) {
      it(`repeat ${repeat} runs on the same buffer (${engine})`, () => {
        const rt = new Runtime();
        const runner = createRunner(rt, rt.prepare(assembleProgram(bump)), { engine, checked: false });
        // 14 bytes: a test run takes at least an Ethernet header, as the kernel's does.
        const r = testRun(runner, { dataIn: new Uint8Array([0, 9, 9, ...new Uint8Array(11)]), repeat });
        expect(r.retval).toBe(repeat & 0xff);
        expect([...r.dataOut.subarray(0, 3)]).toEqual([repeat & 0xff, 9, 9]);
        expect(r.repeat).toBe(repeat);
        expect(r.durationNs).toBeGreaterThanOrEqual(0);
      });
    }
  }

  it('times with the clock it is given, averaged over the repeats after the first', () => {
    const rt = new Runtime();
    const runner = createRunner(rt, rt.prepare(assembleProgram(bump)), { engine: 'jit', checked: false });
    let t = 0;
    const r = testRun(runner, { dataIn: new Uint8Array(14), repeat: 5, clock: () => (t += 1000) });
    expect(r.durationNs).toBe(250);
    expect(testRun(runner, { dataIn: new Uint8Array(14), clock: () => (t += 1000) }).durationNs).toBe(1000);
  });

  it('gives the same result as a hook run for every example and packet kind (udp_drop)', () => {
    const obj = load('udp_drop');
    for (const p of [synthetic[0]!, captured[0]!, captured[5]!]) {
      const hook = new XdpHook(obj.program().runner('jit'));
      const want = hook.run(p);
      hook.close();
      const r = testRun(obj.program().runner('jit'), { dataIn: p });
      expect(r.retval).toBe(want.verdict);
      expect(hex(r.dataOut)).toBe(hex(want.data));
    }
  });
});

describe('XdpBatch layout', () => {
  // The programs return the context's address and xdp_md.data.
  const addresses = (source: string) => {
    const rt = new Runtime();
    const runner = createRunner(rt, rt.prepare(assembleProgram(source)), { engine: 'interp' });
    const batch = new XdpBatch(runner, 16);
    batch.run(Array.from({ length: 16 }, () => new Uint8Array(60)));
    return Array.from({ length: 16 }, (_, i) => batch.verdict(i));
  };

  it('puts each packet at the start of a cache line and the contexts side by side', () => {
    const ctx = addresses('r0 = r1\nexit');
    expect(ctx).toEqual(ctx.map((_, i) => ctx[0]! + 24 * i));
    const data = addresses('r0 = *(u32 *)(r1 + 0)\nexit');
    expect(data.map((a) => a % 64)).toEqual(data.map(() => 0));
    expect(new Set(data).size).toBe(16);
  });
});
