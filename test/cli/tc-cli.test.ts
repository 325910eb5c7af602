// `tsbpf tc` over captures and `tsbpf prog run` on skb programs: verdicts by the TC_ACT_* names, what
// passes and what is dropped, per-packet results — against the kernel's BPF_PROG_TEST_RUN on the same
// clang-built fixtures (test/fixtures/tc), packet by packet — and the errors in one line.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readObject } from '../../src/elf/index.js';
import { readCapture } from '../../src/net/pcap.js';
import { kernelOracle } from '../support/kernel.js';
import { tsbpf } from './run-cli.js';

const oracle = kernelOracle();
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-tc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES = 'test/fixtures/tc';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The kernel's retval and data_out for each packet of `capture` (packets it refuses: undefined). */
async function kernelRuns(object: string, program: string, capture: string) {
  const { loadKernelObject } = await import('../../src/kernel/index.js');
  const kobj = loadKernelObject(readObject(readFileSync(object), { file: object }), { programs: [program] });
  try {
    return readCapture(readFileSync(capture)).packets.map((p) => {
      try {
        const r = kobj.program(program).run({ dataIn: p.data, dataOutSize: 70000 });
        return { retval: r.retval | 0, data: hex(r.dataOut) };
      } catch {
        return undefined;
      }
    });
  } finally {
    kobj.close();
  }
}

