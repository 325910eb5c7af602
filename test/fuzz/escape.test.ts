// Checked mode as a sandbox (src/vm/sandbox.ts): random *unverified* programs run checked on both engines,
// as an XDP batch and as single runs, and their stores aim at everything — their own packet, stack,
// context and maps, the neighbour packets of their batch, another CPU's stack, other objects' maps and
// ring buffers by raw address, ring-buffer record headers, the runtime's own bookkeeping, unmapped memory
// and the edges of every region — directly, through atomics, and through helpers given pointers to
// elsewhere (and callbacks, tail calls and packet adjustments). A run may fault; that is fine. What may
// not happen: a byte changed outside what the run was given. Each run is checked by comparing all of the
// address space's memory before and after, outside the regions the run owns; ring buffers it was given must
// still drain (every record header is the helpers' doing).

import { describe, expect, it } from 'vitest';
import { disassemble } from '../../src/asm/index.js';
import { createRunner, ENGINES } from '../../src/engine/runner.js';
import { RuntimeFault, TsbpfError } from '../../src/errors.js';
import { HELPERS } from '../../src/helpers/registry.js';
import { currentTask } from '../../src/helpers/task-model.js';
import type { XdpSlot } from '../../src/hooks/xdp.js';
import { XdpBatch } from '../../src/hooks/xdp-batch.js';
import {
  AluOp,
  AtomicOp,
  Class,
  type Insn,
  insn,
  JmpOp,
  lddw,
  Mode,
  PseudoCall,
  PseudoLddw,
  Size,
  Source,
} from '../../src/isa/index.js';
import type { FdArrayMap } from '../../src/maps/fdarray.js';
import { createMap } from '../../src/maps/registry.js';
import type { RingBufMap } from '../../src/maps/ringbuf.js';
import type { RuntimeMap } from '../../src/maps/types.js';
import { AddressSpace, type Region } from '../../src/memory/address-space.js';
import { type MapSpec, MapType } from '../../src/spec/maps.js';
import { loadInput } from '../../src/vm/input.js';
import type { PreparedProgram } from '../../src/vm/program.js';
import { Runtime } from '../../src/vm/runtime.js';
import { check, describeThrown, fuzzTarget, printNow, type Rng } from './harness.js';

const spec = (
  name: string,
  type: number,
  keySize: number,
  valueSize: number,
  maxEntries: number,
): MapSpec => ({
  name,
  type,
  keySize,
  valueSize,
  maxEntries,
  flags: 0,
});
/** The program's own maps, in map_fd order. */
const MINE = [
  spec('mine', MapType.ARRAY, 4, 16, 4),
  spec('mine_hash', MapType.HASH, 4, 8, 8),
  spec('mine_ring', MapType.RINGBUF, 0, 0, 4096),
  spec('mine_jumps', MapType.PROG_ARRAY, 4, 4, 2),
];
/** Another object's maps: in the same runtime, never given to the program. */
const OTHERS = [
  spec('other', MapType.ARRAY, 4, 16, 4),
  spec('other_hash', MapType.HASH, 4, 8, 8),
  spec('other_ring', MapType.RINGBUF, 0, 0, 4096),
  spec('other_lock', MapType.ARRAY, 4, 8, 1),
];
const BATCH = 4;
/** Runtime bookkeeping the engines write during a run (counters, tables), named as they allocate it. */
const BOOKKEEPING = new Set([
  'iteration count',
  'tail-call count',
  'tail-call targets',
  'warm-up batch',
  'batch run index',
]);

/** Every live region, in address order (walked through the public lookup). */
function regions(space: AddressSpace): Region[] {
  const out: Region[] = [];
  for (let r = space.regionBefore(0xffffffff); r; r = r.base > 0 ? space.regionBefore(r.base - 1) : undefined)
    out.push(r);
  return out.reverse();
}

/** The world one program runs in: its maps, other objects' maps and packets, a second CPU. */
class World {
  readonly rt = new Runtime({ space: new AddressSpace(4 * 1024 * 1024), cpus: 2 });
  readonly mine: RuntimeMap[];
  readonly others: RuntimeMap[];
  /** Another object's batch: packets and contexts that are not the program's. */
  readonly foreign: XdpBatch;
  /** Interesting addresses that are not the program's (for lddw). */
  readonly targets: number[] = [];

