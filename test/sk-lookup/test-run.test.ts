// The sk_lookup test run (src/hooks/sk-lookup.ts) against the kernel's BPF_PROG_TEST_RUN on a clang-built
// program reading every context field (test/fixtures/tc/sk_lookup_fields.c): for each struct bpf_sk_lookup
// in — IPv4 and IPv6, the other family's fields set, family and protocol wider than 16 bits, the port's
// padding set, a short or long ctx — the return value, ctx out and map contents on both engines; for each
// one the kernel refuses (no ctx, data in, sk set, ingress_ifindex set, local_port > 0xffff, an unknown
// family, non-zero bytes past the struct) the same errno.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { TestRunError, testRun } from '../../src/hooks/test-run.js';
import { rawKeys } from '../../src/maps/typed.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FILE = 'test/fixtures/tc/sk_lookup_fields.o';
const NAME = 'lookup_fields';
const spec = () => readObject(readFileSync(FILE), { file: FILE });

interface Ctx {
  sk?: bigint;
  family?: number;
  protocol?: number;
  remoteIp4?: number;
  remoteIp6?: number[];
  remotePort?: number;
  portPad?: number;
  localIp4?: number;
  localIp6?: number[];
  localPort?: number;
  ingressIfindex?: number;
  size?: number;
  tail?: number;
}

function ctxOf(c: Ctx): Uint8Array {
  const out = new Uint8Array(c.size ?? 72);
  const full = new Uint8Array(Math.max(72, out.length));
  const v = new DataView(full.buffer);
  v.setBigUint64(0, c.sk ?? 0n, true);
  v.setUint32(8, c.family ?? 2, true);
  v.setUint32(12, c.protocol ?? 6, true);
  v.setUint32(16, c.remoteIp4 ?? 0x0100000a, true);
  (c.remoteIp6 ?? [0, 0, 0, 0]).forEach((w, i) => {
    v.setUint32(20 + 4 * i, w, true);
  });
  v.setUint16(36, c.remotePort ?? 0x3412, true);
  v.setUint16(38, c.portPad ?? 0, true);
  v.setUint32(40, c.localIp4 ?? 0x0200000a, true);
  (c.localIp6 ?? [0, 0, 0, 0]).forEach((w, i) => {
    v.setUint32(44 + 4 * i, w, true);
  });
  v.setUint32(60, c.localPort ?? 80, true);
  v.setUint32(64, c.ingressIfindex ?? 0, true);
  if (full.length > 72) full[full.length - 1] = c.tail ?? 0;
  out.set(full.subarray(0, out.length));
  return out;
}

const V6 = [0x000080fe, 0, 0, 0x01000000];
const CASES: [string, Ctx, { data?: boolean; noCtx?: boolean; repeat?: number }?][] = [
  ['IPv4 TCP', {}],
  ['IPv4 dropped (local port 7)', { localPort: 7 }],
  ['IPv4 with IPv6 fields set', { remoteIp6: V6, localIp6: [1, 2, 3, 4], protocol: 17 }],
  ['IPv6 with IPv4 fields set', { family: 10, remoteIp6: V6, localIp6: [5, 6, 7, 8], localPort: 443 }],
  ['family and protocol above 16 bits', { family: 0x10002, protocol: 0x30011 }],
  ['the port padding set', { portPad: 0xbeef, remotePort: 0xffff }],
  ['local port 0xffff', { localPort: 0xffff }],
  ['a short ctx (family only)', { size: 12 }],
  ['a long ctx with zeros after', { size: 80 }],
  ['repeat 5', {}, { repeat: 5 }],
  ['local port 0x10000 (ERANGE)', { localPort: 0x10000 }],
  ['family 3 (EAFNOSUPPORT)', { family: 3 }],
  ['family 0 (EAFNOSUPPORT)', { family: 0, size: 8 }],
  ['sk set', { sk: 1n }],
  ['ingress_ifindex set', { ingressIfindex: 1 }],
  ['a long ctx with a byte after', { size: 80, tail: 1 }],
  ['no ctx', {}, { noCtx: true }],
  ['data in', {}, { data: true }],
];

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '-');

describe.skipIf(!oracle)('sk_lookup test runs against BPF_PROG_TEST_RUN', () => {
  it('every context in gives the kernel’s verdict, ctx out and map, or its errno, on both engines', async () => {
    const kernel = await import('../../src/kernel/index.js');
    let compared = 0;
    for (const [what, c, o = {}] of CASES) {
      const ctxIn = o.noCtx ? undefined : ctxOf(c);
      const data = o.data ? new Uint8Array(14) : undefined;
      const kobj = kernel.loadKernelObject(spec(), { programs: [NAME] });
      let k: ReturnType<ReturnType<typeof kobj.program>['run']> | undefined;
      let errno = 0;
      let kmap: string[] = [];
      try {
        try {
          // ctx out room for the whole struct (a smaller one is ENOSPC, a caller's choice testRun has not).
          k = kobj.program(NAME).run({
            ctxIn,
            dataIn: data ?? new Uint8Array(0),
            repeat: o.repeat,
            ctxOutSize: ctxIn ? 72 : 0,
          });
        } catch (e) {
          errno = (e as { errno?: number }).errno ?? -1;
        }
        const m = kobj.map('fields');
        kmap = [...rawKeys(m)].map((key) => `${hex(key)}=${hex(m.lookup(key))}`);
      } finally {
        kobj.close();
      }
      for (const engine of ['interp', 'jit'] as const) {
        const obj = loadObject(spec(), { programs: [NAME], engine });
        try {
          const run = () =>
            testRun(obj.program(NAME).runner(engine), {
              dataIn: data ?? new Uint8Array(0),
              ctxIn,
              repeat: o.repeat,
            });
          const label = `${what} (${engine})`;
          if (!k) {
            expect(errno, label).toBeGreaterThan(0);
            expect(run, label).toThrow(TestRunError);
            try {
              run();
            } catch (e) {
              expect((e as TestRunError).errno, `${label}: errno`).toBe(errno);
            }
          } else {
            const r = run();
            expect(r.retval, `${label}: retval`).toBe(k.retval);
            expect(hex(r.ctxOut), `${label}: ctx out`).toBe(hex(k.ctxOut));
            const m = obj.map('fields');
            expect(
              [...rawKeys(m)].map((key) => `${hex(key)}=${hex(m.lookup(key))}`),
              `${label}: map`,
            ).toEqual(kmap);
          }
          compared++;
        } finally {
          obj.close();
        }
      }
    }
    expect(compared).toBe(CASES.length * 2);
  });
});