describe('tsbpf tc', () => {
  const capture = 'examples/xdp/iperf.pcap';
  const packets = readCapture(readFileSync(capture)).packets;

  it('runs a parser over a capture: verdicts by name, what passed and what was dropped, results, maps', () => {
    const passed = join(dir, 'passed.pcap');
    const dropped = join(dir, 'dropped.pcap');
    const results = join(dir, 'results.jsonl');
    const r = tsbpf([
      'tc',
      `${FIXTURES}/parse_load.o`,
      '-r',
      capture,
      '-w',
      passed,
      '--dropped',
      dropped,
      '--results',
      results,
      '--dump-maps',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.packets).toBe(packets.length);
    const shot = out.verdicts.SHOT;
    expect(shot).toBeGreaterThan(0);
    expect(Object.values(out.verdicts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(
      packets.length,
    );
    expect(readCapture(readFileSync(dropped)).packets.length).toBe(shot);
    expect(readCapture(readFileSync(passed)).packets.length).toBe(packets.length - shot);
    const lines = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(packets.length);
    expect(lines.filter((l) => l.retval === 2).length).toBe(shot);
    // The flows map counted every packet.
    const flows = out.maps.flows as { formatted: { value: number } }[];
    expect(flows.reduce((a, e) => a + e.formatted.value, 0)).toBe(packets.length);
  });

  it('writes perf events with the packet head a tc program asks for (BPF_F_CTXLEN_MASK)', () => {
    const events = join(dir, 'events.jsonl');
    const r = tsbpf(['tc', `${FIXTURES}/perf_out.o`, '-r', capture, '--events', events, '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).events).toBe(packets.length);
    const lines = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(packets.length);
    for (const [i, line] of lines.entries()) {
      const p = packets[i]!.data;
      const meta = Buffer.alloc(4);
      meta.writeUInt32LE(p.length);
      expect(line.data, `packet ${i}`).toBe(hex(meta) + hex(p.subarray(0, Math.min(p.length, 32))));
    }
  });

  it('prints the summary in words, verdicts by name', () => {
    const r = tsbpf(['tc', `${FIXTURES}/parse_load.o`, '-r', capture]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^parse_load\.o: parse_load over iperf\.pcap — 255 packets in [\d.]+ ms/);
    expect(r.stdout).toMatch(/\n {2}SHOT {7}\d+\n/);
  });

  it('refuses what it cannot run, in one line', () => {
    let r = tsbpf(['tc', `${FIXTURES}/socket_len.o`, '-r', capture]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `tsbpf: ${FIXTURES}/socket_len.o: no tc program in the object (programs: socket_len (socket))\n`,
    );
    r = tsbpf(['tc', `${FIXTURES}/parse_load.o`, '-r', capture, '-w', capture]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    r = tsbpf(['tc', `${FIXTURES}/nat.o`, '-r', 'test/fixtures/pcap/crafted-raw.pcap']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not Ethernet; tc programs see Ethernet frames\n$/);
  });

  for (const [object, program, cap] of [
    ['nat', 'nat', 'test/fixtures/pcap/crafted.pcap'],
    ['nat', 'nat', 'test/fixtures/pcap/real.pcap'],
    ['helper_codes', 'vlan_codes', 'test/fixtures/pcap/crafted.pcap'],
    ['helper_codes', 'room_codes', 'test/fixtures/pcap/real.pcap'],
  ] as const) {
    it.skipIf(!oracle)(`${program} over ${cap}: verdicts and the packets out are the kernel's`, async () => {
      const file = `${FIXTURES}/${object}.o`;
      const results = join(dir, `${program}.jsonl`);
      const passed = join(dir, `${program}.pcap`);
      for (const engine of ['interp', 'jit']) {
        const r = tsbpf([
          'tc',
          file,
          '--program',
          program,
          '-r',
          cap,
          '--results',
          results,
          '-w',
          passed,
          '--engine',
          engine,
        ]);
        expect(r.stderr).toBe('');
        const kernel = await kernelRuns(file, program, cap);
        const lines = readFileSync(results, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const input = readCapture(readFileSync(cap)).packets;
        const out = readCapture(readFileSync(passed)).packets;
        let o = 0;
        let compared = 0;
        for (const [i, line] of lines.entries()) {
          const k = kernel[i];
          const data = line.data_out ?? hex(input[i]!.data);
          if (k) {
            expect(line.retval, `packet ${i}`).toBe(k.retval);
            expect(data, `packet ${i}`).toBe(k.data);
            compared++;
          }
          // What passes goes to -w as the program left it; SHOT does not.
          if (line.retval !== 2) expect(hex(out[o++]!.data), `packet ${i} in -w`).toBe(data);
        }
        expect(compared).toBeGreaterThan(input.length / 2);
        expect(o).toBe(out.length);
      }
    });
  }
});

describe.skipIf(!oracle)('tsbpf prog run on skb programs', () => {
  it('gives the return value, data_out and ctx_out bpftool gives', () => {
    const pkt = readCapture(readFileSync('examples/xdp/iperf.pcap')).packets.find(
      (p) => p.data.length > 160,
    )!.data;
    const dataIn = join(dir, 'in.bin');
    const ctxIn = join(dir, 'ctx.bin');
    writeFileSync(dataIn, pkt);
    const ctx = new Uint8Array(192);
    const v = new DataView(ctx.buffer);
    v.setUint32(8, 0x55, true);
    v.setUint32(32, 9, true);
    for (let i = 0; i < 5; i++) v.setUint32(48 + 4 * i, i + 1, true);
    v.setUint32(160, pkt.length + 10, true);
    writeFileSync(ctxIn, ctx);
    const pin = `/sys/fs/bpf/tsbpf_tc_cli_${process.pid}`;
    execFileSync('bpftool', ['prog', 'load', `${FIXTURES}/ctx_fields.o`, pin]);
    try {
      // bpftool passes ctx_out only with ctx_in (without, it writes no ctx_out file).
      for (const withCtx of [false, true]) {
        const args = (out: string) => [
          'data_in',
          dataIn,
          'data_out',
          `${out}.data`,
          ...(withCtx ? ['ctx_in', ctxIn, 'ctx_out', `${out}.ctx`] : []),
        ];
        const k = execFileSync('bpftool', ['prog', 'run', 'pinned', pin, ...args(join(dir, 'k'))]).toString();
        const ours = tsbpf(['prog', 'run', `${FIXTURES}/ctx_fields.o`, ...args(join(dir, 'o'))]);
        expect(ours.stderr).toBe('');
        expect(ours.stdout.replace(/duration: \d+ns/, '')).toBe(k.replace(/duration: \d+ns/, ''));
        expect(hex(readFileSync(join(dir, 'o.data')))).toBe(hex(readFileSync(join(dir, 'k.data'))));
        if (withCtx)
          expect(hex(readFileSync(join(dir, 'o.ctx')))).toBe(hex(readFileSync(join(dir, 'k.ctx'))));
      }
    } finally {
      rmSync(pin, { force: true });
    }
  });
});
