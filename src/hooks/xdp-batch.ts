// Batch XDP, the NAPI-budget idea: up to `size` packets are laid out in a pool of frames (each with its
// xdp_md context) and the program runs over all of them in one call of the engine's batch entry. On the
// JIT that is one wasm loop: a run's invocation is begun (and pointed at its frame, so packet helpers —
// adjust_head/tail, redirect, load/store bytes — act on the right packet) only when the run first calls a
// helper. The interpreter loops in JS. Results are those of running the packets one by one.

import type { Runner } from '../engine/runner.js';
import type { Invocation } from '../helpers/types.js';
import { Class, JmpOp, Source } from '../isa/index.js';
import type { Region } from '../memory/address-space.js';
import { XDP_MD } from '../spec/program-types.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';
import { checkXdp, movesPacketBounds, type XdpResult, type XdpRunOptions, XdpSlot } from './xdp.js';

/** Frames per batch by default (a NAPI poll handles up to 64; more amortises the call into the engine). */
export const XDP_BATCH_SIZE = 256;

/** Runs one XDP program over batches of packets. */
export class XdpBatch {
  readonly runtime: Runtime;
  private readonly slots: XdpSlot[] = [];
  /** u32 context addresses, one per slot: the engine's batch input. */
  private readonly ctxTable: Region;
  /** u32 verdicts, one per slot: the engine's batch output. */
  private readonly verdicts: Region;
  /** The invocation each run of the last batch had (for its redirect target). */
  private readonly invocations: (Invocation | undefined)[];
  /** Whether runs need their invocation pointed at their packet (the program calls helpers). */
  private readonly perPacket: boolean;
  /** Whether runs may move their packet's bounds (then a frame is cleared before its next packet). */
  private readonly moves: boolean;
  private count = 0;
  private each: ((i: number) => void) | undefined;
  private readonly before = (i: number): void => {
    const inv = this.runtime.invocation;
    const slot = this.slots[i]!;
    if (this.moves) slot.touched = true;
    inv.packet = slot.frame;
    inv.programType = 'xdp';
    this.invocations[i] = inv;
    this.each?.(i);
  };

  constructor(
    readonly runner: Runner,
    readonly size = XDP_BATCH_SIZE,
  ) {
    checkXdp(runner);
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be positive, got ${size}`);
    this.runtime = runner.runtime;
    const space = this.runtime.space;
    this.ctxTable = space.allocate(4 * size, 'scratch', 'xdp batch contexts', false);
    this.verdicts = space.allocate(4 * size, 'scratch', 'xdp batch verdicts', false);
    // Contexts first, side by side (24 bytes each), then the frames: the working set of a batch is a
    // line per packet plus a line per 2.7 contexts, not a line for each context.
    const contexts = Array.from({ length: size }, () =>
      space.allocate(XDP_MD.size, 'ctx', 'xdp_md context', false),
    );
    for (let i = 0; i < size; i++) {
      const slot = new XdpSlot(this.runtime, contexts[i]);
      this.slots.push(slot);
      space.view.setUint32(this.ctxTable.start + 4 * i, slot.ctx.start, true);
    }
    this.invocations = new Array(size).fill(undefined);
    this.perPacket = usesInvocation(runner.program);
    this.moves = movesPacketBounds(runner.program);
  }

  /** Release the frames, contexts and tables. */
  close(): void {
    for (const slot of this.slots) slot.release();
    this.runtime.space.release(this.ctxTable);
    this.runtime.space.release(this.verdicts);
  }

  /**
   * Run the program over `packets[from …]`, at most `size` of them; returns how many ran. Per-packet
   * results are then read with `verdict(i)` / `result(i)` (i from 0). `each(i)` is called just before
   * run i (after runs 0..i-1 finished), e.g. to drain ring buffers in packet order.
   */
  run(
    packets: readonly Uint8Array[],
    from = 0,
    options: XdpRunOptions = {},
    each?: (i: number) => void,
  ): number {
    const n = Math.max(0, Math.min(this.size, packets.length - from));
    for (let i = 0; i < n; i++) this.slots[i]!.load(packets[from + i]!, options);
    this.runLoaded(n, each);
    return n;
  }

  /**
   * `run` over packets given as ranges of one array (a CaptureBatch's `bytes`, `offset` and `length`),
   * without a packet object per packet; at most `size` of them from index `from`. Returns how many ran.
   */
  runRanges(
    bytes: Uint8Array,
    offsets: ArrayLike<number>,
    lengths: ArrayLike<number>,
    count: number,
    from = 0,
    options: XdpRunOptions = {},
    each?: (i: number) => void,
  ): number {
    const n = Math.max(0, Math.min(this.size, count - from));
    const buffer = bytes.buffer;
    const base = bytes.byteOffset;
    for (let i = 0; i < n; i++) {
      const k = from + i;
      // The constructor makes a view for half the cost of subarray.
      this.slots[i]!.load(new Uint8Array(buffer, base + offsets[k]!, lengths[k]!), options);
    }
    this.runLoaded(n, each);
    return n;
  }

  /** Run over the first `n` frames as they are now (loaded, or left by the last batch). */
  runLoaded(n: number, each?: (i: number) => void): void {
    if (n > this.size) throw new RangeError(`batch of ${n} exceeds the pool of ${this.size} frames`);
    this.count = n;
    this.each = each;
    this.invocations.fill(undefined, 0, n);
    this.runner.runBatch(
      this.ctxTable.start,
      n,
      this.verdicts.start,
      this.perPacket || each ? this.before : undefined,
    );
    this.each = undefined;
  }

  /** Verdict of run i of the last batch (r0, low 32 bits). */
  verdict(i: number): number {
    this.checkIndex(i);
    return this.runtime.space.view.getUint32(this.verdicts.start + 4 * i, true);
  }

  /** Verdict, packet and redirect target of run i of the last batch. */
  result(i: number): XdpResult {
    return this.slots[i]!.result(this.verdict(i), this.invocations[i]?.redirect);
  }

  /**
   * Packet of run i of the last batch as the program left it: a view of its frame, valid until the next
   * batch (no comparison with the input, no copy: for writing it out).
   */
  output(i: number): Uint8Array {
    this.checkIndex(i);
    return this.slots[i]!.output();
  }

  private checkIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) {
      throw new RangeError(`no packet ${i} in the last batch (it ran ${this.count})`);
    }
  }
}

/** Whether a program can observe its invocation: helper calls, callx, legacy packet loads (LD_ABS/IND). */
function usesInvocation(prog: PreparedProgram): boolean {
  const code = prog.code;
  for (let p = 0; p < code.length; p += 4) {
    const op = code[p]! & 0xff;
    if (op === (Class.JMP | JmpOp.CALL) && ((code[p]! >> 8) & 0xff) === 0) return true;
    if (op === (Class.JMP | JmpOp.CALL | Source.X)) return true;
    if ((op & 0x07) === Class.LD && op !== 0x18) return true;
  }
  return false;
}
