// Every command through the ways its files can be wrong: a missing input, a directory, an empty file,
// garbage, a truncated capture, an output that cannot be written (a missing or read-only directory,
// /proc/version, a full disk), an output that is an input (directly and through a symlink), two outputs
// that are one file. Each case runs the built CLI in a directory of its own, where every output already
// exists with earlier contents; a failed run must exit with the documented code (docs/cli.md), print
// exactly one `tsbpf:` line naming the file, and leave the directory exactly as it was: inputs and
// earlier outputs byte-identical, no temporary or partial file.

import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/net/pcap.js';
import { limited, tsbpfIn } from './run-cli.js';

const root = new URL('../../', import.meta.url).pathname;
const base = mkdtempSync(join(tmpdir(), 'tsbpf-walk-'));
const template = join(base, 'template');
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** An output directory the process cannot write to: mode 0555 stops everyone but root; root cannot add files to sysfs. */
const readOnlyDir = process.getuid?.() === 0 ? '/sys/kernel' : join(base, 'read-only');

const EARLIER = 'earlier output\n';
/** Not ELF, not a capture, not a multiple of 8 bytes, not text. */
const GARBAGE = Uint8Array.of(0x67, 0x61, 0x72, 0x62, 0, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
const OUTPUTS = ['out.bin', 'out.o', 'old.pcap', 'd.pcap', 'r.json', 'e.json', 'data.out', 'ctx.out'];

beforeAll(() => {
  mkdirSync(template);
  const capture = readFileSync(join(root, 'examples/xdp/iperf.pcap'));
  const put = (name: string, data: string | Uint8Array) => writeFileSync(join(template, name), data);
  put('P.o', readFileSync(join(root, 'examples/xdp/udp_drop.o')));
  put('probe.o', readFileSync(join(root, 'examples/trace/calls.o')));
  // A program that sends ring-buffer events on this capture's SYNs: its --events file gets lines.
  put('syn.o', readFileSync(join(root, 'examples/xdp/syn_events.o')));
  put('real.pcap', readFileSync(join(root, 'test/fixtures/pcap/real.pcap')));
  put('in.pcap', capture);
  put('cut.pcap', capture.subarray(0, capture.length - 100));
  put('prog.s', 'r0 = 2\nexit\n');
  put('prog.bin', Uint8Array.of(0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0));
  put('pkt.bin', readCapture(capture).packets[0]!.data);
  put('empty', '');
  put('garbage', GARBAGE);
  mkdirSync(join(template, 'adir'));
  put('lib.mjs', 'export function add(a, b) { return a + b; }\n');
  put('main.mjs', "import { add } from './lib.mjs';\nadd(1, 2);\n");
  put('empty.mjs', '');
  put('main-empty.mjs', "import * as e from './empty.mjs';\nvoid e;\n");
  for (const o of OUTPUTS) put(o, EARLIER);
  symlinkSync('in.pcap', join(template, 'link-in.pcap'));
  symlinkSync('P.o', join(template, 'link-P.o'));
  symlinkSync('prog.s', join(template, 'link-prog.s'));
  symlinkSync('pkt.bin', join(template, 'link-pkt.bin'));
  symlinkSync('old.pcap', join(template, 'link-old.pcap'));
  if (readOnlyDir.startsWith(base)) mkdirSync(readOnlyDir, { mode: 0o555 });
});

/** Every entry of a directory: a file's bytes (hex), a symlink's target, a directory's entries. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[prefix + name] = `-> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[`${prefix + name}/`] = 'dir';
        walk(p, `${prefix + name}/`);
      } else out[prefix + name] = readFileSync(p).toString('hex');
    }
  };
  walk(dir, '');
  return out;
}

interface Case {
  /** The command line, paths relative to the case's directory. */
  args: string[];
  /** Exit code (docs/cli.md): 1 input, 2 usage. */
  code: 1 | 2;
  /** What the error line must name (a file as given on the command line, or a flag). */
  names: string;
  stdin?: Uint8Array | string;
  why: string;
}

const ro = (name: string) => join(readOnlyDir, `tsbpf-walk-${name}`);

/** The cases of a command's main input: missing, a directory, empty, garbage. */
function inputCases(args: (input: string) => string[], which = 'input', skip: string[] = []): Case[] {
  const all: Case[] = [
    { why: `missing ${which}`, args: args('nope'), code: 1, names: 'nope' },
    { why: `a directory as ${which}`, args: args('adir'), code: 1, names: 'adir' },
    { why: `an empty ${which}`, args: args('empty'), code: 1, names: 'empty' },
    { why: `garbage ${which}`, args: args('garbage'), code: 1, names: 'garbage' },
  ];
  return all.filter((c) => !skip.includes(c.why));
}

