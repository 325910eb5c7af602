// The XDP hook: a packet in a frame with 256 bytes of headroom, an `xdp_md` context holding the linear
// addresses of data/data_end/data_meta, the program's verdict, and the packet as the program left it.
// Frames are laid out as the kernel's BPF_PROG_TEST_RUN lays them out (one 4 KiB page: headroom, data,
// and room for skb_shared_info at the end), so adjust_head/tail limits match the kernel's.

import type { Runner } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import type { Invocation } from '../helpers/types.js';
import { Class, JmpOp, Source } from '../isa/index.js';
import type { Region } from '../memory/address-space.js';
import type { Link, LinkInfo } from '../spec/link.js';
import { XDP_MD, XDP_MD_OFFSETS } from '../spec/program-types.js';
import type { PreparedProgram } from '../vm/program.js';
import type { Runtime } from '../vm/runtime.js';

// The verdicts' numbers and names are the vocabulary's (src/spec/verdicts.ts); re-exported for hook users.
export { XDP_ACTION_NAMES, XdpAction, xdpActionName } from '../spec/verdicts.js';

export const XDP_HEADROOM = 256;
/** The frame is one page; its end is reserved for skb_shared_info (320 bytes on x86-64). */
export const XDP_FRAME_SIZE = 4096;
export const XDP_TAILROOM = 320;
/** Largest packet that fits a frame (the kernel's test-run limit without fragments). */
export const XDP_MAX_PACKET = XDP_FRAME_SIZE - XDP_HEADROOM - XDP_TAILROOM;
/** Alignment of frames (the packet data follows a 256-byte headroom, so it starts a line too). */
const CACHE_LINE = 64;
/** ifindex of the loopback device, which the kernel's test run uses as the receiving interface. */
export const LOOPBACK_IFINDEX = 1;

/** Options of one XDP run: the receiving interface and queue the context reports. */
export interface XdpRunOptions {
  ingressIfindex?: number;
  rxQueueIndex?: number;
}

/** What an XDP run gives: the verdict and the packet after the run. */
export interface XdpResult {
  /** r0, the verdict (low 32 bits, as the kernel's retval). */
  verdict: number;
  /** The packet from data to data_end after the run. */
  data: Uint8Array;
  /** Whether the program changed the packet's bytes, start or length. */
  changed: boolean;
  /** Target of XDP_REDIRECT (bpf_redirect / bpf_redirect_map). */
  redirect?: Invocation['redirect'];
}

/**
 * One frame and its xdp_md context in the runtime's memory: where a packet is laid out before a run and
 * read back after it. Hooks reuse slots from packet to packet, clearing only what earlier runs wrote.
 */
export class XdpSlot {
  readonly frame: Region;
  readonly ctx: Region;
  /** The packet last loaded (returned as the output when the program did not change it). */
  input: Uint8Array = new Uint8Array(0);
  /** End of the bytes earlier runs wrote in the frame. */
  private dirtyEnd: number;
  /**
   * Whether a run since the last clear may have moved the packet's bounds (see `movesPacketBounds`).
   * Otherwise a program wrote only between data and data_end (the verifier's packet bounds; helpers that
   * write through a packet pointer are held to them too), bytes the next packet overwrites or that nothing
   * can reach (adjust_tail zeroes what it exposes); adjust_head/meta expose the headroom, so only then is
   * the frame cleared.
   */
  touched = true;
  /** ingress_ifindex and rx_queue_index as last written (the program cannot write its context). */
  private ifindex = -1;
  private rxQueue = -1;

  /** `ctx`: a context allocated by the caller (a batch keeps its contexts side by side, in few cache lines). */
  constructor(
    private readonly runtime: Runtime,
    ctx?: Region,
  ) {
    const space = runtime.space;
    // Cache-line aligned like the kernel's page frames: the packet's headers start a line.
    this.frame = space.allocate(XDP_FRAME_SIZE - XDP_TAILROOM, 'packet', 'packet', true, CACHE_LINE);
    this.ctx = ctx ?? space.allocate(XDP_MD.size, 'ctx', 'xdp_md context', false);
    this.dirtyEnd = this.frame.base + this.frame.capacity;
  }