  constructor() {
    const rt = this.rt;
    this.mine = MINE.map((s) => createMap(rt.space, s, { cpus: 2 }));
    this.others = OTHERS.map((s) => createMap(rt.space, s, { cpus: 2 }));
    for (const m of this.others) rt.registerMap(m);
    const key = new Uint8Array(4);
    for (const m of [...this.mine, ...this.others]) {
      if (m.spec.type === MapType.ARRAY || m.spec.type === MapType.HASH)
        m.update(key, new Uint8Array(m.spec.valueSize).fill(0x5a));
    }
    (this.others[2] as RingBufMap).reserve(8); // a record the other object holds
    const other = rt.prepare(
      { name: 'other', section: 'xdp', type: 'xdp', insns: RET, license: 'GPL' },
      this.others,
    );
    this.foreign = new XdpBatch(createRunner(rt, other, { engine: 'interp', checked: true }), 2);
    this.foreign.run([new Uint8Array(64).fill(0xee), new Uint8Array(64).fill(0xef)]);
    rt.stackFrames(1); // the second CPU's stack
    // The modelled task (get_current_task) exists before any run, as the kernel's does: a run's helper
    // call rewrites the same values, so any byte of it that changes is the program's doing.
    this.targets.push(currentTask(rt));
  }

  /** Addresses of everything in the address space now: region starts, ends, middles and edges. */
  refreshTargets(): void {
    this.targets.length = 0;
    for (const r of regions(this.rt.space)) {
      this.targets.push(
        r.base,
        r.start,
        r.end,
        r.end - 8,
        r.start - 8,
        r.base + r.capacity,
        r.start + (r.end - r.start) / 2,
      );
    }
    this.targets.push(0, 8, 0x10000 - 8, this.rt.space.memory.buffer.byteLength - 8, 0xfffffff8);
  }
}

const RET = [insn(Class.ALU64 | AluOp.MOV | Source.K, 0, 0, 0, 2), insn(Class.JMP | JmpOp.EXIT)];
const SIZES = [Size.B, Size.H, Size.W, Size.DW] as const;
const HELPER_IDS = [...HELPERS.keys()];
const OFFS = [0, 0, 0, 1, -1, 4, -4, 8, -8, 16, 64, -64, 255, 256, -256, 512, -512, 3776, 4096, -4096];
const mov = (dst: number, src: number) => insn(Class.ALU64 | AluOp.MOV | Source.X, dst, src);
const movK = (dst: number, imm: number) => insn(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm);
const addK = (dst: number, imm: number) => insn(Class.ALU64 | AluOp.ADD | Source.K, dst, 0, 0, imm);
const call = (id: number) => insn(Class.JMP | JmpOp.CALL, 0, PseudoCall.HELPER, 0, id);
const mapFd = (dst: number, index: number) => lddw(dst, BigInt(index), PseudoLddw.MAP_FD);

/**
 * A program of random steps. r6 keeps the context; r7-r9 hold pointers (callee-saved, so they survive
 * helper calls); a callback subprogram follows the main function (bpf_loop, for_each_map_elem).
 */
