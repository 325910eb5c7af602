// Checked mode as a sandbox (src/vm/sandbox.ts), on both engines: an unverified program reaches only its own
// packet, context, stack, the maps it was given and the ring-buffer samples it holds — directly or through
// a helper. Each case here escaped before the sandbox (a neighbour packet of a batch, another object's map by
// raw address, a forged ring-buffer header, a second submit).

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner, ENGINES, type EngineName } from '../../src/engine/runner.js';
import { RuntimeFault } from '../../src/errors.js';
import { XdpBatch } from '../../src/hooks/xdp-batch.js';
import { createMap } from '../../src/maps/index.js';
import { RINGBUF_HDR_SZ, type RingBufMap } from '../../src/maps/ringbuf.js';
import type { RuntimeMap } from '../../src/maps/types.js';
import { MapType } from '../../src/spec/maps.js';
import { Runtime } from '../../src/vm/runtime.js';

const hexAddr = (a: number) => `0x${a.toString(16)}`;

function arrayMap(rt: Runtime, name: string): RuntimeMap {
  return createMap(
    rt.space,
    { name, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 },
    { cpus: 1 },
  );
}

function ringMap(rt: Runtime): RingBufMap {
  return createMap(
    rt.space,
    { name: 'events', type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 4096, flags: 0 },
    { cpus: 1 },
  ) as RingBufMap;
}

/** The address of map `m`'s value at key 0. */
function valueAddr(rt: Runtime, m: RuntimeMap): number {
  const key = rt.space.allocate(4, 'scratch', 'key');
  return m.lookupPtr(key.start, 0);
}

/** Run `text` once as an XDP-typed program over a 64-byte packet (checked unless told otherwise). */
function runOnce(
  rt: Runtime,
  engine: EngineName,
  text: string,
  maps: RuntimeMap[] = [],
  checked = true,
): number {
  const prog = rt.prepare(
    { name: 't', section: 'xdp', type: 'xdp', insns: assemble(text), license: 'GPL' },
    maps,
  );
  const batch = new XdpBatch(createRunner(rt, prog, { engine, checked }), 1);
  try {
    batch.run([new Uint8Array(64)]);
    return batch.verdict(0);
  } finally {
    batch.close();
  }
}

function faultOf(fn: () => unknown): RuntimeFault {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeFault);
    return e as RuntimeFault;
  }
  throw new Error('expected a RuntimeFault');
}

