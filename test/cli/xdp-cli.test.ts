import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeObject } from '../../src/elf/index.js';
import { MAX_BR_TABLE_TARGETS } from '../../src/jit/wasm/index.js';
import { readCapture } from '../../src/net/pcap.js';
import { irreducibleLoop } from '../jit/big-programs.js';
import { kernelOracle } from '../support/kernel.js';
import { tsbpf } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-xdp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CAPTURE = 'examples/xdp/iperf.pcap';
const packets = readCapture(readFileSync(CAPTURE)).packets;
const isTo5001 = (d: Uint8Array) =>
  d[12] === 8 &&
  d[13] === 0 &&
  d[23] === 17 &&
  ((d[14 + (d[14]! & 15) * 4 + 2]! << 8) | d[14 + (d[14]! & 15) * 4 + 3]!) === 5001;
const to5001 = packets.filter((p) => isTo5001(p.data)).length;

describe('tsbpf xdp', () => {
  it('runs the reference example: port 5001 dropped, the rest passed, maps dumped as JSON', () => {
    const passed = join(dir, 'passed.pcap');
    const dropped = join(dir, 'dropped.pcap');
    const results = join(dir, 'results.jsonl');
    const r = tsbpf([
      'xdp',
      'examples/xdp/udp_drop.o',
      '-r',
      CAPTURE,
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
    expect(out.verdicts.DROP).toBe(to5001);
    expect(out.verdicts.PASS).toBe(packets.length - to5001);
    expect(readCapture(readFileSync(passed)).packets.length).toBe(packets.length - to5001);
    expect(readCapture(readFileSync(dropped)).packets.length).toBe(to5001);
    const lines = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(packets.length);
    expect(lines[0]).toEqual({ index: 0, retval: lines[0].retval });
    const drops = out.maps.drops;
    expect(drops).toHaveLength(1);
    expect(drops[0].key).toBe('89130000');
    expect(drops[0].formatted.value.packets).toBe(to5001);
    expect(out.maps['.rodata'][0].value).toBe('8913');
  });

  it('takes --map-set on .rodata before load (block port 5002 instead)', () => {
    const r = tsbpf([
      'xdp',
      'examples/xdp/udp_drop.o',
      '-r',
      CAPTURE,
      '--map-set',
      '.rodata',
      '00000000=8a13',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.verdicts.DROP).toBeGreaterThan(0);
    expect(out.verdicts.DROP).not.toBe(to5001);
  });

  it('dispatches tail calls through a program array filled by name', () => {
    const r = tsbpf([
      'xdp',
      'examples/xdp/tail_call.o',
      '-r',
      CAPTURE,
      '--map-set',
      'jt',
      '11000000=xdp_on_udp',
      '--dump-maps',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const udp = packets.filter((p) => p.data[12] === 8 && p.data[13] === 0 && p.data[23] === 17).length;
    expect(out.verdicts.DROP).toBe(udp);
  });

  it('writes ring-buffer events as JSON lines', () => {
    const events = join(dir, 'events.jsonl');
    const r = tsbpf([
      'xdp',
      'examples/xdp/syn_events.o',
      '-r',
      'test/fixtures/pcap/real.pcap',
      '--events',
      events,
    ]);
    expect(r.code).toBe(0);
    const lines = readFileSync(events, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l.map).toBe('syn_ring');
      expect(l.data).toMatch(/^[0-9a-f]{48}$/);
    }
  });

  // More than one 4 MB read chunk of the CLI: packets straddle chunk ends.
  it('streams a capture larger than its read chunk: outputs as if the packets were run one by one', () => {
    const src = readFileSync(CAPTURE);
    const copies = 24;
    const body = src.subarray(24);
    const big = Buffer.concat([src.subarray(0, 24), ...Array.from({ length: copies }, () => body)]);
    expect(big.length).toBeGreaterThan(5 * 1024 * 1024);
    const input = join(dir, 'big.pcap');
    writeFileSync(input, big);
    const passed = join(dir, 'big-passed.pcap');
    const dropped = join(dir, 'big-dropped.pcap');
    const results = join(dir, 'big-results.jsonl');
    const r = tsbpf([
      'xdp',
      'examples/xdp/udp_drop.o',
      '-r',
      input,
      '-w',
      passed,
      '--dropped',
      dropped,
      '--results',
      results,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.packets).toBe(packets.length * copies);
    expect(out.verdicts.DROP).toBe(to5001 * copies);
    // udp_drop leaves packets as they are: the outputs are the input split by verdict, timestamps kept.
    const all = readCapture(big).packets;
    const is5001 = new Set(packets.map((p, i) => (isTo5001(p.data) ? i : -1)).filter((i) => i >= 0));
    const key = (p: { data: Uint8Array; origLen: number; tsNs: bigint }) =>
      `${Buffer.from(p.data).toString('hex')}/${p.origLen}/${p.tsNs / 1000n}`;
    const want = (drop: boolean) => all.filter((_, i) => is5001.has(i % packets.length) === drop).map(key);
    expect(readCapture(readFileSync(passed)).packets.map(key)).toEqual(want(false));
    expect(readCapture(readFileSync(dropped)).packets.map(key)).toEqual(want(true));
    const lines = readFileSync(results, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(all.length);
    expect(JSON.parse(lines.at(-1)!)).toEqual({
      index: all.length - 1,
      retval: is5001.has(packets.length - 1) ? 1 : 2,
    });

    const some = tsbpf(['xdp', 'examples/xdp/udp_drop.o', '-r', input, '-c', '1000', '--json']);
    expect(JSON.parse(some.stdout).packets).toBe(1000);
  });

  it('refuses to write over the capture it reads, and both outputs to one file (usage errors, nothing written)', () => {
    const input = join(dir, 'self.pcap');
    writeFileSync(input, readFileSync(CAPTURE));
    let r = tsbpf(['xdp', 'examples/xdp/udp_drop.o', '-r', input, '-w', input]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `tsbpf: -w ${input} is the -r file: writing it would destroy what is read; write the output to another file\n`,
    );
    expect(readFileSync(input)).toEqual(readFileSync(CAPTURE));
    const both = join(dir, 'both.pcap');
    r = tsbpf(['xdp', 'examples/xdp/udp_drop.o', '-r', CAPTURE, '-w', both, '--dropped', both]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `tsbpf: -w and --dropped are the same file (${both}): give each output its own file\n`,
    );
    expect(existsSync(both)).toBe(false);
  });

  it('reports a truncated capture after running the packets before it', () => {
    const cut = join(dir, 'cut.pcap');
    const src = readFileSync(CAPTURE);
    writeFileSync(cut, src.subarray(0, src.length - 100));
    const r = tsbpf(['xdp', 'examples/xdp/udp_drop.o', '-r', cut, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`packet ${packets.length - 1}: truncated packet data`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('runs a program over the JIT’s limits on the interpreter and says so on stderr', () => {
    // An irreducible loop (the verifier would reject it: --no-verify) with more basic blocks than one
    // br_table of the JIT's dispatch may name; it returns XDP_PASS.
    const insns = irreducibleLoop(MAX_BR_TABLE_TARGETS + 10, 2);
    const object = join(dir, 'irreducible.o');
    const firstPacket = join(dir, 'first.bin');
    writeFileSync(firstPacket, packets[0]!.data);
    writeFileSync(
      object,
      writeObject({
        programs: [{ name: 'big_loop', section: 'xdp', type: 'xdp', insns, license: 'GPL' }],
        maps: [],
        license: 'GPL',
      }),
    );
    for (const args of [
      ['xdp', object, '-r', CAPTURE, '--no-verify', '--json'],
      ['prog', 'run', object, 'data_in', firstPacket, '--no-verify'],
    ]) {
      const r = tsbpf(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /^tsbpf: note: big_loop runs on the interpreter: function at insn 0: its control flow is irreducible and has \d+ basic blocks/,
      );
      if (args[0] === 'xdp') expect(JSON.parse(r.stdout).verdicts.PASS).toBe(packets.length);
      else expect(r.stdout).toMatch(/^Return value: 2, /);
    }
  });

  it('rejects bad input with a clear message and a non-zero exit', () => {
    const garbage = join(dir, 'garbage.o');
    writeFileSync(garbage, 'not an elf');
    const cases: [string[], RegExp][] = [
      [['xdp', garbage, '-r', CAPTURE], /not an ELF object/],
      [
        ['xdp', 'examples/xdp/udp_drop.o', '-r', join(dir, 'missing.pcap')],
        /missing\.pcap: cannot read capture: no such file/,
      ],
      [['xdp', 'examples/xdp/udp_drop.o', '-r', garbage], /capture magic/],
      [
        ['xdp', 'examples/xdp/udp_drop.o', '-r', CAPTURE, '--section', 'nope'],
        /no program or section 'nope'/,
      ],
      [['xdp', 'examples/xdp/udp_drop.o', '-r', CAPTURE, '--map-set', 'nope', '00=00'], /no map 'nope'/],
      [['xdp', 'examples/xdp/udp_drop.o', '-r', CAPTURE, '--engine', 'fast'], /unknown engine 'fast'/],
      [['xdp', 'examples/xdp/udp_drop.o', '-r', CAPTURE, '--bogus'], /unknown option/],
    ];
    for (const [args, message] of cases) {
      const r = tsbpf(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
});

describe('tsbpf prog run', () => {
  const packet = join(dir, 'pkt.bin');
  writeFileSync(packet, packets.find((p) => p.data.length > 100 && p.data[23] === 17)!.data);

  it("prints bpftool's line", () => {
    for (const engine of ['interp', 'jit']) {
      const r = tsbpf([
        'prog',
        'run',
        'examples/xdp/udp_drop.o',
        'data_in',
        packet,
        'repeat',
        '100',
        '--engine',
        engine,
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Return value: [12], duration \(average\): \d+ns\n$/);
    }
  });

  it.skipIf(!kernelOracle())('returns what the kernel returns for the same object and packet', () => {
    const pin = `/sys/fs/bpf/tsbpf_cli_${process.pid}`;
    try {
      execFileSync('bpftool', ['prog', 'load', 'examples/xdp/udp_drop.o', pin]);
      const kernel = execFileSync('bpftool', [
        'prog',
        'run',
        'pinned',
        pin,
        'data_in',
        packet,
        'repeat',
        '1',
      ]).toString();
      const ours = tsbpf(['prog', 'run', 'examples/xdp/udp_drop.o', 'data_in', packet]).stdout;
      expect(ours.match(/Return value: (\d+)/)![1]).toBe(kernel.match(/Return value: (\d+)/)![1]);
    } finally {
      rmSync(pin, { force: true });
    }
  });
});
