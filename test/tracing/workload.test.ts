// Probes on a real workload: an HTTP server on loopback serving a bounded number of requests from a load
// generator in the test. Counts, histogram totals and event streams are checked against the calls made.
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R3, R4, R5, R6, R10 } from '../../src/asm/index.js';
import { events } from '../../src/hooks/events.js';
import { probe, probeSite } from '../../src/hooks/probe.js';
import { ProbeCtx } from '../../src/hooks/probe-context.js';
import { BPF_F_CURRENT_CPU } from '../../src/maps/perf.js';
import { createMap } from '../../src/maps/registry.js';
import { MapType } from '../../src/spec/maps.js';
import { FuncCount } from '../../src/tools/funccount.js';
import { FuncLatency } from '../../src/tools/funclatency.js';
import { Runtime } from '../../src/vm/runtime.js';

const REQUESTS = 300;

const app = {
  parse(url: string): number {
    return Number(new URL(url, 'http://x').searchParams.get('n') ?? 0);
  },
  async handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const n = app.parse(req.url ?? '/');
    if (n % 10 === 0) {
      // At least 1.2 ms by the clock the probes read (a 1 ms timer can fire early: libuv's loop time is
      // read once per iteration), then a turn of the event loop.
      const t0 = performance.now();
      while (performance.now() - t0 < 1.2);
      await new Promise((r) => setTimeout(r, 0));
    }
    res.end(String(n * 2));
    return n * 2;
  },
};

