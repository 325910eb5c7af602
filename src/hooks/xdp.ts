// The XDP hook: a packet in a frame with 256 bytes of headroom, an `xdp_md` context holding the linear
// addresses of data/data_end/data_meta, the program's verdict, and the packet as the program left it.
// Frames are laid out as the kernel's BPF_PROG_TEST_RUN lays them out (one 4 KiB page: headroom, data,
// and room for skb_shared_info at the end), so adjust_head/tail limits match the kernel's.

import { TsbpfError } from '../errors.js';
import type { Invocation } from '../helpers/types.js';
import type { Region } from '../vm/memory.js';
import type { Runtime } from '../vm/runtime.js';
import { XDP_MD, XDP_MD_OFFSETS } from './program-types.js';
import type { Runner } from './runner.js';

/** XDP verdicts (enum xdp_action). */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export const XDP_ACTION_NAMES = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'] as const;

export const XDP_HEADROOM = 256;
/** The frame is one page; its end is reserved for skb_shared_info (320 bytes on x86-64). */
export const XDP_FRAME_SIZE = 4096;
export const XDP_TAILROOM = 320;
/** Largest packet that fits a frame (the kernel's test-run limit without fragments). */
export const XDP_MAX_PACKET = XDP_FRAME_SIZE - XDP_HEADROOM - XDP_TAILROOM;
/** ifindex of the loopback device, which the kernel's test run uses as the receiving interface. */
export const LOOPBACK_IFINDEX = 1;

export function xdpActionName(verdict: number): string {
  return XDP_ACTION_NAMES[verdict] ?? `UNKNOWN(${verdict})`;
}

export interface XdpRunOptions {
  ingressIfindex?: number;
  rxQueueIndex?: number;
}

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

/** Runs one XDP program over packets, reusing one frame and one context in the runtime's memory. */
export class XdpHook {
  private readonly frame: Region;
  private readonly ctx: Region;
  private input: Uint8Array = new Uint8Array(0);
  /** End of the bytes earlier runs wrote in the frame. */
  private dirtyEnd = 0;
  private readonly invocation: Partial<Invocation>;
  readonly runtime: Runtime;

  constructor(readonly runner: Runner) {
    const type = runner.program.type;
    if (type && type !== 'xdp') {
      throw new TsbpfError(`program '${runner.program.name}' is a ${type} program, not xdp`);
    }
    this.runtime = runner.runtime;
    const space = this.runtime.space;
    this.frame = space.allocate(XDP_FRAME_SIZE - XDP_TAILROOM, 'packet', 'packet');
    this.ctx = space.allocate(XDP_MD.size, 'ctx', 'xdp_md context', false);
    this.invocation = { packet: this.frame, programType: 'xdp' };
    this.dirtyEnd = this.frame.base + this.frame.capacity;
  }

  /** Release the frame and context. */
  close(): void {
    this.runtime.space.release(this.frame);
    this.runtime.space.release(this.ctx);
  }

  run(packet: Uint8Array, options: XdpRunOptions = {}): XdpResult {
    if (packet.length > XDP_MAX_PACKET) {
      throw new TsbpfError(
        `packet of ${packet.length} bytes exceeds the XDP frame limit of ${XDP_MAX_PACKET} bytes`,
      );
    }
    const space = this.runtime.space;
    const data = this.frame.base + XDP_HEADROOM;
    // Fresh frame contents as the kernel's (zeroed) test-run page: clear what the last run may have left.
    space.bytes.fill(0, this.frame.base, Math.max(this.dirtyEnd, data));
    space.write(data, packet);
    this.dirtyEnd = data + packet.length;
    this.frame.start = data;
    this.frame.end = data + packet.length;
    this.writeContext(options);
    this.input = packet;
    return this.rerun();
  }

  /** Run again on the frame as the last run left it (the kernel's test-run repeats do not reset it). */
  rerun(): XdpResult {
    const space = this.runtime.space;
    let verdict: number;
    this.runtime.invocationDefaults = this.invocation;
    try {
      verdict = this.runner.run32(this.ctx.start);
    } finally {
      this.runtime.invocationDefaults = {};
    }
    // Growing the tail (adjust_tail) may have written past the packet: remember how far to clear.
    this.dirtyEnd = Math.max(this.dirtyEnd, this.frame.end);
    const start = this.frame.start;
    const len = this.frame.end - start;
    // Copy the packet out only when the program changed it; otherwise the input is the output.
    const changed = start !== this.frame.base + XDP_HEADROOM || !sameBytes(space.bytes, start, this.input, len);
    const out = changed ? space.read(start, len) : this.input;
    const result: XdpResult = { verdict, data: out, changed };
    const redirect = this.runtime.invocation.redirect;
    if (redirect) result.redirect = redirect;
    return result;
  }

  /** The context holds real addresses: a 4-byte load of ctx->data yields the packet pointer. */
  private writeContext(options: XdpRunOptions): void {
    const v = this.runtime.space.view;
    const at = this.ctx.start;
    v.setUint32(at + XDP_MD_OFFSETS.data!, this.frame.start, true);
    v.setUint32(at + XDP_MD_OFFSETS.data_end!, this.frame.end, true);
    v.setUint32(at + XDP_MD_OFFSETS.data_meta!, this.frame.start, true);
    v.setUint32(at + XDP_MD_OFFSETS.ingress_ifindex!, options.ingressIfindex ?? LOOPBACK_IFINDEX, true);
    v.setUint32(at + XDP_MD_OFFSETS.rx_queue_index!, options.rxQueueIndex ?? 0, true);
    v.setUint32(at + XDP_MD_OFFSETS.egress_ifindex!, 0, true);
  }
}

/** Whether `len` bytes of memory at `at` equal `b` (of that length). */
function sameBytes(memory: Uint8Array, at: number, b: Uint8Array, len: number): boolean {
  if (len !== b.length) return false;
  for (let i = 0; i < len; i++) if (memory[at + i] !== b[i]) return false;
  return true;
}
