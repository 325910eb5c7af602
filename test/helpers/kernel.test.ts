// Helpers against the Linux kernel: the same XDP programs, loaded into the kernel and run with
// BPF_PROG_TEST_RUN, and run here through the XDP test run, must return the same value and leave the
// same packet. Covers the limits and errnos of adjust_head/meta/tail, load/store_bytes, csum_diff,
// strtol/strtoul.

import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { createRunner, ENGINES, type EngineName } from '../../src/engine/runner.js';
import { testRun } from '../../src/hooks/test-run.js';
import { Runtime } from '../../src/vm/index.js';
import { kernelOracle, kernelRefusesHelper } from '../support/kernel.js';

const oracle = kernelOracle();

type K = typeof import('../../src/kernel/syscall.js');
let kernel: K | undefined;
async function sys(): Promise<K> {
  kernel ??= await import('../../src/kernel/syscall.js');
  return kernel;
}

const packet = new Uint8Array(64).map((_, i) => i);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Outcome {
  retval: number;
  data: string;
}

async function inKernel(text: string, data: Uint8Array): Promise<Outcome | string> {
  const k = await sys();
  let fd: number;
  try {
    fd = k.progLoad({ type: 6, insns: assemble(text), license: 'GPL' }).fd;
  } catch (e) {
    return `kernel rejected: ${(e as Error).message.split('\n')[0]}`;
  }
  try {
    const r = k.progTestRun(fd, { data, dataOutSize: 4096 });
    return { retval: r.retval, data: hex(r.data) };
  } finally {
    k.close(fd);
  }
}

function ours(text: string, data: Uint8Array, engine: EngineName): Outcome {
  const rt = new Runtime();
  const prog = rt.prepare({ name: 't', type: 'xdp', insns: assemble(text) } as never);
  const r = testRun(createRunner(rt, prog, { engine }), { dataIn: data });
  return { retval: r.retval, data: hex(r.dataOut) };
}

const results: string[] = [];
afterAll(() => {
  if (results.length) console.log(`helpers vs kernel: ${results.length} programs compared`);
});

async function compare(label: string, text: string, data = packet): Promise<void> {
  const k = await inKernel(text, data);
  if (typeof k === 'string') throw new Error(`${label}: ${k}`);
  for (const engine of ENGINES) expect(ours(text, data, engine), `${label} (${engine})`).toEqual(k);
  results.push(label);
}

/**
 * With metadata, the kernel's data_out starts at data_meta; the XDP hook's starts at data. Compare the
 * verdict, the packet from data on, and that the kernel's extra prefix is a valid metadata length.
 */
async function compareMeta(label: string, text: string): Promise<void> {
  const k = await inKernel(text, packet);
  if (typeof k === 'string') throw new Error(`${label}: ${k}`);
  for (const engine of ENGINES) {
    const o = ours(text, packet, engine);
    expect(o.retval, `${label} (${engine})`).toBe(k.retval);
    expect(k.data.endsWith(o.data), `${label} (${engine})`).toBe(true);
    const metalen = (k.data.length - o.data.length) / 2;
    expect(metalen % 4 === 0 && metalen <= 252, label).toBe(true);
  }
  results.push(label);
}

