// bpf_snprintf against the kernel: the same format (in a frozen read-only array map, as the helper
// requires) and arguments give the same return value and the same bytes, compared through the packet the
// program writes the result into (BPF_PROG_TEST_RUN data_out).

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { type Insn, lddw } from '../../src/isa/index.js';
import { createMap, MapType } from '../../src/maps/index.js';
import { Runtime } from '../../src/vm/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const RDONLY_PROG = 0x80;
const packet = new Uint8Array(64);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Arguments: numbers, or strings (placed on the stack at r10-96.., passed by pointer). */
type Arg = bigint | { str: string } | { bytes: number[] };

function program(args: readonly Arg[], fmtRef: Insn[]): Insn[] {
  const lines: string[] = ['r6 = r1'];
  for (let i = 0; i < 4; i++) lines.push(`*(u64 *)(r10 - ${32 - 8 * i}) = 0`);
  args.forEach((a, i) => {
    if (typeof a === 'bigint') {
      lines.push(`r1 = ${BigInt.asUintN(64, a)} ll`);
    } else {
      const bytes = 'str' in a ? [...Buffer.from(`${a.str}\0`, 'latin1')] : a.bytes;
      const at = 96 + 24 * i;
      const padded = new Uint8Array(24);
      padded.set(bytes);
      for (let j = 0; j < 24; j += 8) {
        lines.push(
          `r1 = ${new DataView(padded.buffer).getBigUint64(j, true)} ll`,
          `*(u64 *)(r10 - ${at - j}) = r1`,
        );
      }
      lines.push('r1 = r10', `r1 += -${at}`);
    }
    lines.push(`*(u64 *)(r10 - ${64 - 8 * i}) = r1`);
  });
  lines.push('r1 = r10', 'r1 += -32', 'r2 = 32');
  const head = assemble(lines.join('\n'));
  const tail = assemble(`
    r4 = r10
    r4 += -64
    r5 = ${8 * args.length}
    call 165
    r7 = r0
    r1 = r6
    r2 = 0
    r3 = r10
    r3 += -32
    r4 = 32
    call 190
    r0 = r7
    exit`);
  return [...head, ...fmtRef, ...tail];
}

function fmtValue(fmt: string): Uint8Array {
  const v = new Uint8Array(64);
  v.set(Buffer.from(fmt, 'latin1'));
  return v;
}

async function inKernel(fmt: string, args: readonly Arg[]): Promise<{ retval: number; data: string }> {
  const k = await import('../../src/kernel/syscall.js');
  const map = k.mapCreate({
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: 64,
    maxEntries: 1,
    flags: RDONLY_PROG,
    name: 'fmt',
  });
  try {
    k.mapUpdate(map, new Uint8Array(4), fmtValue(fmt));
    k.mapFreeze(map);
    let fd: number;
    try {
      fd = k.progLoad({ type: 6, insns: program(args, lddw(3, BigInt(map), 2)), license: 'GPL' }).fd;
    } catch (e) {
      // The verifier checks a constant format at load time: an invalid one is -EINVAL before running.
      if (/Invalid format string/.test((e as Error).message)) return { retval: 0xffffffea, data: 'rejected' };
      throw e;
    }
    try {
      const r = k.progTestRun(fd, { data: packet });
      return { retval: r.retval, data: hex(r.data.slice(0, 32)) };
    } finally {
      k.close(fd);
    }
  } finally {
    k.close(map);
  }
}

function ours(fmt: string, args: readonly Arg[]): { retval: number; data: string } {
  const rt = new Runtime();
  const m = createMap(rt.space, {
    name: 'fmt',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: 64,
    maxEntries: 1,
    flags: RDONLY_PROG,
    readonly: true,
  });
  m.update(new Uint8Array(4), fmtValue(fmt));
  m.freeze();
  const prog = rt.prepare({ name: 't', type: 'xdp', insns: program(args, lddw(3, 0n, 2)) } as never, [m]);
  const r = testRun(createRunner(rt, prog, { engine: 'interp' }), { dataIn: packet });
  if (r.retval === 0xffffffea) return { retval: r.retval, data: 'rejected' };
  return { retval: r.retval, data: hex(r.dataOut.slice(0, 32)) };
}

describe.skipIf(!oracle)('bpf_snprintf against the kernel', () => {
  it('formats integers, characters, strings and IP addresses the same way; rejects the same formats', async () => {
    const cases: [string, Arg[]][] = [
      ['%d %u %x', [-5n, -5n, 255n]],
      ['%ld %lu %lx', [-5n, -5n, 0xdeadbeefcafen]],
      ['%5d|%-5d|%05d', [42n, 42n, -42n]],
      ['%+d % d %X', [7n, 7n, 0xabcn]],
      ['%c%c%%', [65n, 66n]],
      ['%s!', [{ str: 'hi' }]],
      ['[%10s|%-4s]', [{ str: 'abc' }, { str: 'de' }]],
      ['%llx %lli', [0xffffffffffffffffn, -3n]],
      ['%pI4 %pi4', [{ bytes: [10, 0, 0, 1] }, { bytes: [192, 168, 1, 20] }]],
      ['%pI6', [{ bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] }]],
      ['%pi6', [{ bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] }]],
      ['%08x|%-08d|', [0xabcn, 12n]],
      ['%d %i', [0x100000005n, -1n]],
      ['a very long output that does not fit %d', [1n]],
      ['%q', [1n]],
      ['%d %d', [1n]],
      ['%5.2d', [1n]],
      ['%hd', [1n]],
      ['%z', [1n]],
      ['%lld', [1n, 2n]],
      ['tab\there', []],
      ['%%', []],
    ];
    let formatted = 0;
    for (const [fmt, args] of cases) {
      const k = await inKernel(fmt, args);
      expect(ours(fmt, args), JSON.stringify(fmt)).toEqual(k);
      if (k.data !== 'rejected') formatted++;
    }
    // Most cases format (the rest are rejected by both); the first one reads as expected.
    expect(formatted).toBe(cases.length - 5);
    expect(Buffer.from(ours(cases[0]![0], cases[0]![1]).data, 'hex').toString('latin1')).toMatch(
      /^-5 4294967291 ff\0/,
    );
  });
});