  release(): void {
    this.runtime.space.release(this.frame);
    this.runtime.space.release(this.ctx);
  }

  /** Lay out `packet` at the headroom of a clean frame and write the context (real addresses). */
  load(packet: Uint8Array, options: XdpRunOptions = {}): void {
    if (packet.length > XDP_MAX_PACKET) {
      throw new TsbpfError(
        `packet of ${packet.length} bytes exceeds the XDP frame limit of ${XDP_MAX_PACKET} bytes`,
      );
    }
    const space = this.runtime.space;
    const frame = this.frame;
    const data = frame.base + XDP_HEADROOM;
    const bytes = space.bytes;
    const end = data + packet.length;
    // Growing the tail (adjust_tail) may have written past the last packet: that counts as written too.
    const dirty = Math.max(this.dirtyEnd, frame.end);
    // Fresh frame contents as the kernel's (zeroed) test-run page: clear what earlier runs may have left
    // outside the bytes the packet now covers.
    if (this.touched) {
      bytes.fill(0, frame.base, data);
      if (dirty > end) bytes.fill(0, end, dirty);
      this.dirtyEnd = end;
      this.touched = false;
    } else this.dirtyEnd = Math.max(dirty, end);
    bytes.set(packet, data);
    frame.start = data;
    frame.end = end;
    this.input = packet;
    const v = space.view;
    const at = this.ctx.start;
    v.setUint32(at + XDP_MD_OFFSETS.data, data, true);
    v.setUint32(at + XDP_MD_OFFSETS.data_end, end, true);
    v.setUint32(at + XDP_MD_OFFSETS.data_meta, data, true);
    const ifindex = options.ingressIfindex ?? LOOPBACK_IFINDEX;
    const rxQueue = options.rxQueueIndex ?? 0;
    if (ifindex !== this.ifindex || rxQueue !== this.rxQueue) {
      v.setUint32(at + XDP_MD_OFFSETS.ingress_ifindex, ifindex, true);
      v.setUint32(at + XDP_MD_OFFSETS.rx_queue_index, rxQueue, true);
      v.setUint32(at + XDP_MD_OFFSETS.egress_ifindex, 0, true);
      this.ifindex = ifindex;
      this.rxQueue = rxQueue;
    }
  }

  /** After a run: the packet as the program left it (copied out only when it changed). */
  result(verdict: number, redirect: Invocation['redirect']): XdpResult {
    const space = this.runtime.space;
    const bytes = space.bytes;
    const start = this.frame.start;
    const len = this.frame.end - start;
    const changed =
      start !== this.frame.base + XDP_HEADROOM || !sameBytes(bytes, space.words, start, this.input, len);
    const result: XdpResult = {
      verdict,
      data: changed ? bytes.slice(start, start + len) : this.input,
      changed,
    };
    if (redirect) result.redirect = redirect;
    return result;
  }

  /**
   * After a run: the packet as the program left it, as a view of the frame (no comparison, no copy); valid
   * until the slot is loaded again.
   */
  output(): Uint8Array {
    // The constructor on the memory's buffer makes a view for half the cost of subarray.
    return new Uint8Array(this.runtime.space.buffer, this.frame.start, this.frame.end - this.frame.start);
  }
}

/** Runs one XDP program over packets, one at a time, reusing one frame and one context. A Link. */
export class XdpHook implements Link {
  private readonly slot: XdpSlot;
  private readonly invocation: Partial<Invocation>;
  /** Whether runs may move the packet's bounds (then the frame is cleared before the next packet). */
  private readonly moves: boolean;
  readonly runtime: Runtime;

