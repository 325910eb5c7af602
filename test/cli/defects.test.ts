// One test per defect the reliability run found in the CLI (issue 14): inputs destroyed, partial outputs,
// stack traces where one line was promised, traces that report nothing instead of failing, faults that do
// not say which packet. The walk over every command is in ./walk.test.ts; the test-run rules (empty
// data_in, repeat) in test/hooks/test-run-rules.test.ts.

import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EXIT, report } from '../../src/cli/main.js';
import { RuntimeFault } from '../../src/errors.js';
import { PcapWriter, readCapture } from '../../src/net/pcap.js';
import { type CliResult, tsbpf, xdpObject as writeXdpObject } from './run-cli.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-defects-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CAPTURE = join(root, 'examples/xdp/iperf.pcap');
const UDP_DROP = join(root, 'examples/xdp/udp_drop.o');
const packets = readCapture(readFileSync(CAPTURE)).packets;

/** A fresh directory with a copy of the capture and of the object. */
function workspace(name: string): { d: string; pcap: string; obj: string } {
  const d = join(dir, name);
  mkdirSync(d);
  writeFileSync(join(d, 'in.pcap'), readFileSync(CAPTURE));
  writeFileSync(join(d, 'P.o'), readFileSync(UDP_DROP));
  return { d, pcap: join(d, 'in.pcap'), obj: join(d, 'P.o') };
}

/** One `tsbpf:` line and nothing else on stderr, no stack trace. */
function oneLine(r: CliResult, what: string): void {
  expect(r.stderr, what).toMatch(/^tsbpf: [^\n]+\n$/);
  expect(r.stderr, what).not.toMatch(/^\s+at /m);
}

const xdpObject = (name: string, text: string): string => writeXdpObject(dir, name, text);