describe.each(ENGINES)('checked mode is a sandbox (%s)', (engine) => {
  it("a store past the packet's frame faults instead of changing the next packet of the batch", () => {
    const rt = new Runtime();
    // data + 3776: the next frame's packet data (frames are 3776 bytes apart in the batch's pool).
    const text = `
      r2 = *(u32 *)(r1 + 0)
      r2 += 3776
      r3 = 0xff
      *(u8 *)(r2 + 0) = r3
      r0 = 2
      exit`;
    const prog = rt.prepare({
      name: 't',
      section: 'xdp',
      type: 'xdp',
      insns: assemble(text),
      license: 'GPL',
    });
    const batch = new XdpBatch(createRunner(rt, prog, { engine, checked: true }), 4);
    const packets = [0, 1, 2, 3].map((i) => new Uint8Array(64).fill(i));
    const fault = faultOf(() => batch.run(packets));
    expect(fault.message).toMatch(/not this run's packet/);
    expect(fault.pc).toBe(3);
    // Nothing of the other frames changed.
    for (let i = 1; i < 4; i++) expect(batch.result(i).data.every((b) => b === i)).toBe(true);
    batch.close();
  });

  it("another object's map value, by raw address: a store faults, the value is unchanged", () => {
    const rt = new Runtime();
    const other = arrayMap(rt, 'other');
    const addr = valueAddr(rt, other);
    const fault = faultOf(() =>
      runOnce(rt, engine, `r1 = ${hexAddr(addr)} ll\nr2 = 7\n*(u64 *)(r1 + 0) = r2\nr0 = 2\nexit`),
    );
    expect(fault.message).toMatch(/map other value belongs to a map this program was not given/);
    expect(other.lookup(new Uint8Array(4))).toEqual(new Uint8Array(8));
  });

  it("another object's map through a helper: map_update_elem on its raw handle faults", () => {
    const rt = new Runtime();
    const other = arrayMap(rt, 'other');
    rt.registerMap(other); // as when another object was loaded in the same runtime
    const text = `
      *(u32 *)(r10 - 4) = 0
      r3 = 7
      *(u64 *)(r10 - 16) = r3
      r1 = ${hexAddr(other.addr)} ll
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 0
      call 2
      r0 = 2
      exit`;
    const fault = faultOf(() => runOnce(rt, engine, text));
    expect(fault.message).toMatch(/map_update_elem argument 1: map 'other' was not given to this program/);
    expect(other.lookup(new Uint8Array(4))).toEqual(new Uint8Array(8));
    // The same program given the map updates it.
    const mine = arrayMap(rt, 'mine');
    expect(runOnce(rt, engine, text.replace(hexAddr(other.addr), 'map_fd(0)'), [mine])).toBe(2);
    expect(mine.lookup(new Uint8Array(4))![0]).toBe(7);
  });

  it("a helper cannot write for the program where the program could not (probe_read into another map's value)", () => {
    const rt = new Runtime();
    const other = arrayMap(rt, 'other');
    const addr = valueAddr(rt, other);
    const text = `r1 = ${hexAddr(addr)} ll\nr2 = 8\nr3 = r10\nr3 += -8\ncall 113\nr0 = 2\nexit`;
    const fault = faultOf(() => runOnce(rt, engine, text));
    expect(fault.message).toMatch(/probe_read_kernel argument 1: .*not given/);
  });

  it('csum_diff over memory the program was not given faults naming the helper and argument', () => {
    const rt = new Runtime();
    const far = rt.space.allocate(16, 'scratch', "not the program's").start + 0x100000;
    for (const [from, name] of [
      [valueAddr(rt, arrayMap(rt, 'other')), /belongs to a map this program was not given/],
      [far, /to unmapped memory/],
    ] as const) {
      const text = `r1 = ${hexAddr(from)} ll\nr2 = 8\nr3 = 0\nr4 = 0\nr5 = 0\ncall 28\nr0 = 2\nexit`;
      const fault = faultOf(() => runOnce(rt, engine, text));
      expect(fault.message).toMatch(/csum_diff argument 1: /);
      expect(fault.message).toMatch(name);
      expect(fault.message).not.toMatch(/DataView/);
      expect(fault.pc).toBe(6); // the call (lddw takes two slots)
    }
  });

  it('a helper pointer argument that is no address is named as the register holds it', () => {
    // Found by the fuzz suite: -1 was printed as 0x-1.
    const rt = new Runtime();
    const fault = faultOf(() => runOnce(rt, engine, 'r1 = -1\nr2 = 8\nr3 = 0\ncall 113\nr0 = 2\nexit'));
    expect(fault.message).toBe('insn 3: probe_read_kernel argument 1: 0xffffffffffffffff is not an address');
  });

  it("bpf_loop's context may be the top of the stack (r10 itself), as the verifier and the kernel take it", () => {
    // Found by the fuzz suite: `r3 = r10` passed the verifier (and bpftool), yet a checked run faulted
    // with "invalid read of 1 byte out of bounds of stack frame 0".
    // r2 = the callback (lddw of a function pointer: the callback starts 5 + ctx slots after it).
    const text = (ctx: string, ctxSlots: number) => `
      r1 = 3
      ld_pseudo r2, 4, ${5 + ctxSlots}
      ${ctx}
      r4 = 0
      call 181
      r0 = 2
      exit
      r0 = 0
      exit`;
    const rt = new Runtime({ cpus: 2 });
    expect(runOnce(rt, engine, text('r3 = r10', 1))).toBe(2);
    expect(runOnce(rt, engine, text('r3 = r10\nr3 += -512', 2))).toBe(2);
    const past = faultOf(() => runOnce(rt, engine, text('r3 = r10\nr3 += 8', 2)));
    expect(past.message).toMatch(/loop argument 3: 0x[0-9a-f]+ is not on this CPU's stack/);
    const other = rt.stackFrames(1)[0]!;
    const elsewhere = faultOf(() => runOnce(rt, engine, text(`r3 = ${hexAddr(other.end)} ll`, 2)));
    expect(elsewhere.message).toMatch(/loop argument 3: 0x[0-9a-f]+ is not on this CPU's stack/);
  });

  it('a ring-buffer record header is not writable; the sample is', () => {
    const rt = new Runtime();
    const ring = ringMap(rt);
    const reserve = `
      r1 = map_fd(0) ll
      r2 = 8
      r3 = 0
      call 131
      if r0 == 0 goto out
      r6 = r0`;
    const submit = `
      r1 = r6
      r2 = 0
      call 132
    out:
      r0 = 2
      exit`;
    const forge = `${reserve}\nr2 = 0xffffff\n*(u32 *)(r6 - 8) = r2\n${submit}`;
    expect(faultOf(() => runOnce(rt, engine, forge, [ring])).message).toMatch(
      /ring buffer events: not inside a sample/,
    );
    const fill = `${reserve}\nr2 = 0x1122334455667788 ll\n*(u64 *)(r6 + 0) = r2\n${submit}`;
    expect(runOnce(rt, engine, fill, [ring])).toBe(2);
    const got: string[] = [];
    ring.drain((d) => got.push(Buffer.from(d).toString('hex')));
    expect(got).toEqual(['8877665544332211']);
    // A write just past the sample's 8 bytes is outside it.
    const past = `${reserve}\nr2 = 1\n*(u8 *)(r6 + 8) = r2\n${submit}`;
    expect(faultOf(() => runOnce(rt, engine, past, [ring])).message).toMatch(/not inside a sample/);
  });

  for (const [what, second] of [
    ['a second submit', 132],
    ['a discard after submit', 133],
  ] as const) {
    for (const checked of [true, false]) {
      it(`${what} faults (${checked ? 'checked' : 'unchecked'})`, () => {
        const rt = new Runtime();
        const ring = ringMap(rt);
        const text = `
          r1 = map_fd(0) ll
          r2 = 8
          r3 = 0
          call 131
          if r0 == 0 goto out
          r6 = r0
          r1 = r6
          r2 = 0
          call 132
          r1 = r6
          r2 = 0
          call ${second}
        out:
          r0 = 2
          exit`;
        const fault = faultOf(() => runOnce(rt, engine, text, [ring], checked));
        expect(fault.message).toMatch(/not a (reserved sample|ring-buffer sample this run holds)/);
      });
    }
  }

  it('a sample a run ends holding is discarded for it, so later records still arrive', () => {
    const rt = new Runtime();
    const ring = ringMap(rt);
    const keep = `r1 = map_fd(0) ll\nr2 = 8\nr3 = 0\ncall 131\nr0 = 2\nexit`;
    expect(runOnce(rt, engine, keep, [ring])).toBe(2);
    const text = `
      r1 = map_fd(0) ll
      r2 = 7
      *(u64 *)(r10 - 8) = r2
      r2 = r10
      r2 += -8
      r3 = 8
      r4 = 0
      call 130
      r0 = 2
      exit`;
    expect(runOnce(rt, engine, text, [ring])).toBe(2);
    const got: number[] = [];
    ring.drain((d) => got.push(d[0]!));
    expect(got).toEqual([7]);
  });
});

describe('ring-buffer consumers check every header', () => {
  it('a header whose length runs past what was written is an error, not a huge event', () => {
    const rt = new Runtime();
    const ring = ringMap(rt);
    const sample = ring.reserve(8);
    ring.commit(sample, false, 0);
    rt.space.view.setUint32(sample - RINGBUF_HDR_SZ, 0xffffff, true);
    expect(() => ring.drain(() => {})).toThrow(/corrupt record header at position 0/);
  });
});
