// The examples in examples/api are the documentation users read first; each one runs here and what it
// prints and returns is checked against facts computed independently in this file.
import { describe, expect, it } from 'vitest';
import { main as assembleAndRun } from '../../examples/api/assemble-and-run.js';
import { main as browser } from '../../examples/api/browser.js';
import { main as collection } from '../../examples/api/collection.js';
import { main as filter } from '../../examples/api/filter.js';
import { main as probeExample } from '../../examples/api/probe.js';
import { main as synEvents } from '../../examples/api/syn-events.js';
import { main as udpDrop } from '../../examples/api/udp-drop.js';
import { capturePackets, udpTo } from './support/capture.js';

const packets = capturePackets;

function capturePrint() {
  const lines: string[] = [];
  return { lines, print: (s: string) => lines.push(s) };
}

describe('examples/api', () => {
  it('udp-drop.ts: blocked_port set before load; drops and typed counters match the capture', () => {
    for (const port of [5001, 5002]) {
      const { lines, print } = capturePrint();
      const { verdicts, drops } = udpDrop(port, print);
      const expected = udpTo(port);
      expect(expected.indices.length).toBeGreaterThan(0);
      expect(verdicts).toEqual({
        DROP: expected.indices.length,
        PASS: packets().length - expected.indices.length,
      });
      expect(drops).toEqual(
        new Map([[port, { packets: BigInt(expected.indices.length), bytes: expected.bytes }]]),
      );
      expect(lines[0]).toBe(`blocked_port was 5001, now ${port}`);
      expect(lines).toContain(
        `port ${port}: ${expected.indices.length} packets, ${expected.bytes} bytes dropped`,
      );
    }
  });

  it('collection.ts: the capture test-run through loadCollection drops exactly the datagrams to 5001', () => {
    const { lines, print } = capturePrint();
    const results = collection(['userspace'], print);
    const expected = udpTo(5001);
    const { verdicts, drops } = results.get('userspace')!;
    expect(verdicts.length).toBe(packets().length);
    expect(verdicts.flatMap((v, i) => (v === 1 ? [i] : []))).toEqual(expected.indices);
    expect(drops).toEqual(new Map([[5001, { packets: expected.packets, bytes: expected.bytes }]]));
    expect(lines).toEqual([
      `userspace: port 5001: ${expected.indices.length} packets, ${expected.bytes} bytes dropped`,
    ]);
  });

  it('browser.ts: compiles every program asynchronously; runs with synchronous compilation refused', async () => {
    const realModule = WebAssembly.Module;
    const realInstance = WebAssembly.Instance;
    const refuse = () => {
      throw new RangeError('synchronous compilation refused');
    };
    WebAssembly.Module = refuse as unknown as typeof WebAssembly.Module;
    WebAssembly.Instance = refuse as unknown as typeof WebAssembly.Instance;
    try {
      const { lines, print } = capturePrint();
      const verdicts = await browser(print);
      // The dispatcher tail-calls xdp_on_udp (drop) for IPv4 UDP, xdp_on_tcp (pass) for TCP.
      const udp = packets().filter((d) => d.length >= 34 && d[12] === 8 && d[13] === 0 && d[23] === 17);
      expect(udp.length).toBeGreaterThan(0);
      expect(verdicts).toEqual({ DROP: udp.length, PASS: packets().length - udp.length });
      expect(lines).toEqual([`verdicts: ${JSON.stringify(verdicts)}`]);
    } finally {
      WebAssembly.Module = realModule;
      WebAssembly.Instance = realInstance;
    }
  });

  it('assemble-and-run.ts: verified, and both engines give the same verdicts and totals', () => {
    const { lines, print } = capturePrint();
    const { accepted, results } = assembleAndRun(print);
    expect(accepted).toBe(true);
    expect(lines[0]).toMatch(/^verifier: accepted: processed \d+ insns/);
    const want = {
      verdicts: [1, 2, 2],
      totals: [
        [0, 160n],
        [1, 1400n],
      ],
    };
    expect(results.interp).toEqual(want);
    expect(results.jit).toEqual(want);
    expect(lines[2]).toBe('jit: verdicts 1 2 2, totals 0=160 1=1400');
  });

  it('filter.ts: the compiled filter matches exactly the UDP packets to the port, on both engines', () => {
    const { lines, print } = capturePrint();
    const { program, matched, total } = filter('udp dst port 5001', print);
    expect(total).toBe(packets().length);
    const expected = udpTo(5001).indices;
    expect(matched.cbpf).toEqual(expected);
    expect(matched.jit).toEqual(expected);
    // The listing starts like tcpdump -d: load the EtherType first.
    expect(lines[0]!.split('\n')[0]).toMatch(/^\(000\) ldh\s+\[12\]/);
    expect(program.length).toBeGreaterThan(4);
    expect(lines.at(-1)).toMatch(/^first match: .*\.5001: UDP/);
    expect(() => filter('udp dst port', () => {})).toThrow(/port/);
  });

  it('probe.ts: the histogram counts each call in its log2 bucket; detached calls are not counted', () => {
    const sizes = [0, 1, 3, 3, 900, 1000, 1024, 70000];
    const { lines, print } = capturePrint();
    const { histogram, runs } = probeExample(sizes, print);
    expect(runs).toBe(sizes.length);
    const want = new Array(65).fill(0);
    for (const s of sizes) want[s === 0 ? 0 : s.toString(2).length]++;
    expect(histogram.counts).toEqual(want);
    expect(lines[0]).toContain('bytes');
    expect(lines[0]).toMatch(/512 -> 1023\s+: 2\s/);
    expect(lines[1]).toBe(`8 calls probed, ${sizes.reduce((a, b) => a + b, 0) + 1} bytes saved`);
  });

  it('syn-events.ts: one ring-buffer event per SYN without ACK, in order', async () => {
    const { lines, print } = capturePrint();
    const received = await synEvents(print);
    expect(received.map((e) => [e.sport, e.dport])).toEqual([
      [40022, 22],
      [40080, 80],
      [40443, 443],
    ]);
    expect(received.every((e) => e.saddr === '192.0.2.7' && e.daddr === '198.51.100.1')).toBe(true);
    // bpf_ktime_get_ns reads the runtime clock (a fake one here that ticks on every read).
    const times = received.map((e) => e.ts_ns);
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
    expect(lines[0]).toMatch(/^\d+ ns {2}SYN 192\.0\.2\.7:40022 -> 198\.51\.100\.1:22$/);
    expect(lines.at(-1)).toBe('3 events, 0 lost');
  });
});