/** An output flag through the ways it cannot be written, or must not be. */
function outputCases(args: (out: string) => string[], input: string, link: string, flag: string): Case[] {
  return [
    { why: `${flag} in a missing directory`, args: args('nodir/x'), code: 1, names: 'nodir/x' },
    { why: `${flag} in a read-only directory`, args: args(ro('x')), code: 1, names: ro('x') },
    { why: `${flag} /proc/version`, args: args('/proc/version'), code: 1, names: '/proc/version' },
    { why: `${flag} on a full disk`, args: args('/dev/full'), code: 1, names: '/dev/full' },
    { why: `${flag} a directory`, args: args('adir'), code: 1, names: 'adir' },
    { why: `${flag} = the input`, args: args(input), code: 2, names: input },
    { why: `${flag} = the input through a symlink`, args: args(link), code: 2, names: link },
  ];
}

const pick = (cases: Case[], which: number[]) => which.map((i) => cases[i]!);

const XDP = (o: Partial<Record<string, string>> = {}) => {
  const v = { obj: 'P.o', r: 'in.pcap', w: 'old.pcap', d: 'd.pcap', res: 'r.json', ev: 'e.json', ...o };
  return ['xdp', v.obj, '-r', v.r, '-w', v.w, '--dropped', v.d, '--results', v.res, '--events', v.ev];
};
const PROG_RUN = (o: Partial<Record<string, string>> = {}) => {
  const v = { obj: 'P.o', din: 'pkt.bin', dout: 'data.out', cout: 'ctx.out', ...o };
  return ['prog', 'run', v.obj, 'data_in', v.din, 'data_out', v.dout, 'ctx_out', v.cout];
};
const FILTER = (r = 'in.pcap', w = 'old.pcap') => ['filter', 'udp', '-r', r, '-w', w];
const MAP_SET = (obj = 'P.o', out = 'out.o') => ['map', 'set', obj, '.rodata', '00000000=8a13', '-o', out];

