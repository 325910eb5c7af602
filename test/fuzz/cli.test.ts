// The command line (bin/tsbpf.js, built to dist/ — `npm test` builds first): random argument lists for
// every command that works on files (asm, disasm, run, conformance-plugin, prog, map, xdp run, verify,
// filter, help) — right and wrong options, values of the wrong kind, missing and extra arguments — over
// a directory of good and mutated inputs (objects, captures, assembler text, bytecode, packets). Each run
// happens in a directory of its own, and must:
//   - exit with 0, 1, 2 or 3 (docs/cli.md), never 70 (an internal error) or a signal;
//   - print no stack trace (no line starting with `    at `);
//   - on failure, end stderr with its one `tsbpf:` line (a report, such as a verifier log, may precede it;
//     `verify`'s rejection is its report alone, as docs/cli.md says);
//   - leave every input as it was, and the directory as it was on failure; on success only the outputs
//     it was told to write may be new or changed — no temporary file left behind;
//   - stay within a time and a memory bound (its peak resident size, which it reports on exit).
// Not fuzzed: `xdp attach` (attaches to real interfaces) and `trace` (runs the command it is given).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { encode } from '../../src/isa/index.js';
import { readCapture } from '../../src/net/pcap.js';
import { check, fuzzTarget, printNow, type Rng } from './harness.js';
import { elfHotRanges, mutateBytes, mutateCapture, mutateElf } from './mutators.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** Wall time one command may take before it is taken for a hang. */
const HANG_MS = 60_000;
/** Peak resident size a command may reach (a JIT run is ~150 MiB). */
const MAX_RSS_MB = 768;

const base = mkdtempSync(join(tmpdir(), 'tsbpf-fuzz-cli-'));
const template = join(base, 'template');
// A replay keeps its directory for a closer look.
afterAll(() => {
  if (process.env.TSBPF_FUZZ_ITERATION === undefined) rmSync(base, { recursive: true, force: true });
});

const read = (path: string) => new Uint8Array(readFileSync(join(ROOT, path)));
const OBJECTS: Record<string, string> = {
  'P.o': 'examples/xdp/udp_drop.o',
  'count.o': 'examples/xdp/proto_count.o',
  'ring.o': 'examples/xdp/syn_events.o',
  'tail.o': 'examples/xdp/tail_call.o',
  'globals.o': 'test/fixtures/elf/globals.o',
  'calls.o': 'test/fixtures/elf/calls.o',
};
const CAPTURES: Record<string, string> = {
  'in.pcap': 'test/fixtures/pcap/crafted.pcap',
  'in.pcapng': 'test/fixtures/pcap/crafted.pcapng',
  'raw.pcap': 'test/fixtures/pcap/crafted-raw.pcap',
};
const TEXT = 'r1 = *(u32 *)(r1 + 0)\nr0 = 2\nif r1 > 5 goto +1\nr0 = 1\nexit\n';
const INPUTS = [
  ...Object.keys(OBJECTS),
  ...Object.keys(CAPTURES),
  'prog.s',
  'prog.bin',
  'pkt.bin',
  'ctx.bin',
];
const MUTANTS = ['m.o', 'm.pcap', 'm.s', 'm.bin'];
const OUTPUTS = ['out.bin', 'out.o', 'o.pcap', 'd.pcap', 'r.json', 'e.json', 'data.out', 'ctx.out'];

mkdirSync(template);
for (const [name, path] of [...Object.entries(OBJECTS), ...Object.entries(CAPTURES)])
  writeFileSync(join(template, name), read(path));
writeFileSync(join(template, 'prog.s'), TEXT);
writeFileSync(join(template, 'prog.bin'), encode(assemble(TEXT)));
const packet = readCapture(read(CAPTURES['in.pcap']!)).packets[0]!.data;
writeFileSync(join(template, 'pkt.bin'), packet);
writeFileSync(join(template, 'ctx.bin'), new Uint8Array(24));
mkdirSync(join(template, 'adir'));
const HOT = Object.fromEntries(Object.entries(OBJECTS).map(([n, p]) => [n, elfHotRanges(read(p))]));

// --- arguments --------------------------------------------------------------------------------------

type Kind =
  | 'in'
  | 'out'
  | 'num'
  | 'time'
  | 'name'
  | 'hex'
  | 'kv'
  | 'engine'
  | 'syntax'
  | 'type'
  | 'expr'
  | 'none';

