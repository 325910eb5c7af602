// The engines a differential test compares. The kernel (BPF_PROG_TEST_RUN) is the reference; every other
// engine runs the same generated XDP program on the same packet and must produce the same dump.
// Adding an engine is one entry in `ENGINES`.

import { compile } from '../../src/jit/index.js';
import * as kernel from '../../src/kernel/index.js';
import { Interpreter, type PreparedProgram, Runtime } from '../../src/vm/index.js';
import { type Dump, type GeneratedProgram, readDump, testPacket } from '../support/gen.js';

export interface Engine {
  readonly name: string;
  /** Compare only every n-th program (engines that are slow to set up per program); default 1. */
  readonly every?: number;
  /** Run the program on a copy of `testPacket()` and read the dump back. */
  run(program: GeneratedProgram): Dump;
}

/** The Linux kernel: load, test-run once, close. Throws VerifierRejectedError for refused programs. */
export const kernelEngine: Engine = {
  name: 'kernel',
  run(program) {
    const { fd } = kernel.progLoad({
      type: kernel.ProgType.XDP,
      insns: program.insns,
      license: 'GPL',
      name: `gen_${program.seed}`,
    });
    try {
      const packet = testPacket();
      const out = kernel.progTestRun(fd, { data: packet, dataOutSize: packet.length });
      return readDump(out.retval, out.data);
    } finally {
      kernel.close(fd);
    }
  },
};

/** struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex (u32 each). */
const XDP_MD_SIZE = 24;

/** Runs a prepared program with r1 = ctx and returns r0. */
type Runner = (runtime: Runtime, program: PreparedProgram, ctx: number) => bigint;

/**
 * A user-space engine: r1 points at an `xdp_md` whose data/data_end are the linear addresses of a packet
 * region in the runtime's address space (as the XDP hook lays them out); the packet is read back after.
 */
function userSpace(name: string, runner: Runner, every = 1): Engine {
  const runtime = new Runtime();
  return {
    name,
    every,
    run(program) {
      const space = runtime.space;
      const data = testPacket();
      const packet = space.allocate(data.length, 'packet', 'packet');
      const ctx = space.allocate(XDP_MD_SIZE, 'ctx', 'xdp_md', false);
      try {
        space.write(packet.start, data);
        space.view.setUint32(ctx.start, packet.start, true);
        space.view.setUint32(ctx.start + 4, packet.end, true);
        space.view.setUint32(ctx.start + 8, packet.start, true);
        const r0 = runner(runtime, runtime.prepare(program.insns), ctx.start);
        return readDump(Number(r0 & 0xffffffffn), space.read(packet.start, data.length));
      } finally {
        space.release(ctx);
        space.release(packet);
      }
    },
  };
}

/** Engines compared with the kernel: one line each. */
export const ENGINES: Engine[] = [
  userSpace('interpreter', (rt, p, ctx) => new Interpreter(rt).run(p, { args: [ctx] }).r0),
  userSpace('jit', (rt, p, ctx) => compile(p, rt).run(ctx)),
  // the checked JIT shares the code generator with the plain one: a quarter of the programs keeps it fast
  userSpace('jit-checked', (rt, p, ctx) => compile(p, rt, { checked: true }).run(ctx), 4),
];