function program(r: Rng, world: World): { insns: Insn[]; callback: number } {
  const out: Insn[] = [mov(6, 1)];
  const funcRefs: number[] = [];
  const ptr = () => 7 + r.int(3);
  const target = () => BigInt(r.pick(world.targets) + r.pick(OFFS));
  // Half the pointers are the run's own (so runs get past their first store), half aim elsewhere.
  const near = () => (r.chance(0.5) ? 0 : r.pick(OFFS));
  const setPointer = (dst: number) => {
    switch (r.int(10)) {
      case 0:
      case 1:
        out.push(...lddw(dst, target()));
        break;
      case 2:
      case 3:
        out.push(mov(dst, 10), addK(dst, r.chance(0.8) ? -8 * (1 + r.int(64)) : r.pick(OFFS)));
        break;
      case 4:
      case 5:
        // ctx->data, data_end or data_meta, moved: its own packet, the headroom, a neighbour frame.
        out.push(insn(Class.LDX | Mode.MEM | Size.W, dst, 6, 0, r.pick([0, 0, 4, 8])), addK(dst, near()));
        break;
      case 6:
        out.push(mov(dst, 6), addK(dst, r.pick(OFFS)));
        break;
      case 7:
      case 8: {
        // A value of one of its maps (lookup of key 0..3), moved.
        out.push(
          insn(Class.ST | Mode.MEM | Size.W, 10, 0, -4, r.int(4)),
          ...mapFd(1, r.int(2)),
          mov(2, 10),
          addK(2, -4),
          call(1),
          mov(dst, 0),
          addK(dst, near()),
        );
        break;
      }
      case 9:
        // A ring-buffer sample of its ring (or NULL), moved: headers sit 8 bytes before it.
        out.push(...mapFd(1, 2), movK(2, r.pick([8, 16, 64, 4000])), movK(3, 0), call(131), mov(dst, 0));
        out.push(addK(dst, r.pick([0, 0, -8, -4, 8, 16, -16])));
        break;
    }
  };
  const store = () => {
    const p = ptr();
    const size = r.pick(SIZES);
    const off = r.chance(0.7) ? 0 : r.pick([1, -1, 2, 4, -4, 8, -8, 16, 0x7fff, -0x8000]);
    const roll = r.int(4);
    if (roll === 0) out.push(insn(Class.ST | Mode.MEM | size, p, 0, off, r.u32() | 0));
    else if (roll === 1) out.push(insn(Class.STX | Mode.MEM | size, p, r.pick([0, 1, 6, 7, 8, 9]), off));
    else {
      const op = r.pick([
        AtomicOp.ADD,
        AtomicOp.OR,
        AtomicOp.AND | AtomicOp.FETCH,
        AtomicOp.XOR,
        AtomicOp.XCHG,
        AtomicOp.CMPXCHG,
      ]);
      out.push(
        movK(0, r.int(3)),
        insn(Class.STX | Mode.ATOMIC | r.pick([Size.W, Size.DW]), p, r.pick([1, 6, 8]), off, op),
      );
    }
  };
  const helper = () => {
    const id = r.pick(HELPER_IDS);
    const def = HELPERS.get(id)!;
    def.proto.args.forEach((kind, i) => {
      const reg = i + 1;
      const roll = r.int(6);
      if (kind === 'ctx' && r.chance(0.8)) out.push(mov(reg, 6));
      else if (kind === 'const_map_ptr' && r.chance(0.7)) {
        if (r.chance(0.7)) out.push(...mapFd(reg, r.int(MINE.length)));
        else out.push(...lddw(reg, BigInt(r.pick(world.others).addr)));
      } else if (kind === 'func' && r.chance(0.8)) {
        funcRefs.push(out.length);
        out.push(...lddw(reg, 0n, PseudoLddw.FUNC));
      } else if (roll < 2) out.push(mov(reg, ptr()));
      else if (roll === 2) out.push(...lddw(reg, target()));
      else if (roll === 3) out.push(mov(reg, 10), addK(reg, -8 * (1 + r.int(64))));
      else out.push(movK(reg, r.pick([0, 1, 2, 4, 8, 16, 64, 512, 4096, -1, -16])));
    });
    out.push(call(id));
    if (r.chance(0.3)) out.push(mov(ptr(), 0));
  };
  for (let p = 7; p <= 9; p++) setPointer(p);
  const steps = 3 + r.int(14);
  for (let s = 0; s < steps; s++) {
    const roll = r.int(10);
    if (roll < 3) setPointer(ptr());
    else if (roll < 7) store();
    else if (roll < 9) helper();
    else {
      // A conditional jump forward over a little, or (rarely) back to the start: the budget stops loops.
      const back = r.chance(0.1);
      out.push(
        insn(
          Class.JMP | JmpOp.JGT | Source.K,
          r.pick([0, 7]),
          0,
          back ? -out.length - 1 : 1 + r.int(3),
          r.int(8),
        ),
      );
      if (!back) out.push(movK(0, 1), movK(0, 2), movK(0, 3));
    }
  }
  if (r.chance(0.15)) {
    // A tail call into itself (its prog array holds it at index 0): the same stores, again.
    out.push(mov(1, 6), ...mapFd(2, 3), movK(3, 0), call(12));
  }
  out.push(movK(0, r.int(5)), insn(Class.JMP | JmpOp.EXIT));
  // The callback: stores through its context argument (r2) and elsewhere, then continue or stop.
  const callback = out.length;
  for (let k = 0; k < 1 + r.int(3); k++) {
    const size = r.pick(SIZES);
    out.push(
      insn(Class.ST | Mode.MEM | size, r.chance(0.6) ? 2 : 10, 0, r.chance(0.6) ? 0 : -8, r.u32() | 0),
    );
  }
  out.push(movK(0, r.int(2)), insn(Class.JMP | JmpOp.EXIT));
  for (const at of funcRefs) out[at] = { ...out[at]!, imm: callback - (at + 1) };
  // Jumps that land past the end or inside lddw are refused by checkProgram: keep them inside.
  return { insns: out, callback };
}