describe.skipIf(!oracle)('helpers against the kernel (BPF_PROG_TEST_RUN)', () => {
  it('xdp_adjust_head: growth into the headroom, shrink to the Ethernet header, errors', async () => {
    for (const d of [-300, -217, -216, -215, -100, -1, 0, 1, 49, 50, 51, 100]) {
      await compare(`adjust_head ${d}`, `r2 = ${d}\ncall 44\nexit`);
    }
  });

  it('xdp_adjust_tail: shrink and growth limits', async () => {
    for (const d of [-64, -51, -50, -49, -1, 0, 1, 100, 3455, 3456, 3457, 3600]) {
      await compare(`adjust_tail ${d}`, `r2 = ${d}\ncall 65\nexit`);
    }
  });

  it('xdp_adjust_meta alone and followed by adjust_head', async () => {
    const refused = await kernelRefusesHelper(6, 54);
    if (refused) {
      // Nothing to compare with: say so, and check that this kernel really refuses every such program.
      console.warn(`[kernel oracle] not runnable on this kernel: ${refused}`);
      expect(await inKernel('r2 = -4\ncall 54\nexit', packet)).toMatch(/cannot use helper/);
      return;
    }
    for (const m of [4, 0, -2, -4, -8, -32, -36, -212, -216, -220, -252, -256]) {
      await compareMeta(`adjust_meta ${m}`, `r2 = ${m}\ncall 54\nexit`);
      for (const h of [-216, -208, -100, 8]) {
        await compareMeta(
          `adjust_meta ${m} then adjust_head ${h}`,
          `r6 = r1\nr2 = ${m}\ncall 54\nr1 = r6\nr2 = ${h}\ncall 44\nexit`,
        );
      }
    }
  });

  it('xdp_load_bytes and xdp_store_bytes bounds', async () => {
    for (const [off, len] of [
      [0, 8],
      [56, 8],
      [57, 8],
      [63, 1],
      [64, 1],
      [0x10000, 1],
    ] as const) {
      await compare(
        `load_bytes ${off}/${len}`,
        `r2 = ${off}\nr3 = r10\nr3 += -16\nr4 = ${len}\ncall 189\nexit`,
      );
      await compare(
        `store_bytes ${off}/${len}`,
        `*(u64 *)(r10 - 16) = 0x5a5a5a5a\nr2 = ${off}\nr3 = r10\nr3 += -16\nr4 = ${len}\ncall 190\nexit`,
      );
    }
  });

  it('csum_diff: pushes, pulls, diffs and seeds', async () => {
    const words = [0x0100000a, 0xffffffff, 0x12345678, 0, 0xfffe0001];
    for (const [a, b, seed, fromSize, toSize] of [
      [0, 1, 0, 4, 4],
      [1, 2, 0, 4, 4],
      [2, 3, 0xffff, 4, 4],
      [4, 1, 0x1234, 0, 4],
      [0, 4, 0xfffffff0, 4, 0],
      [1, 1, 7, 8, 8],
      [2, 0, 0, 4, 3],
      [2, 0, 0, 3, 4],
      [1, 2, 5, 5, 1],
      [3, 4, 0, 0, 0],
    ] as const) {
      await compare(
        `csum_diff ${a}->${b} seed ${seed} sizes ${fromSize}/${toSize}`,
        `r1 = ${words[a]} ll
        *(u32 *)(r10 - 8) = r1
        *(u32 *)(r10 - 4) = r1
        r1 = ${words[b]} ll
        *(u32 *)(r10 - 16) = r1
        *(u32 *)(r10 - 12) = r1
        r1 = r10
        r1 += -8
        r2 = ${fromSize}
        r3 = r10
        r3 += -16
        r4 = ${toSize}
        r5 = ${seed} ll
        call 28
        exit`,
      );
    }
  });

  it('strtol / strtoul: return value and parsed number', async () => {
    const cases: [string, number][] = [
      ['  -42x', 0],
      ['0x1f', 0],
      ['017', 0],
      ['ff', 16],
      ['-', 0],
      ['9223372036854775807', 10],
      ['9223372036854775808', 10],
      ['-9223372036854775808', 10],
      ['18446744073709551616', 10],
      ['12', 7],
      [' 0x', 0],
      ['077', 8],
    ];
    for (const [s, base] of cases) {
      // The string lives on the stack at r10-32 (24 bytes, zero padded).
      const bytes = new Uint8Array(24);
      bytes.set(Buffer.from(s, 'latin1'));
      const stores: string[] = [];
      for (let i = 0; i < 24; i += 8) {
        const v = new DataView(bytes.buffer).getBigUint64(i, true);
        stores.push(`r1 = ${v} ll\n*(u64 *)(r10 - ${32 - i}) = r1`);
      }
      for (const [id, name] of [
        [105, 'strtol'],
        [106, 'strtoul'],
      ] as const) {
        for (const ret of ['r0', 'lo', 'hi']) {
          const tail =
            ret === 'r0' ? '' : ret === 'lo' ? 'r0 = *(u32 *)(r10 - 40)' : 'r0 = *(u32 *)(r10 - 36)';
          await compare(
            `${name}("${s}", ${s.length}, ${base}) ${ret}`,
            `${stores.join('\n')}
            *(u64 *)(r10 - 40) = 0
            r1 = r10
            r1 += -32
            r2 = ${s.length}
            r3 = ${base}
            r4 = r10
            r4 += -40
            call ${id}
            ${tail}
            exit`,
          );
        }
      }
    }
  });
});