  constructor(readonly runner: Runner) {
    checkXdp(runner);
    this.runtime = runner.runtime;
    this.moves = movesPacketBounds(runner.program);
    this.slot = new XdpSlot(this.runtime);
    this.invocation = { packet: this.slot.frame, programType: 'xdp' };
  }

  /** The frame and context (e.g. to run the program many times on them, as test runs do). */
  get frame(): XdpSlot {
    return this.slot;
  }

  /** Release the frame and context. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.release();
  }

  private closed = false;

  /** As close(): a hook runs only the packets it is given, so detaching is letting it go. */
  detach(): void {
    this.close();
  }

  info(): LinkInfo {
    return {
      kind: 'xdp',
      program: this.runner.program.name,
      target: 'packets given to run()',
      backend: 'userspace',
    };
  }

  run(packet: Uint8Array, options: XdpRunOptions = {}): XdpResult {
    this.slot.load(packet, options);
    return this.rerun();
  }

  /** Run again on the frame as the last run left it (the kernel's test-run repeats do not reset it). */
  rerun(): XdpResult {
    let verdict: number;
    if (this.moves) this.slot.touched = true;
    // Engines skip beginning an invocation for programs that cannot call helpers: do not report a
    // redirect an earlier run left in the runtime's last invocation.
    this.runtime.invocation.redirect = undefined;
    this.runtime.invocationDefaults = this.invocation;
    try {
      verdict = this.runner.run32(this.slot.ctx.start);
    } finally {
      this.runtime.invocationDefaults = {};
    }
    return this.slot.result(verdict, this.runtime.invocation.redirect);
  }
}

/** Hooks run only XDP programs (or untyped instruction arrays). */
export function checkXdp(runner: Runner): void {
  const type = runner.program.type;
  if (type && type !== 'xdp') {
    throw new TsbpfError(`program '${runner.program.name}' is a ${type} program, not xdp`);
  }
}

/**
 * Whether runs of a program may move its packet's bounds, which only helpers do (adjust_head, adjust_meta,
 * adjust_tail: `changesPacket` in their prototypes): it calls one, calls helpers by a register (callx), or
 * tail-calls (the target may).
 */
export function movesPacketBounds(prog: PreparedProgram): boolean {
  const code = prog.code;
  for (let p = 0; p < code.length; p += 4) {
    const op = code[p]! & 0xff;
    if (op === (Class.JMP | JmpOp.CALL | Source.X)) return true;
    if (op === (Class.JMP | JmpOp.CALL) && ((code[p]! >> 8) & 0xff) === 0) {
      const helper = prog.helpers[code[p + 2]!];
      if (!helper || helper.proto.changesPacket || helper.name === 'tail_call') return true;
    }
  }
  return false;
}

/** Scratch the input is copied to (4-byte aligned) so that comparisons run on 32-bit words. */
let scratch = new Int32Array(1024);
let scratchBytes = new Uint8Array(scratch.buffer);

/** Whether `len` bytes of memory at `at` equal `b` (of that length); `words` is the memory as words. */
export function sameBytes(
  memory: Uint8Array,
  words: Int32Array,
  at: number,
  b: Uint8Array,
  len: number,
): boolean {
  if (len !== b.length) return false;
  if (at & 3) {
    for (let i = 0; i < len; i++) if (memory[at + i] !== b[i]) return false;
    return true;
  }
  const n = len >> 2;
  if (scratch.length <= n) {
    scratch = new Int32Array(n + 1);
    scratchBytes = new Uint8Array(scratch.buffer);
  }
  scratchBytes.set(b);
  // Locals, not the module's variables, in the loop: a third faster.
  const x = words;
  const y = scratch;
  const w = at >> 2;
  for (let i = 0; i < n; i++) if (x[w + i] !== y[i]) return false;
  for (let i = n << 2; i < len; i++) if (memory[at + i] !== b[i]) return false;
  return true;
}