const CASES: Record<string, Case[]> = {
  asm: [
    ...inputCases((f) => ['asm', f, '-o', 'out.bin']),
    ...outputCases((o) => ['asm', 'prog.s', '-o', o], 'prog.s', 'link-prog.s', '-o'),
  ],
  disasm: inputCases((f) => ['disasm', f]),
  run: [
    ...inputCases((f) => ['run', f]),
    { why: '--mem @missing', args: ['run', 'prog.bin', '--mem', '@nope'], code: 1, names: 'nope' },
    { why: '--mem @directory', args: ['run', 'prog.bin', '--mem', '@adir'], code: 1, names: 'adir' },
  ],
  'conformance-plugin': [
    { why: 'no program on stdin', args: ['conformance-plugin'], code: 1, names: 'program', stdin: '' },
    {
      why: 'garbage on stdin',
      args: ['conformance-plugin'],
      code: 1,
      names: 'program on stdin',
      stdin: GARBAGE,
    },
    {
      why: '--elf with garbage',
      args: ['conformance-plugin', '--elf'],
      code: 1,
      names: 'ELF',
      stdin: GARBAGE,
    },
  ],
  'prog run': [
    ...inputCases((f) => PROG_RUN({ obj: f }), 'object'),
    // Any bytes are a packet: garbage is not an error for data_in (an empty one is: EINVAL).
    ...inputCases((f) => PROG_RUN({ din: f }), 'data_in', ['garbage data_in']),
    ...outputCases((o) => PROG_RUN({ dout: o }), 'pkt.bin', 'link-pkt.bin', 'data_out'),
    { why: 'data_out = the object', args: PROG_RUN({ dout: 'P.o' }), code: 2, names: 'P.o' },
    { why: 'ctx_out = data_out', args: PROG_RUN({ cout: 'data.out' }), code: 2, names: 'data_out' },
  ],
  'prog list': inputCases((f) => ['prog', 'list', f]),
  'map list': inputCases((f) => ['map', 'list', f]),
  'map dump': inputCases((f) => ['map', 'dump', f, '.rodata']),
  'map set': [
    ...inputCases((f) => MAP_SET(f)),
    // -o P.o is allowed (the object is replaced only on success): see the map set test below.
    ...outputCases((o) => MAP_SET('P.o', o), 'P.o', 'link-P.o', '-o').filter((c) => c.code === 1),
  ],
  xdp: [
    ...inputCases((f) => XDP({ obj: f }), 'object'),
    ...inputCases((f) => XDP({ r: f }), 'capture'),
    { why: 'a truncated capture', args: XDP({ r: 'cut.pcap' }), code: 1, names: 'cut.pcap' },
    // Every way on -w; the other outputs go through the same code, so each gets some of them.
    ...outputCases((o) => XDP({ w: o }), 'in.pcap', 'link-in.pcap', '-w'),
    ...pick(
      outputCases((o) => XDP({ d: o }), 'P.o', 'link-P.o', '--dropped'),
      [3, 5, 6],
    ),
    ...pick(
      outputCases((o) => XDP({ res: o }), 'in.pcap', 'link-in.pcap', '--results'),
      [0, 2, 5],
    ),
    ...pick(
      outputCases((o) => XDP({ ev: o }), 'P.o', 'link-P.o', '--events'),
      [1, 4, 6],
    ),
    // An empty --events file (udp_drop sends none) goes to /proc/version or /dev/full without error:
    // nothing is lost. syn_events sends some on real.pcap.
    ...pick(
      outputCases((o) => XDP({ obj: 'syn.o', r: 'real.pcap', ev: o }), 'real.pcap', 'syn.o', '--events'),
      [2, 3],
    ),
    { why: '-w and --dropped one file', args: XDP({ d: 'old.pcap' }), code: 2, names: '--dropped' },
    { why: '--results and --events one file', args: XDP({ ev: 'r.json' }), code: 2, names: '--events' },
    {
      why: '-w and --events one file, through a symlink',
      args: XDP({ ev: 'link-old.pcap' }),
      code: 2,
      names: '--events',
    },
  ],
  verify: inputCases((f) => ['verify', f]),
  filter: [
    ...inputCases((f) => FILTER(f)),
    { why: 'a truncated capture', args: FILTER('cut.pcap'), code: 1, names: 'cut.pcap' },
    ...outputCases((o) => FILTER('in.pcap', o), 'in.pcap', 'link-in.pcap', '-w'),
  ],
};
for (const tool of ['funclatency', 'funccount']) {
  const trace = (fn: string, script = 'main.mjs') => ['trace', tool, '--fn', fn, '--', 'node', script];
  CASES[`trace ${tool}`] = [
    { why: '--fn in a missing file', args: trace('nope.mjs#add'), code: 1, names: 'nope.mjs' },
    { why: '--fn in a directory', args: trace('adir#add'), code: 1, names: 'adir' },
    // The traced program's own failures (garbage it imports) are its output, passed through as is.
    {
      why: '--fn in an empty file',
      args: trace('empty.mjs#add', 'main-empty.mjs'),
      code: 1,
      names: 'empty.mjs',
    },
    { why: '--fn naming a missing export', args: trace('lib.mjs#sub'), code: 1, names: "'sub'" },
    { why: 'a missing script', args: trace('lib.mjs#add', 'nope.mjs'), code: 1, names: 'nope.mjs' },
    { why: 'a directory as the script', args: trace('lib.mjs#add', 'adir'), code: 1, names: 'adir' },
  ];
}
CASES['trace events'] = inputCases((f) => [
  'trace',
  'events',
  f,
  '--fn',
  'lib.mjs#add',
  '--',
  'node',
  'main.mjs',
]);

let caseNo = 0;
/** A fresh copy of the template. */
function caseDir(): string {
  const d = join(base, `case-${caseNo++}`);
  cpSync(template, d, { recursive: true, verbatimSymlinks: true });
  return d;
}

// Cases run side by side (one process per core), across commands too.
describe.concurrent('every command, every way its files can be wrong', () => {
  for (const [command, cases] of Object.entries(CASES)) {
    it(`${command}: ${cases.length} cases`, async () => {
      const results = await Promise.all(
        cases.map((c) =>
          limited(async () => {
            const dir = caseDir();
            const before = snapshot(dir);
            const r = await tsbpfIn(dir, c.args, c.stdin);
            return { c, r, before, after: snapshot(dir), dir };
          }),
        ),
      );
      for (const { c, r, before, after, dir } of results) {
        const what = `${command}, ${c.why}: tsbpf ${c.args.join(' ')}\n${r.stderr}`;
        expect(r.code, what).toBe(c.code);
        // Exactly one line, `tsbpf: …`, naming the file; never a stack trace.
        expect(r.stderr, what).toMatch(/^tsbpf: [^\n]+\n$/);
        expect(r.stderr, what).toContain(c.names);
        expect(r.stderr, what).not.toMatch(/^\s+at /m);
        // Nothing changed: inputs and earlier outputs as they were, no temporary or partial file.
        expect(after, what).toEqual(before);
        rmSync(dir, { recursive: true, force: true });
      }
      // Nothing left in the read-only directory (root: sysfs refuses the file; others: mode 0555).
      expect(readdirSync(readOnlyDir).filter((n) => n.includes('tsbpf-walk'))).toEqual([]);
    }, 180_000);
  }
});
