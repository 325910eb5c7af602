// `tsbpf filter EXPR -r in.pcap [-w out.pcap] [-c N] [-d|-dd|-ddd] [--ebpf] [--engine cbpf|interp|jit]`:
// compiles a pcap-filter expression to classic BPF and prints the matching packets like tcpdump, or
// dumps the program in tcpdump's formats or as translated eBPF. The eBPF engines run the translation as a
// socket_filter program (verified first; run checked, with a warning, if the verifier rejects it).

import type { Command } from 'commander';
import { disassemble } from '../../asm/index.js';
import {
  cbpfToEbpf,
  compileFilter,
  createPacketFilter,
  FILTER_ENGINES,
  type FilterEngineName,
  formatAsm,
  formatC,
  formatDecimal,
} from '../../cbpf/index.js';
import { RuntimeFault } from '../../errors.js';
import { LinkType, summarize } from '../../net/index.js';
import type { RunLimits } from '../../vm/limits.js';
import { CliError, EXIT } from '../errors.js';
import { Files } from '../files.js';
import { checkTime, type LimitFlags, limitOptions, runLimits } from '../limits.js';
import { type CaptureFile, captureWriter, openCaptureFile } from '../objects.js';

const LINK_NAMES: Record<string, number> = {
  EN10MB: LinkType.ETHERNET,
  RAW: LinkType.RAW,
  LINUX_SLL: LinkType.LINUX_SLL,
};

interface Opts extends LimitFlags {
  read?: string;
  write?: string;
  count?: string;
  d?: number;
  ebpf?: boolean;
  engine: string;
  linktype?: string;
  netmask?: string;
}

export function register(program: Command): void {
  const filter = program
    .command('filter')
    .description('compile a pcap-filter expression to classic BPF and run it over a capture')
    .argument('<expr...>', 'filter expression (tcpdump syntax)')
    .option('-r, --read <file>', 'pcap or pcapng capture to read')
    .option('-w, --write <file>', 'write matching packets to this pcap file')
    .option('-c, --count <n>', 'stop after n matching packets')
    .option(
      '-d',
      'dump the program as assembly (repeat: -dd C array, -ddd decimal)',
      (_v, prev: number) => prev + 1,
      0,
    )
    .option('--ebpf', 'print the program translated to eBPF')
    .option(
      '--netmask <mask>',
      "netmask for 'ip broadcast' (dotted quad or prefix length; default 0 as tcpdump -r)",
    )
    .option('-y, --linktype <name>', 'link type when no capture is read: EN10MB, RAW, LINUX_SLL', 'EN10MB')
    .option(
      '--engine <engine>',
      'cbpf (classic interpreter), interp or jit (the eBPF translation as a socket filter)',
      'jit',
    );
  limitOptions(filter).action((exprWords: string[], opts: Opts) => run(exprWords.join(' '), opts));
}

async function run(expr: string, opts: Opts): Promise<void> {
  const started = performance.now();
  // Compared before anything is opened: -w never overwrites the capture it reads.
  const files = new Files().input(opts.read, '-r').output(opts.write, '-w').open();
  let counts: { matched: number; total: number } | undefined;
  try {
    // The capture is read in chunks and matches are written as they are found: big files stay small.
    const input = opts.read ? openCaptureFile(opts.read) : undefined;
    try {
      counts = await filterCapture(expr, opts, input, files, runLimits(opts, started));
    } finally {
      input?.close();
    }
    files.commit();
  } finally {
    files.discard();
  }
  if (counts) process.stderr.write(`${counts.matched} packets matched of ${counts.total} read\n`);
}

/** Yield to the event loop this often (ms), so that Ctrl-C can remove the temporary -w file. */
const YIELD_MS = 50;

async function filterCapture(
  expr: string,
  opts: Opts,
  input: CaptureFile | undefined,
  files: Files,
  limits: RunLimits,
): Promise<{ matched: number; total: number } | undefined> {
  const capture = input?.stream;
  const linkType = capture ? capture.header.linkType : LINK_NAMES[opts.linktype ?? 'EN10MB'];
  if (linkType === undefined)
    throw new CliError(`unknown link type '${opts.linktype}' (EN10MB, RAW, LINUX_SLL)`, 2);
  const netmask = parseNetmask(opts.netmask);
  const prog = compileFilter(expr, { linkType, netmask });
  const d = opts.d ?? 0;
  if (d > 0 || opts.ebpf) {
    if (d === 1) process.stdout.write(formatAsm(prog));
    else if (d === 2) process.stdout.write(formatC(prog));
    else if (d >= 3) process.stdout.write(formatDecimal(prog));
    if (opts.ebpf) process.stdout.write(`${disassemble(cbpfToEbpf(prog)).join('\n')}\n`);
    return undefined;
  }
  if (!capture)
    throw new CliError('filter: -r FILE is required to filter packets (or use -d/-dd/-ddd/--ebpf)', 2);
  if (!(FILTER_ENGINES as readonly string[]).includes(opts.engine))
    throw new CliError(`filter: unknown engine '${opts.engine}' (expected ${FILTER_ENGINES.join(', ')})`, 2);
  const limit = opts.count === undefined ? Number.POSITIVE_INFINITY : Number(opts.count);
  if (!Number.isInteger(limit) && limit !== Number.POSITIVE_INFINITY)
    throw new CliError(`filter: bad count '${opts.count}'`, 2);
  // Filtering uses forward jumps only (protochain unrolled rather than libpcap's loop, which a crafted
  // packet can keep going forever): the eBPF translation then verifies and every run ends.
  const runnable = compileFilter(expr, { linkType, netmask, forwardOnly: true });
  const filter = createPacketFilter(runnable, { engine: opts.engine as FilterEngineName, limits });
  if (!filter.verified)
    process.stderr.write(
      `tsbpf: warning: the verifier rejected the eBPF translation; running it checked\n${filter.verifierLog}\n`,
    );
  let matched = 0;
  let total = 0;
  let yielded = performance.now();
  try {
    const target = files.writer('-w');
    const out = target ? captureWriter(target, { linkType, snaplen: capture.header.snaplen }) : undefined;
    checkTime(limits, opts);
    for (const pkt of capture.packets()) {
      if (matched >= limit) break;
      let verdict: number;
      try {
        verdict = filter.run(pkt.data, pkt.origLen);
      } catch (e) {
        if (!(e instanceof RuntimeFault)) throw e;
        throw new CliError(`${opts.read}: packet ${total}: the filter faulted: ${e.message}`, EXIT.fault);
      }
      total++;
      if (verdict !== 0) {
        matched++;
        if (out) out.write(pkt.data, pkt.origLen, pkt.tsSec, pkt.tsNsec);
        else process.stdout.write(`${summarize(pkt.data, linkType, pkt.origLen)}\n`);
      }
      if ((total & 1023) === 0) checkTime(limits, opts);
      if ((total & 1023) === 0 && performance.now() - yielded >= YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yielded = performance.now();
      }
    }
    out?.flush();
  } finally {
    filter.close();
  }
  return { matched, total };
}

/** `255.255.255.0` or `24` → the mask as an unsigned 32-bit number. */
function parseNetmask(text: string | undefined): number {
  if (text === undefined) return 0;
  if (/^\d{1,2}$/.test(text) && Number(text) <= 32)
    return Number(text) === 0 ? 0 : (~0 << (32 - Number(text))) >>> 0;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const bytes = m?.slice(1).map(Number);
  if (!bytes || bytes.some((b) => b > 255)) throw new CliError(`filter: bad netmask '${text}'`, 2);
  return bytes.reduce((a, b) => a * 256 + b, 0) >>> 0;
}