const VALUES: Record<Exclude<Kind, 'none'>, string[]> = {
  in: [...INPUTS, ...MUTANTS, ...MUTANTS, 'missing.o', 'adir', '-', '/dev/null', '/proc/version', ''],
  out: [
    ...OUTPUTS,
    ...OUTPUTS,
    'P.o',
    'in.pcap',
    'adir',
    'adir/x.out',
    'nodir/x.out',
    '/dev/null',
    '/dev/full',
    '-',
  ],
  time: ['500ms', '10s', '1ms', '0', '2m', '-1', 'abc', '1h', '', '1e99'],
  num: ['0', '1', '2', '10', '1000', '-1', '1e3', 'abc', '99999999999999999999', '0x10', '', '4294967296'],
  name: [
    'xdp',
    'udp_drop',
    'xdp_prog',
    'proto_stats',
    'syn_ring',
    '.rodata',
    '.data',
    '.bss',
    'nope',
    '',
    'xdp_on_udp',
    'socket',
  ],
  hex: ['deadbeef', '00', '0011223344556677', 'zz', '', '0x12', '@pkt.bin', '@missing', '@adir', 'abc'],
  kv: ['0=01', '00000000=0100000000000000', '0=', '=', 'x=y', 'aa', '00000000=ff', '0000000=00'],
  engine: ['interp', 'jit', 'cbpf', 'bad'],
  syntax: ['auto', 'llvm', 'mnemonic', 'bad'],
  type: ['xdp', 'socket_filter', 'kprobe', 'nope', 'tracepoint'],
  expr: [
    'udp',
    'tcp port 80',
    'ip and not',
    'host 10.0.0.1 or (',
    'vlan',
    'ether[0] = 1',
    '',
    'len > 100',
    'portrange 1-',
    '(((udp)))',
  ],
};

interface Spec {
  words: string[];
  positional: Kind[];
  /** Repeatable trailing positional (entries..., args..., expr..., memory...). */
  rest?: Kind;
  options: [string, Kind][];
}

const COMMANDS: Spec[] = [
  {
    words: ['asm'],
    positional: ['in'],
    options: [
      ['-o', 'out'],
      ['--syntax', 'syntax'],
      ['--section', 'name'],
      ['--name', 'name'],
      ['--license', 'name'],
    ],
  },
  {
    words: ['disasm'],
    positional: ['in'],
    options: [
      ['--syntax', 'syntax'],
      ['--program', 'name'],
    ],
  },
  {
    words: ['run'],
    positional: ['in'],
    options: [
      ['--mem', 'hex'],
      ['--json', 'none'],
      ['--budget', 'num'],
      ['--timeout', 'time'],
      ['--program', 'name'],
      ['--engine', 'engine'],
    ],
  },
  {
    words: ['conformance-plugin'],
    positional: [],
    rest: 'hex',
    options: [
      ['--elf', 'none'],
      ['--engine', 'engine'],
      ['--program', 'hex'],
      ['--budget', 'num'],
      ['--timeout', 'time'],
    ],
  },
  {
    words: ['prog', 'run'],
    positional: ['in'],
    rest: 'none',
    options: [
      ['--section', 'name'],
      ['--engine', 'engine'],
      ['--no-verify', 'none'],
      ['--json', 'none'],
      ['--budget', 'num'],
      ['--timeout', 'time'],
    ],
  },
  { words: ['prog', 'list'], positional: ['in'], options: [] },
  { words: ['map', 'list'], positional: ['in'], options: [['--json', 'none']] },
  { words: ['map', 'dump'], positional: ['in', 'name'], options: [['--json', 'none']] },
  { words: ['map', 'set'], positional: ['in', 'name'], rest: 'kv', options: [['-o', 'out']] },
  ...[['xdp'], ['xdp', 'run']].map((words) => ({
    words,
    positional: ['in'] as Kind[],
    options: [
      ['-r', 'in'],
      ['-w', 'out'],
      ['--dropped', 'out'],
      ['--section', 'name'],
      ['--map-set', 'kv'],
      ['--results', 'out'],
      ['--events', 'out'],
      ['--dump-maps', 'none'],
      ['--json', 'none'],
      ['-c', 'num'],
      ['--engine', 'engine'],
      ['--no-verify', 'none'],
      ['--budget', 'num'],
      ['--timeout', 'time'],
    ] as [string, Kind][],
  })),
  {
    words: ['verify'],
    positional: ['in'],
    options: [
      ['--section', 'name'],
      ['--function', 'name'],
      ['--type', 'type'],
      ['--log-level', 'num'],
      ['--json', 'none'],
      ['--unprivileged', 'none'],
      ['--loops', 'syntax'],
    ],
  },
  {
    words: ['filter'],
    positional: [],
    rest: 'expr',
    options: [
      ['-r', 'in'],
      ['-w', 'out'],
      ['-c', 'num'],
      ['-d', 'none'],
      ['-dd', 'none'],
      ['-ddd', 'none'],
      ['--ebpf', 'none'],
      ['--netmask', 'num'],
      ['-y', 'name'],
      ['--engine', 'engine'],
      ['--budget', 'num'],
      ['--timeout', 'time'],
    ],
  },
  { words: ['help'], positional: [], rest: 'name', options: [] },
  {
    words: [],
    positional: [],
    options: [
      ['--help', 'none'],
      ['--version', 'none'],
      ['-h', 'none'],
    ],
  },
];