let port = 0;
const server = createServer((req, res) => {
  void app.handle(req, res);
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Send `count` requests, `concurrency` at a time, over keep-alive connections; returns the bodies. */
async function load(count: number, concurrency = 8): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const bodies: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      bodies[n] = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: `/?n=${n}`, agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return bodies;
}

describe('probes on an HTTP server', () => {
  for (const engine of ['interp', 'jit'] as const) {
    it(`funccount and funclatency see every request (${engine})`, async () => {
      const count = new FuncCount({ engine });
      const latency = new FuncLatency({ engine });
      const handle = probeSite(app.handle as never, 'handle');
      const parse = probeSite(app.parse as never, 'parse');
      const saved = { handle: app.handle, parse: app.parse };
      app.handle = handle.wrapper as typeof app.handle;
      app.parse = parse.wrapper as typeof app.parse;
      try {
        count.attach(handle);
        count.attach(parse);
        latency.attach(handle);
        const bodies = await load(REQUESTS);
        expect(bodies.length).toBe(REQUESTS);
        expect(bodies[7]).toBe('14');
        const counts = count.results();
        expect(counts.get(handle.probeId)).toBe(REQUESTS);
        expect(counts.get(parse.probeId)).toBe(REQUESTS);
        const hist = latency.results().get(handle.probeId)!;
        expect(hist.total).toBe(REQUESTS);
        // Every tenth request took at least 1.2 ms: those land in slot 21 ([2^20, 2^21) ns) and above.
        const slow = hist.counts.slice(21).reduce((a, b) => a + b, 0);
        expect(slow).toBeGreaterThanOrEqual(REQUESTS / 10);
      } finally {
        count.detach();
        latency.detach();
        Object.assign(app, saved);
      }
    });
  }

  it('a ring buffer stream is complete when the consumer keeps up', async () => {
    const rt = new Runtime();
    const ring = createMap(rt.space, {
      name: 'events',
      type: MapType.RINGBUF,
      keySize: 0,
      valueSize: 0,
      maxEntries: 4096,
      flags: 0,
    });
    rt.registerMap(ring);
    // On return: emit { call id, duration, return value }.
    const prog = new ProgramBuilder()
      .ldx('u64', R2, R1, ProbeCtx.callId)
      .stx('u64', R10, -24, R2)
      .ldx('u64', R2, R1, ProbeCtx.duration)
      .stx('u64', R10, -16, R2)
      .ldx('u64', R2, R1, ProbeCtx.ret)
      .stx('u64', R10, -8, R2)
      .ldMap(R1, 0)
      .mov64(R2, R10)
      .add64(R2, -24)
      .mov64(R3, 24)
      .mov64(R4, 0)
      .call('ringbuf_output')
      .mov64(R0, 0)
      .exit()
      .build();
    const stream = events(ring, {
      decode: (d) => {
        const v = new DataView(d.buffer, d.byteOffset);
        return {
          id: v.getBigUint64(0, true),
          duration: v.getBigUint64(8, true),
          ret: v.getBigUint64(16, true),
        };
      },
    });
    const link = probe(app, 'handle', { insns: prog, maps: [ring], runtime: rt }, { on: 'return' });
    const seen: { id: bigint; ret: bigint }[] = [];
    const consumer = (async () => {
      for await (const e of stream) seen.push(e);
    })();
    await load(REQUESTS);
    link.detach();
    await new Promise((r) => setTimeout(r, 10));
    stream.close();
    await consumer;
    expect(seen.length).toBe(REQUESTS);
    expect(stream.lost).toBe(0);
    expect(new Set(seen.map((e) => e.id)).size).toBe(REQUESTS);
    expect(seen.map((e) => Number(e.ret) / 2).sort((a, b) => a - b)).toEqual([...Array(REQUESTS).keys()]);
  });

  it('a slow ring buffer consumer loses an exact, reported number of events and never blocks', async () => {
    const rt = new Runtime();
    const size = 4096;
    const ring = createMap(rt.space, {
      name: 'small',
      type: MapType.RINGBUF,
      keySize: 0,
      valueSize: 0,
      maxEntries: size,
      flags: 0,
    });
    rt.registerMap(ring);
    const prog = new ProgramBuilder()
      .ldx('u64', R2, R1, ProbeCtx.arg1)
      .stx('u64', R10, -24, R2)
      .st('u64', R10, -16, 0)
      .st('u64', R10, -8, 0)
      .ldMap(R1, 0)
      .mov64(R2, R10)
      .add64(R2, -24)
      .mov64(R3, 24)
      .mov64(R4, 0)
      .call('ringbuf_output')
      .mov64(R0, 0)
      .exit()
      .build();
    const target = { work: (n: number) => n + 1 };
    const stream = events(ring);
    probe(target, 'work', { insns: prog, maps: [ring], runtime: rt });
    const calls = 1000;
    for (let i = 0; i < calls; i++) target.work(i); // no await: the consumer cannot run in between
    const fit = Math.floor((size - 1) / 32); // 24-byte records take 32 bytes with the header
    const got = stream.poll();
    expect(got.length).toBe(fit);
    expect(stream.lost).toBe(calls - fit);
    expect(new DataView(got[fit - 1]!.buffer, got[fit - 1]!.byteOffset).getBigUint64(0, true)).toBe(
      BigInt(fit - 1),
    );
    // Once drained, events flow again.
    target.work(5000);
    expect(stream.poll().length).toBe(1);
    expect(stream.lost).toBe(calls - fit);
    stream.close();
  });

  it('perf_event_output delivers per-CPU records and reports exact losses', async () => {
    const rt = new Runtime();
    const perf = createMap(rt.space, {
      name: 'perf',
      type: MapType.PERF_EVENT_ARRAY,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
      flags: 0,
    });
    rt.registerMap(perf);
    const prog = new ProgramBuilder()
      .ldx('u64', R2, R1, ProbeCtx.arg1)
      .stx('u64', R10, -8, R2)
      .mov64(R6, R1)
      .mov64(R1, R6)
      .ldMap(R2, 0)
      .lddw(R3, BPF_F_CURRENT_CPU)
      .mov64(R4, R10)
      .add64(R4, -8)
      .mov64(R5, 8)
      .call('perf_event_output')
      .mov64(R0, 0)
      .exit()
      .build();
    const target = { work: (n: number) => n };
    const stream = events(perf, {
      pagesPerCpu: 1,
      decode: (d) => new DataView(d.buffer, d.byteOffset).getBigUint64(0, true),
    });
    const link = probe(target, 'work', { insns: prog, maps: [perf], runtime: rt });
    for (let i = 0; i < 10; i++) target.work(i);
    const first: bigint[] = [];
    for await (const v of stream) {
      first.push(v);
      if (first.length === 10) break;
    }
    expect(first).toEqual([...Array(10).keys()].map(BigInt));
    for (let i = 0; i < 500; i++) target.work(i);
    const fit = Math.floor(4096 / (8 + Math.ceil((4 + 8) / 8) * 8));
    expect(stream.poll().length).toBe(fit);
    expect(stream.lost).toBe(500 - fit);
    expect(link.errors).toBe(0);
    link.detach();
  });
});
