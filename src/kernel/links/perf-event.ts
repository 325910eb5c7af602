// Attachments through perf events: tracepoints (tracefs id), kprobes and uprobes (the kprobe/uprobe PMUs
// of /sys/bus/event_source/devices), and sampling events on a CPU. The event is opened with
// perf_event_open and the program attached to it through a BPF link (BPF_LINK_CREATE, attach type
// BPF_PERF_EVENT, 5.15+), or on older kernels with PERF_EVENT_IOC_SET_BPF. A program attached to a
// tracepoint or probe event runs on every CPU, whichever CPU the event was opened on.

import { existsSync, readFileSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import { attachTypeNumber } from '../../spec/attach-types.js';
import type { LinkInfo } from '../../spec/link.js';
import { KernelError } from '../errors.js';
import * as sys from '../syscall.js';
import { resolveBinary, symbolOffset } from './elf-symbols.js';
import { KernelFeatureError } from './feature-error.js';
import { BpfLink, HookLink, type KernelAttachment } from './link.js';
import { PerfType, perfDisable, perfEnable, perfEventOpen, perfSetBpf } from './native.js';
import { createLink } from './sys.js';
import type { AttachableProgram } from './types.js';

const EINVAL = 22;
const PERF_EVENT = attachTypeNumber('perf_event')!;

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Where tracefs is mounted (the directory holding `events/`), or an error saying how to mount it. */
export function tracefs(): string {
  for (const dir of TRACEFS) if (existsSync(`${dir}/events`)) return dir;
  throw new KernelFeatureError(
    'tracefs',
    'tracepoint',
    2,
    'tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)',
  );
}

/** The id of tracepoint `category/name` from tracefs. */
export function tracepointId(category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name))
    throw new TsbpfError(`bad tracepoint name ${category}/${name}`, 'tracepoint');
  const path = `${tracefs()}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new KernelError('tracepoint', 2, `no tracepoint ${category}/${name} (no ${path})`);
  }
  return Number(text.trim());
}

const PMU_DIR = '/sys/bus/event_source/devices';

/** The perf type number of dynamic PMU `name` (kprobe, uprobe), or a KernelFeatureError saying it is absent. */
export function pmuType(name: 'kprobe' | 'uprobe'): number {
  const path = `${PMU_DIR}/${name}/type`;
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    const why = name === 'kprobe' ? 'built without CONFIG_KPROBES' : 'built without CONFIG_UPROBE_EVENTS';
    throw new KernelFeatureError(
      `${name}s`,
      'perf_event_open',
      95, // EOPNOTSUPP
      `this kernel has no ${name}s (no ${PMU_DIR}/${name}: ${why})`,
    );
  }
}

/** The config bit that makes a kprobe/uprobe PMU event a return probe (`config:0` in its format). */
function retprobeBit(name: 'kprobe' | 'uprobe'): bigint {
  try {
    const text = readFileSync(`${PMU_DIR}/${name}/format/retprobe`, 'utf8').trim();
    const m = /^config:(\d+)$/.exec(text);
    if (m) return 1n << BigInt(m[1]);
  } catch {
    /* the documented default below */
  }
  return 1n;
}

/**
 * Attach `prog` to the open perf event `pfd` (which the link then owns): a BPF link, or the ioctl on
 * kernels without perf links (or when `ioctl` asks for it). The event is enabled once the program is on it.
 */
export function attachToPerfEvent(
  prog: AttachableProgram,
  pfd: number,
  what: LinkInfo,
  cookie?: bigint,
  ioctl = false,
): KernelAttachment {
  let link: KernelAttachment | undefined;
  try {
    const viaIoctl = () => {
      perfSetBpf(pfd, prog.fd);
      return new HookLink(
        what,
        () => perfDisable(pfd),
        () => sys.close(pfd),
      );
    };
    if (ioctl) link = viaIoctl();
    else {
      try {
        const fd = createLink(
          { progFd: prog.fd, target: pfd, attachType: PERF_EVENT, cookie },
          `${what.kind} ${what.target}, program ${prog.name}`,
        );
        link = new BpfLink(fd, what, [pfd]);
      } catch (e) {
        // Kernels before perf links (5.15) refuse the attach type itself; a cookie needs the link.
        if (!(e instanceof KernelError) || e.errno !== EINVAL || cookie !== undefined) throw e;
        try {
          link = viaIoctl();
        } catch {
          throw e;
        }
      }
    }
    perfEnable(pfd);
    return link;
  } catch (e) {
    // The link owns the event once made: closing it closes both.
    if (link) void link.close();
    else sys.close(pfd);
    throw e;
  }
}

/** Tracepoint `category/name` (tracefs `events/category/name`). */
export function attachTracepoint(
  prog: AttachableProgram,
  category: string,
  name: string,
  cookie?: bigint,
  ioctl = false,
): KernelAttachment {
  const id = tracepointId(category, name);
  const target = `${category}/${name}`;
  const pfd = perfEventOpen(
    { type: PerfType.TRACEPOINT, config: BigInt(id), disabled: true },
    -1,
    0,
    `tracepoint ${target}`,
  );
  return attachToPerfEvent(
    prog,
    pfd,
    { kind: 'tracepoint', program: prog.name, target, backend: 'kernel' },
    cookie,
    ioctl,
  );
}

/** A kprobe (or kretprobe) on kernel function `fn` (+ `offset`) through the kprobe PMU. */
export function attachKprobe(
  prog: AttachableProgram,
  fn: string,
  options: { retprobe?: boolean; offset?: number; cookie?: bigint } = {},
): KernelAttachment {
  const type = pmuType('kprobe');
  const kind = options.retprobe ? 'kretprobe' : 'kprobe';
  const target = options.offset ? `${fn}+${options.offset}` : fn;
  const pfd = perfEventOpen(
    {
      type,
      config: options.retprobe ? retprobeBit('kprobe') : 0n,
      config1String: fn,
      config2: BigInt(options.offset ?? 0),
      disabled: true,
    },
    -1,
    0,
    `${kind} ${target}`,
  );
  return attachToPerfEvent(
    prog,
    pfd,
    { kind, program: prog.name, target, backend: 'kernel' },
    options.cookie,
  );
}

/** Where a uprobe goes: a binary (path, library or program name) and a function or file offset in it. */
export interface UprobeOptions {
  /** Path, shared library name (`libc.so.6`) or program name (`bash`, looked up in $PATH). */
  binary: string;
  /** Function (ELF symbol) to probe; its file offset is found in the binary's symbol tables. */
  symbol?: string;
  /** File offset (with `symbol`: added to the function's offset). */
  offset?: number;
  /** Return probe. */
  retprobe?: boolean;
  /** Only this process (default: every process running the binary). */
  pid?: number;
  cookie?: bigint;
}

/** A uprobe (or uretprobe) through the uprobe PMU. */
export function attachUprobe(prog: AttachableProgram, o: UprobeOptions): KernelAttachment {
  const type = pmuType('uprobe');
  if (o.symbol === undefined && o.offset === undefined)
    throw new TsbpfError(`a uprobe on ${o.binary} needs a symbol or an offset`, `program ${prog.name}`);
  const path = resolveBinary(o.binary);
  const offset = (o.symbol !== undefined ? symbolOffset(path, o.symbol).fileOffset : 0) + (o.offset ?? 0);
  const kind = o.retprobe ? 'uretprobe' : 'uprobe';
  const target = `${path}:${o.symbol ?? ''}${o.symbol && o.offset ? '+' : ''}${o.offset ? `0x${o.offset.toString(16)}` : ''}`;
  const pid = o.pid ?? -1;
  const pfd = perfEventOpen(
    {
      type,
      config: o.retprobe ? retprobeBit('uprobe') : 0n,
      config1String: path,
      config2: BigInt(offset),
      disabled: true,
    },
    pid,
    pid === -1 ? 0 : -1,
    `${kind} ${target}`,
  );
  return attachToPerfEvent(prog, pfd, { kind, program: prog.name, target, backend: 'kernel' }, o.cookie);
}

/** Sampling events by name: the software clocks and the generic hardware counters. */
const EVENTS: Readonly<Record<string, { type: number; config: number }>> = {
  'cpu-clock': { type: PerfType.SOFTWARE, config: 0 },
  'task-clock': { type: PerfType.SOFTWARE, config: 1 },
  'page-faults': { type: PerfType.SOFTWARE, config: 2 },
  'context-switches': { type: PerfType.SOFTWARE, config: 3 },
  'cpu-cycles': { type: PerfType.HARDWARE, config: 0 },
  instructions: { type: PerfType.HARDWARE, config: 1 },
  'cache-misses': { type: PerfType.HARDWARE, config: 3 },
};

/** What a perf_event program samples: an event on one CPU (or each), by frequency or period. */
export interface PerfEventOptions {
  /** A CPU number, or 'all' (one event per online CPU, one Link for all). */
  cpu: number | 'all';
  /** A name (`cpu-clock` default, `task-clock`, `cpu-cycles`, `instructions` …) or a raw type and config. */
  event?: string | { type: number; config: number | bigint };
  /** Samples per second (default 99 when no period is given). */
  frequency?: number;
  /** One sample every `period` events. */
  period?: number;
  /** Only this process (default: every process on the CPU). */
  pid?: number;
}

/** A group of links closed together (perf events on every CPU). */
class LinkGroup implements KernelAttachment {
  constructor(
    private readonly links: readonly KernelAttachment[],
    private readonly what: LinkInfo,
  ) {}
  detach(): void {
    for (const l of this.links) l.detach();
  }
  close(): void {
    let first: unknown;
    for (const l of this.links) {
      try {
        void l.close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }
  pin(_path: string): void {
    throw new TsbpfError('perf events on all CPUs are one link per CPU: pin each, or attach per CPU');
  }
  info(): LinkInfo {
    return this.what;
  }
}

function onlineCpus(): number[] {
  const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) cpus.push(c);
  }
  return cpus;
}

/** A perf_event program on a sampling event. */
export function attachPerfEvent(prog: AttachableProgram, o: PerfEventOptions): KernelAttachment {
  const name = typeof o.event === 'string' || o.event === undefined ? (o.event ?? 'cpu-clock') : 'raw';
  const ev = typeof o.event === 'object' ? o.event : EVENTS[name];
  if (!ev)
    throw new TsbpfError(
      `unknown perf event ${name} (known: ${Object.keys(EVENTS).join(', ')}, or { type, config })`,
      `program ${prog.name}`,
    );
  if (o.cpu === 'all') {
    const links: KernelAttachment[] = [];
    try {
      for (const cpu of onlineCpus()) links.push(attachPerfEvent(prog, { ...o, cpu }));
    } catch (e) {
      for (const l of links) void l.close();
      throw e;
    }
    return new LinkGroup(links, {
      kind: 'perf_event',
      program: prog.name,
      target: `${name} on all CPUs`,
      backend: 'kernel',
    });
  }
  const freq = o.period === undefined;
  const target = `${name} on CPU ${o.cpu}`;
  const pfd = perfEventOpen(
    {
      type: ev.type,
      config: BigInt(ev.config),
      sample: freq ? (o.frequency ?? 99) : o.period,
      freq,
      disabled: true,
    },
    o.pid ?? -1,
    o.cpu,
    `perf event ${target}`,
  );
  return attachToPerfEvent(prog, pfd, { kind: 'perf_event', program: prog.name, target, backend: 'kernel' });
}