const STRAY = [
  '--nope',
  '-x',
  '--json',
  '--engine',
  '--',
  'extra',
  '-',
  '--section=xdp',
  '--budget=5',
  'attach',
];

/** `prog run`'s bpftool-style words: data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]. */
function progRunWords(r: Rng, value: (k: Kind) => string): string[] {
  const out = ['data_in', value('in')];
  if (r.chance(0.4)) out.push('data_out', value('out'));
  if (r.chance(0.2)) out.push('ctx_in', value('in'));
  if (r.chance(0.2)) out.push('ctx_out', value('out'));
  if (r.chance(0.3)) out.push('repeat', value('num'));
  if (r.chance(0.1)) out.splice(r.int(out.length), 1);
  return out;
}

interface Invocation {
  args: string[];
  /** Paths it was told to write (relative to its directory). */
  outputs: Set<string>;
  stdin: Uint8Array;
}

function invocation(r: Rng): Invocation {
  const spec = r.pick(COMMANDS);
  const outputs = new Set<string>();
  const value = (k: Kind): string => {
    if (k === 'none') return r.pick(STRAY);
    // A value of another kind now and then.
    const kind = r.chance(0.1) ? r.pick(Object.keys(VALUES) as Exclude<Kind, 'none'>[]) : k;
    const v = r.pick(VALUES[kind]);
    if (kind === 'out' || k === 'out') outputs.add(v);
    return v;
  };
  const args = [...spec.words];
  const positional = spec.positional.filter(() => r.chance(0.95)).map(value);
  if (spec.words.join(' ') === 'prog run') positional.push(...progRunWords(r, value));
  else if (spec.rest) for (let k = r.int(4); k > 0; k--) positional.push(value(spec.rest));
  const options: string[][] = [];
  for (const [flag, kind] of spec.options) {
    if (!r.chance(0.35)) continue;
    if (kind === 'none') options.push([flag]);
    else if (r.chance(0.05))
      options.push([flag]); // its value missing
    else if (flag.startsWith('--') && r.chance(0.2)) options.push([`${flag}=${value(kind)}`]);
    else options.push([flag, value(kind)]);
  }
  // xdp needs a capture most of the time to get anywhere.
  if (spec.words[0] === 'xdp' && r.chance(0.7) && !options.some((o) => o[0] === '-r'))
    options.push(['-r', r.pick(['in.pcap', 'in.pcapng', 'm.pcap', 'raw.pcap'])]);
  const parts = [...positional.map((p) => [p]), ...options];
  if (r.chance(0.3)) parts.sort(() => r.int(3) - 1);
  for (let k = r.chance(0.1) ? 1 + r.int(2) : 0; k > 0; k--)
    parts.splice(r.int(parts.length + 1), 0, [r.pick(STRAY)]);
  args.push(...parts.flat());
  for (const a of args) {
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) outputs.add(a.slice(eq + 1));
  }
  const stdin =
    spec.words[0] === 'conformance-plugin'
      ? new TextEncoder().encode(r.chance(0.7) ? Buffer.from(encode(assemble(TEXT))).toString('hex') : 'zz11')
      : r.chance(0.5)
        ? new TextEncoder().encode(TEXT)
        : new Uint8Array(r.int(64)).map(() => r.int(256));
  return { args, outputs, stdin };
}

// --- the directory ------------------------------------------------------------------------------------