describe('outputs never destroy inputs', () => {
  it('xdp: -w, --dropped, --results, --events, -w P.o and a symlink to the input are usage errors', () => {
    const { d, pcap, obj } = workspace('xdp-self');
    symlinkSync('in.pcap', join(d, 'link.pcap'));
    const before = [readFileSync(pcap), readFileSync(obj)];
    for (const out of [
      ['-w', pcap],
      ['--dropped', pcap],
      ['--results', pcap],
      ['--events', pcap],
      ['-w', obj],
      ['-w', join(d, 'link.pcap')],
    ]) {
      const r = tsbpf(['xdp', obj, '-r', pcap, ...out]);
      expect(r.code, out.join(' ')).toBe(EXIT.usage);
      oneLine(r, out.join(' '));
      expect(r.stderr).toMatch(/writing it would destroy what is read/);
      expect([readFileSync(pcap), readFileSync(obj)], out.join(' ')).toEqual(before);
    }
    expect(lstatSync(join(d, 'link.pcap')).isSymbolicLink()).toBe(true);
  });

  it('filter -w the capture it reads is a usage error', () => {
    const { pcap } = workspace('filter-self');
    const r = tsbpf(['filter', 'udp', '-r', pcap, '-w', pcap]);
    expect(r.code).toBe(EXIT.usage);
    oneLine(r, 'filter');
    expect(readFileSync(pcap)).toEqual(readFileSync(CAPTURE));
  });

  it('-w and --dropped naming one file is a usage error (it used to keep only the dropped packets)', () => {
    const { d, pcap, obj } = workspace('same-out');
    const out = join(d, 'o.pcap');
    const r = tsbpf(['xdp', obj, '-r', pcap, '-w', out, '--dropped', out]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toBe(
      `tsbpf: -w and --dropped are the same file (${out}): give each output its own file\n`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('a run that fails on a truncated capture leaves an earlier -w as it was and no outputs behind', () => {
    const { d, obj } = workspace('truncated');
    const cut = join(d, 'cut.pcap');
    const src = readFileSync(CAPTURE);
    writeFileSync(cut, src.subarray(0, src.length - 100));
    const old = join(d, 'old.pcap');
    writeFileSync(old, 'an earlier output\n');
    const listing = readdirSync(d).sort();
    const r = tsbpf(
      ['xdp', obj, '-r', cut, '-w', old, '--dropped', join(d, 'dropped.pcap')].concat([
        '--results',
        join(d, 'r.json'),
        '--events',
        join(d, 'e.json'),
      ]),
    );
    expect(r.code).toBe(EXIT.input);
    oneLine(r, 'truncated');
    expect(r.stderr).toMatch(new RegExp(`cut\\.pcap: packet ${packets.length - 1}: truncated packet data`));
    expect(readFileSync(old, 'utf8')).toBe('an earlier output\n');
    expect(readdirSync(d).sort()).toEqual(listing);
  });

  it('map set may edit its object in place: replaced on success (through a symlink too), untouched on failure', () => {
    const { d, obj } = workspace('map-set');
    symlinkSync('P.o', join(d, 'link.o'));
    const original = readFileSync(obj);
    const bad = tsbpf(['map', 'set', obj, '.rodata', '00000000=zz', '-o', obj]);
    expect(bad.code).toBe(EXIT.usage);
    oneLine(bad, 'bad value');
    expect(readFileSync(obj)).toEqual(original);
    const ok = tsbpf(['map', 'set', join(d, 'link.o'), '.rodata', '00000000=8a13', '-o', join(d, 'link.o')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(lstatSync(join(d, 'link.o')).isSymbolicLink()).toBe(true);
    expect(readFileSync(obj)).not.toEqual(original);
    const dump = tsbpf(['map', 'dump', obj, '.rodata', '--json']);
    expect(JSON.parse(dump.stdout)[0].value).toBe('8a13');
    expect(readdirSync(d).sort()).toEqual(['P.o', 'in.pcap', 'link.o']);
  });
});

describe('one line where a stack trace was printed', () => {
  const { d, pcap, obj } = workspace('traces');
  const cases: [string, string[], number, RegExp][] = [
    [
      '-w /dev/full',
      ['xdp', obj, '-r', pcap, '-w', '/dev/full'],
      1,
      /-w \/dev\/full: cannot write: no space left on device/,
    ],
    [
      '--results /proc/version',
      ['xdp', obj, '-r', pcap, '--results', '/proc/version'],
      1,
      /--results \/proc\/version: cannot write: /,
    ],
    ['run DIR', ['run', d], 1, /: cannot read program: is a directory/],
    ['run --mem @DIR', ['run', obj, '--mem', `@${d}`], 1, /: cannot read memory: is a directory/],
    [
      'trace -- node missing.mjs',
      [
        'trace',
        'funccount',
        '--fn',
        `${join(root, 'test/fixtures/trace/lib.mjs')}#add`,
        '--',
        'node',
        join(d, 'missing.mjs'),
      ],
      1,
      /missing\.mjs: cannot run the program to trace: no such file or directory/,
    ],
  ];
  for (const [what, args, code, message] of cases) {
    it(what, () => {
      const r = tsbpf(args);
      expect(r.code).toBe(code);
      oneLine(r, what);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe(''); // the summary is printed only after the outputs are in place
    });
  }

  it('a full standard output is one line too', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const out = openSync('/dev/full', 'w');
      const child: ChildProcess = spawn(
        process.execPath,
        [join(root, 'bin/tsbpf.js'), 'prog', 'list', UDP_DROP],
        {
          stdio: ['ignore', out, 'pipe'],
        },
      );
      let stderr = '';
      child.stderr!.on('data', (x) => {
        stderr += x;
      });
      child.on('close', (code) => {
        closeSync(out);
        resolve({ code, stderr });
      });
    });
    expect(r.code).toBe(EXIT.input);
    expect(r.stderr).toBe('tsbpf: standard output: cannot write: no space left on device\n');
  });

  it('an error escaping from a library call (a stack overflow) is one line, exit 70; --debug adds the stack', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      let overflow: unknown;
      const deep = (n: number): number => deep(n + 1) + 1;
      try {
        deep(0);
      } catch (e) {
        overflow = e;
      }
      expect(report(overflow, false)).toBe(EXIT.internal);
      expect(write.mock.calls.map((c) => String(c[0]))).toEqual([
        'tsbpf: internal error: RangeError: Maximum call stack size exceeded (run with --debug for the stack trace)\n',
      ]);
      write.mockClear();
      expect(report(overflow, true)).toBe(EXIT.internal);
      const printed = write.mock.calls.map((c) => String(c[0]));
      expect(printed[0]).toBe('tsbpf: internal error: RangeError: Maximum call stack size exceeded\n');
      expect(printed[1]).toMatch(/^RangeError: Maximum call stack size exceeded\n\s+at /);
      // A runtime fault is exit 3, an input error 1.
      write.mockClear();
      expect(report(new RuntimeFault('division by zero', 4), false)).toBe(EXIT.fault);
      expect(write.mock.calls.map((c) => String(c[0]))).toEqual([
        'tsbpf: RuntimeFault: insn 4: division by zero\n',
      ]);
    } finally {
      write.mockRestore();
    }
  });

  it('filter with 5,000 nested parentheses: whatever the compiler does, one line and no trace', () => {
    const expr = `${'('.repeat(5000)}udp${')'.repeat(5000)}`;
    const r = tsbpf(['filter', '-d', expr]);
    if (r.code !== 0) oneLine(r, 'nested parentheses');
    expect([0, EXIT.input, EXIT.usage, EXIT.internal]).toContain(r.code);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('trace: what cannot be traced is an error, not an empty report', () => {
  const fixtures = join(root, 'test/fixtures/trace');
  const trace = (fn: string) =>
    tsbpf([
      'trace',
      'funclatency',
      '--fn',
      join(fixtures, fn),
      '--',
      'node',
      join(fixtures, 'main.mjs'),
      '1',
    ]);
  it.each([
    [
      'a missing file',
      'nope.mjs#add',
      /--fn .*nope\.mjs#add: .*nope\.mjs: cannot trace: no such file or directory/,
    ],
    ['a missing export', 'lib.mjs#nope', /--fn .*lib\.mjs#nope: .*lib\.mjs has no export 'nope'/],
    [
      'a non-function',
      'lib.mjs#notAFunction',
      /--fn .*lib\.mjs#notAFunction: the export 'notAFunction' of .*lib\.mjs is a number, not a function/,
    ],
  ])('funclatency --fn naming %s', (_what, fn, message) => {
    const r = trace(fn);
    expect(r.code).toBe(EXIT.input);
    oneLine(r, fn);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toMatch(/Function =/); // no empty histogram
  });
});

describe('a fault names its packet', () => {
  // Faults (a load from a small number, the unmapped first page) on the first packet of one length.
  const k = packets.findIndex(
    (p, i) => i > 0 && !packets.slice(0, i).some((q) => q.data.length === p.data.length),
  );
  const len = packets[k]!.data.length;
  const obj = xdpObject(
    'fault_on_len',
    `r2 = *(u32 *)(r1 + 0)
     r3 = *(u32 *)(r1 + 4)
     r3 -= r2
     if r3 != ${len} goto pass
     r0 = *(u64 *)(r3 + 0)
   pass:
     r0 = 2
     exit`,
  );

  for (const engine of ['interp', 'jit']) {
    it(`xdp --no-verify (${engine}): exit 3, the packet index as --results counts it, no outputs`, () => {
      const d = join(dir, `fault-${engine}`);
      mkdirSync(d);
      const r = tsbpf([
        'xdp',
        obj,
        '-r',
        CAPTURE,
        '--no-verify',
        '--engine',
        engine,
        '-w',
        join(d, 'o.pcap'),
        '--results',
        join(d, 'r.json'),
      ]);
      expect(r.code).toBe(EXIT.fault);
      oneLine(r, engine);
      expect(r.stderr).toMatch(
        new RegExp(`^tsbpf: .*iperf\\.pcap: packet ${k}: program fault_on_len faulted: insn 4: `),
      );
      expect(readdirSync(d)).toEqual([]);
    });
  }

  it('verified, the same program is rejected: exit 1, one line naming the instruction', () => {
    const r = tsbpf(['xdp', obj, '-r', CAPTURE]);
    expect(r.code).toBe(EXIT.input);
    oneLine(r, 'verifier');
    expect(r.stderr).toMatch(/fault_on_len\.o: program fault_on_len rejected by the verifier at insn 4: /);
  });

  it('prog run: exit 3 naming the program', () => {
    const pkt = join(dir, 'fault-pkt.bin');
    writeFileSync(pkt, packets[k]!.data);
    const r = tsbpf(['prog', 'run', obj, 'data_in', pkt, '--no-verify']);
    expect(r.code).toBe(EXIT.fault);
    oneLine(r, 'prog run');
    expect(r.stderr).toMatch(/program fault_on_len faulted: insn 4: /);
  });
});

describe('an interrupted run leaves no temporary file', () => {
  it('SIGINT during xdp: the earlier output kept, no .tmp left, the process dies of SIGINT', async () => {
    const d = join(dir, 'sigint');
    mkdirSync(d);
    // 40 copies of the capture under a program that loops 4,000 times a packet, checked: about a second.
    const big = join(d, 'big.pcap');
    const parts: Uint8Array[] = [];
    const w = new PcapWriter((c) => parts.push(c.slice()));
    for (let i = 0; i < 40; i++) for (const p of packets) w.write(p.data, p.origLen, 0, 0);
    w.flush();
    writeFileSync(big, Buffer.concat(parts));
    const slow = xdpObject('slow', 'r1 = 4000\nloop:\nr1 -= 1\nif r1 != 0 goto loop\nr0 = 2\nexit');
    const results = join(d, 'r.json');
    writeFileSync(results, 'earlier\n');
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin/tsbpf.js'),
        'xdp',
        slow,
        '-r',
        big,
        '--no-verify',
        '--engine',
        'interp',
        '--results',
        results,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_c, s) => resolve(s)));
    // --results is flushed every 4,096 packets: its temporary file appears then.
    const tmp = () => readdirSync(d).filter((n) => n.endsWith('.tmp'));
    const deadline = Date.now() + 30_000;
    while (tmp().length === 0 && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    expect(tmp().length, 'the run ended before its temporary file appeared').toBe(1);
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
    expect(tmp()).toEqual([]);
    expect(readFileSync(results, 'utf8')).toBe('earlier\n');
  }, 60_000);
});

describe('a missing command', () => {
  it('is one line naming the commands there are, exit 2 (tsbpf, tsbpf prog, tsbpf help bogus)', () => {
    for (const [args, want] of [
      [[], /^tsbpf: missing command \(one of asm, .*trace\) \(see tsbpf --help\)$/],
      [
        ['prog'],
        /^tsbpf: prog: missing command \(one of run, list, show, loadall, load, attach, detach\) \(see tsbpf prog --help\)$/,
      ],
      [['help', 'bogus'], /^tsbpf: missing command/],
    ] as const) {
      const r = tsbpf([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(want);
    }
  });
});