/** [lo, hi) ranges the run may change: its stack, its frames and contexts, its maps, the engines' books. */
function allowed(
  world: World,
  slots: readonly XdpSlot[],
  active: number,
  verdicts: Region | undefined,
): [number, number][] {
  const rt = world.rt;
  const out: [number, number][] = [];
  const add = (r: Region) => out.push([r.base, r.base + r.capacity]);
  for (const f of rt.stackFrames(0)) add(f);
  for (let i = 0; i < active; i++) {
    add(slots[i]!.frame);
    add(slots[i]!.ctx);
  }
  if (verdicts) add(verdicts);
  for (const r of regions(rt.space)) {
    if (r.owner && world.mine.includes(r.owner as RuntimeMap)) add(r);
    else if (BOOKKEEPING.has(r.name)) add(r);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** Bytes that changed outside `ok`, as ranges named by the region they fall in. */
function escapes(world: World, before: Uint8Array, ok: [number, number][]): string[] {
  const after = world.rt.space.bytes;
  const found: string[] = [];
  const compare = (lo: number, hi: number) => {
    if (hi <= lo) return;
    const a = Buffer.from(before.buffer, before.byteOffset + lo, hi - lo);
    const b = Buffer.from(after.buffer, after.byteOffset + lo, hi - lo);
    if (a.equals(b)) return;
    for (let i = lo; i < hi && found.length < 8; i++) {
      if (before[i] === after[i]) continue;
      let j = i;
      while (j < hi && before[j] !== after[j]) j++;
      const r = world.rt.space.regionBefore(i);
      const where =
        r && i < r.base + r.capacity ? `${r.name} (${r.kind}) +${i - r.base}` : 'unallocated memory';
      found.push(`0x${i.toString(16)}..0x${j.toString(16)} in ${where}`);
      i = j;
    }
  };
  let at = 0;
  for (const [lo, hi] of ok) {
    compare(at, lo);
    at = Math.max(at, hi);
  }
  compare(at, Math.min(before.length, after.length));
  return found;
}

const slotsOf = (b: XdpBatch) => (b as unknown as { slots: XdpSlot[] }).slots;
const verdictsOf = (b: XdpBatch) => (b as unknown as { verdicts: Region }).verdicts;

fuzzTarget(
  'escape',
  {
    seconds: 8,
    cpuMsPerInput: 10_000,
    after: (counts) => {
      check((counts.faulted ?? 0) > 0 && (counts.finished ?? 0) > 0, 'runs should both fault and finish');
    },
  },
  ({ r, verbose, count }) => {
    // A fresh world per iteration: what an iteration meets depends on its seed alone (replays find it).
    const world = new World();
    world.refreshTargets();
    const { insns } = program(r, world);
    const listing = () =>
      disassemble(insns)
        .map((l, i) => `  ${i}: ${l}`)
        .join('\n');
    if (verbose) printNow(`escape program:\n${listing()}`);
    const rt = world.rt;
    let prog: PreparedProgram;
    try {
      prog = rt.prepare({ name: 'fuzz', section: 'xdp', type: 'xdp', insns, license: 'GPL' }, world.mine);
    } catch (e) {
      check(e instanceof TsbpfError, () => `prepare threw ${describeThrown(e)}\n${listing()}`);
      count('refused by prepare');
      return;
    }
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, rt.registerProgram(prog), true);
    (world.mine[3] as FdArrayMap).update(new Uint8Array(4), id);
    for (const engine of ENGINES) {
      // As an XDP batch (the engines' batch entry), as one run on a frame, or on input memory as
      // `tsbpf run` and the conformance plugin give it (r1 = the memory).
      const roll = r.int(20);
      const mode = roll < 12 ? 'batch' : roll < 17 ? 'single' : 'input';
      const runner = createRunner(rt, prog, { engine, checked: true, budget: 20_000 });
      const batch = new XdpBatch(runner, BATCH);
      try {
        const active = mode === 'batch' ? 1 + r.int(BATCH) : mode === 'single' ? 1 : 0;
        const packets = Array.from({ length: Math.max(1, active) }, (_, i) =>
          new Uint8Array(14 + r.int(200)).fill(0x10 + i),
        );
        // Every frame holds a packet, so neighbours have bytes to lose; then the run under test.
        const slots = slotsOf(batch);
        for (const slot of slots) slot.load(new Uint8Array(60).fill(0x77));
        if (mode === 'single') slots[0]!.load(packets[0]!);
        const input = mode === 'input' ? loadInput(rt, packets[0]!) : undefined;
        const before = rt.space.bytes.slice();
        const ok = allowed(world, slots, active, verdictsOf(batch));
        if (input) ok.push([input.region.base, input.region.base + input.region.capacity]);
        let outcome: string;
        try {
          if (input) runner.run(input.args[0], input.invocation);
          else if (mode === 'single')
            runner.run(slots[0]!.ctx.start, { packet: slots[0]!.frame, programType: 'xdp' });
          else batch.run(packets);
          outcome = 'finished';
        } catch (e) {
          check(
            e instanceof RuntimeFault,
            () => `[${engine}] the run threw ${describeThrown(e)}\n${listing()}`,
          );
          outcome = 'faulted';
        }
        count(outcome);
        count(`${mode} runs`);
        const bad = escapes(
          world,
          before,
          ok.sort((a, b) => a[0] - b[0]),
        );
        if (input) rt.space.release(input.region);
        check(
          bad.length === 0,
          () =>
            `[${engine}, ${mode === 'batch' ? `batch of ${active}` : `${mode} run`}] ${outcome}, and changed memory it was not given: ${bad.join('; ')}\n${listing()}`,
        );
        // Its ring buffer must still drain: headers are the helpers' to write.
        try {
          (world.mine[2] as RingBufMap).drain(() => {});
        } catch (e) {
          throw new Error(`[${engine}] its ring buffer no longer drains: ${describeThrown(e)}\n${listing()}`);
        }
      } finally {
        batch.close();
      }
    }
  },
);

describe('the escape check', () => {
  it('finds a byte an unchecked run writes into another object’s map, and none when the run is checked', () => {
    for (const checked of [false, true]) {
      const world = new World();
      const rt = world.rt;
      const key = rt.space.allocate(4, 'scratch', 'key');
      const value = world.others[0]!.lookupPtr(key.start, 0);
      rt.space.release(key);
      const insns = [
        ...lddw(1, BigInt(value + 4)),
        insn(Class.ST | Mode.MEM | Size.B, 1, 0, 0, 0x42),
        ...RET,
      ];
      const prog = rt.prepare({ name: 't', section: 'xdp', type: 'xdp', insns, license: 'GPL' }, world.mine);
      const batch = new XdpBatch(createRunner(rt, prog, { engine: 'interp', checked }), BATCH);
      const before = rt.space.bytes.slice();
      const ok = allowed(world, slotsOf(batch), 1, verdictsOf(batch));
      if (checked) expect(() => batch.run([new Uint8Array(60)])).toThrow(RuntimeFault);
      else batch.run([new Uint8Array(60)]);
      const found = escapes(world, before, ok);
      expect(found).toEqual(
        checked
          ? []
          : [
              `0x${(value + 4).toString(16)}..0x${(value + 5).toString(16)} in map other value (map_value) +4`,
            ],
      );
      batch.close();
    }
  });
});