/** Every entry under `dir`: a content hash for files, the target for links, 'dir' for directories. */
function snapshot(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const rel = prefix + name;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(path)}`);
    else if (st.isDirectory()) {
      out.set(rel, 'dir');
      for (const [k, v] of snapshot(path, `${rel}/`)) out.set(k, v);
    } else out.set(rel, createHash('sha1').update(readFileSync(path)).digest('hex'));
  }
  return out;
}

function mutants(r: Rng, dir: string): void {
  const objects = Object.keys(OBJECTS);
  const o = r.pick(objects);
  writeFileSync(join(dir, 'm.o'), mutateElf(read(OBJECTS[o]!), HOT[o]!, r));
  writeFileSync(join(dir, 'm.pcap'), mutateCapture(read(r.pick(Object.values(CAPTURES))), r));
  const lines = TEXT.split('\n');
  lines[r.int(lines.length)] = r.pick([
    'r0 = *(u64 *)(r10 + 8)',
    'goto -1',
    'r1 /= 0',
    'call 6',
    'bogus',
    'exit',
  ]);
  writeFileSync(join(dir, 'm.s'), lines.join('\n'));
  writeFileSync(join(dir, 'm.bin'), mutateBytes(encode(assemble(TEXT)), r));
}

// --- one run ------------------------------------------------------------------------------------------

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  maxRssKb: number | undefined;
  ms: number;
}

/** Reports the process's peak resident size on fd 3 as it exits (every exit path runs 'exit' handlers). */
const RSS_HOOK =
  "data:text/javascript,import{writeSync}from'node:fs';process.on('exit',()=>{try{writeSync(3,String(process.resourceUsage().maxRSS))}catch{}})";

function runCli(cwd: string, inv: Invocation): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', RSS_HOOK, join(ROOT, 'bin/tsbpf.js'), ...inv.args], {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let rss = '';
    child.stdout!.on('data', (d) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr!.on('data', (d) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
      rss += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        maxRssKb: rss ? Number(rss) : undefined,
        ms: performance.now() - t0,
      });
    });
    child.stdin!.on('error', () => {}); // a command that does not read its input closes it early
    child.stdin!.end(inv.stdin);
  });
}

if (!existsSync(join(ROOT, 'dist/cli/main.js')))
  throw new Error('dist/ is missing: run `npm run build` first');

fuzzTarget(
  'cli',
  {
    seconds: 10,
    concurrency: 2,
    after: (counts) => {
      check((counts['exit 0'] ?? 0) > 0, 'no command succeeded');
      check((counts['exit 1'] ?? 0) + (counts['exit 2'] ?? 0) > 0, 'no command failed');
    },
  },
  async ({ r, index, verbose, count }) => {
    const inv = invocation(r);
    const dir = join(base, `run${index}`);
    cpSync(template, dir, { recursive: true });
    mutants(r, dir);
    const before = snapshot(dir);
    const command = `tsbpf ${inv.args.map((a) => JSON.stringify(a)).join(' ')}`;
    if (verbose) printNow(`cli: in ${dir} (kept): ${command}`);
    const res = await runCli(dir, inv);
    const after = snapshot(dir);
    if (!verbose) rmSync(dir, { recursive: true, force: true });
    const what = `${command}\n  exit ${res.code ?? res.signal}, stderr: ${JSON.stringify(res.stderr.slice(0, 600))}`;
    count(`exit ${res.code ?? res.signal}`);
    check(res.ms < HANG_MS, `killed after ${HANG_MS / 1000} s: ${what}`);
    check(res.code !== null && [0, 1, 2, 3].includes(res.code), `exit status not 0-3: ${what}`);
    const lines = (res.stdout + res.stderr).split('\n');
    check(!lines.some((l) => l.startsWith('    at ')), `a stack trace: ${what}`);
    // docs/cli.md: `verify` reports a rejection as its output (exit 1), not as an error line.
    const rejection = inv.args[0] === 'verify' && res.code === 1 && /: rejected\n/.test(res.stderr);
    if (res.code !== 0 && !rejection) {
      const errs = res.stderr.split('\n').filter((l) => l.length > 0);
      const tagged = errs.filter((l) => l.startsWith('tsbpf: '));
      check(
        tagged.length === 1 && errs.at(-1) === tagged[0],
        `stderr does not end in its one tsbpf: line: ${what}`,
      );
    }
    check(
      res.maxRssKb !== undefined && res.maxRssKb < MAX_RSS_MB * 1024,
      `peak resident size ${res.maxRssKb} KiB (bound ${MAX_RSS_MB} MiB): ${what}`,
    );
    const named = (p: string) => inv.outputs.has(p) || (p.startsWith('adir/') && inv.outputs.has(p));
    for (const [path, hash] of before) {
      const now = after.get(path);
      if (now === hash) continue;
      check(
        res.code === 0 && named(path) && path !== 'adir',
        `${path} ${now === undefined ? 'removed' : 'changed'} (${res.code === 0 ? 'not an output' : 'by a failed run'}): ${what}`,
      );
    }
    for (const path of after.keys()) {
      if (before.has(path)) continue;
      check(
        res.code === 0 && named(path),
        `${path} left behind (${res.code === 0 ? 'not an output' : 'by a failed run'}): ${what}`,
      );
    }
  },
);
