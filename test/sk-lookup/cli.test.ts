// `tsbpf prog run` on an sk_lookup program: no data_in, a struct bpf_sk_lookup as ctx_in (as bpftool runs
// it), the verdict and ctx_out as BPF_PROG_TEST_RUN gives them; without a ctx_in the kernel's refusal.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readObject } from '../../src/elf/index.js';
import { tsbpf } from '../cli/run-cli.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/tc/sk_lookup_fields.o';
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-sk-lookup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A struct bpf_sk_lookup for TCP to 10.0.0.2:`port` from 10.0.0.1:4660, in a file. */
function ctxFile(name: string, port: number): string {
  const ctx = new Uint8Array(72);
  const v = new DataView(ctx.buffer);
  v.setUint32(8, 2, true);
  v.setUint32(12, 6, true);
  v.setUint32(16, 0x0100000a, true);
  v.setUint16(36, 0x3412, true);
  v.setUint32(40, 0x0200000a, true);
  v.setUint32(60, port, true);
  const path = join(dir, name);
  writeFileSync(path, ctx);
  return path;
}

describe('tsbpf prog run on an sk_lookup program', () => {
  for (const [port, verdict] of [
    [80, 1],
    [7, 0],
  ] as const) {
    it(`local port ${port}: SK_${verdict ? 'PASS' : 'DROP'}, ctx_out the context in (cookie 0)`, async () => {
      const ctxIn = ctxFile(`in${port}`, port);
      const ctxOut = join(dir, `out${port}`);
      const r = tsbpf(['prog', 'run', FILE, 'ctx_in', ctxIn, 'ctx_out', ctxOut, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).retval).toBe(verdict);
      expect(readFileSync(ctxOut)).toEqual(readFileSync(ctxIn));
      if (oracle) {
        const kernel = await import('../../src/kernel/index.js');
        const obj = kernel.loadKernelObject(readObject(readFileSync(FILE)), { programs: ['lookup_fields'] });
        try {
          const k = obj
            .program('lookup_fields')
            .run({ dataIn: new Uint8Array(0), ctxIn: readFileSync(ctxIn) });
          expect(k.retval).toBe(verdict);
          expect(Buffer.from(k.ctxOut!)).toEqual(readFileSync(ctxOut));
        } finally {
          obj.close();
        }
      }
    });
  }

  it('without a ctx_in: the kernel’s EINVAL, in one line', () => {
    const r = tsbpf(['prog', 'run', FILE, 'repeat', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /failed to run program lookup_fields: Invalid argument \(EINVAL\): an sk_lookup test run needs a struct bpf_sk_lookup in\n$/,
    );
  });
});
