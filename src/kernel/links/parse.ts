// Attach targets written as words, for command lines (`tsbpf prog attach PROG TARGET…`): one grammar,
// each form giving one AttachTarget. The forms, with optional words in brackets:
//   tracepoint CATEGORY/NAME              raw_tracepoint NAME            tracing
//   kprobe|kretprobe FUNCTION[+OFFSET]    kprobe_multi|kretprobe_multi PATTERN
//   uprobe|uretprobe BINARY:SYMBOL[+OFFSET] | BINARY:OFFSET  [pid N]
//   uprobe_multi|uretprobe_multi BINARY:PATTERN  [pid N]
//   usdt BINARY:PROVIDER:NAME  [pid N]
//   perf_event cpu N|all [event NAME] [freq HZ | period N] [pid N]
//   tcx_ingress|tcx_egress dev IFACE [netns NS]
//   tc_ingress|tc_egress dev IFACE [netns NS] [priority N]
//   xdp dev IFACE [netns NS] [mode skb|native]
//   cgroup PATH [ATTACH_TYPE]              socket FD
//   sk_lookup|flow_dissector [netns NS]
//   netfilter ipv4|ipv6 prerouting|input|forward|output|postrouting PRIORITY [defrag] [netns NS]
//   iter [map FD] [pid N | tid N]
// A sockmap is a map the caller holds open: give it through the library (`{ kind: 'sockmap', map }`).

import { TsbpfError } from '../../errors.js';
import type { NetfilterOptions } from './net.js';
import type { AttachTarget } from './target.js';

/** The grammar above, for error messages and help texts. */
export const ATTACH_TARGET_FORMS: readonly string[] = [
  'tracepoint CATEGORY/NAME',
  'raw_tracepoint NAME',
  'kprobe|kretprobe FUNCTION[+OFFSET]',
  'kprobe_multi|kretprobe_multi PATTERN',
  'uprobe|uretprobe BINARY:SYMBOL[+OFFSET] [pid N]',
  'uprobe_multi|uretprobe_multi BINARY:PATTERN [pid N]',
  'usdt BINARY:PROVIDER:NAME [pid N]',
  'perf_event cpu N|all [event NAME] [freq HZ | period N] [pid N]',
  'tcx_ingress|tcx_egress dev IFACE [netns NS]',
  'tc_ingress|tc_egress dev IFACE [netns NS] [priority N]',
  'xdp dev IFACE [netns NS] [mode skb|native]',
  'cgroup PATH [ATTACH_TYPE]',
  'socket FD',
  'sk_lookup|flow_dissector [netns NS]',
  'netfilter ipv4|ipv6 HOOK PRIORITY [defrag] [netns NS]',
  'tracing',
  'iter [map FD] [pid N | tid N]',
];

const bad = (why: string): never => {
  throw new TsbpfError(`${why} (forms: ${ATTACH_TARGET_FORMS.join('; ')})`, 'attach target');
};

function integer(text: string | undefined, what: string): number {
  if (text === undefined || !/^-?(0x[0-9a-fA-F]+|\d+)$/.test(text))
    return bad(`${what} must be an integer, got ${text ?? 'nothing'}`);
  return text.startsWith('-') ? -Number(text.slice(1)) : Number(text);
}

/** `NAME VALUE` pairs after the positional words; `flags` are words standing alone. */
function options(
  words: readonly string[],
  keys: readonly string[],
  flags: readonly string[] = [],
): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (flags.includes(w)) {
      out.set(w, '');
      continue;
    }
    if (!keys.includes(w))
      bad(`unexpected ${w}${keys.length ? ` (options here: ${[...keys, ...flags].join(', ')})` : ''}`);
    const v = words[++i];
    if (v === undefined) bad(`${w} needs a value`);
    if (out.has(w)) bad(`${w} given twice`);
    out.set(w, v!);
  }
  return out;
}

/** `SYMBOL[+OFFSET]` or a bare offset. */
function symbolAndOffset(text: string): { symbol?: string; offset?: number } {
  const m = /^([^+]*?)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(text)!;
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(m[1]!) && m[2] === undefined) return { offset: Number(m[1]) };
  if (!m[1]) return bad(`no symbol in ${text}`);
  return { symbol: m[1], offset: m[2] === undefined ? undefined : Number(m[2]) };
}

function binaryAnd(text: string | undefined, what: string): [binary: string, rest: string] {
  const colon = text?.lastIndexOf(':') ?? -1;
  if (!text || colon <= 0 || colon === text.length - 1)
    return bad(
      `${what} wants BINARY:${what.endsWith('multi') ? 'PATTERN' : 'SYMBOL'}, got ${text ?? 'nothing'}`,
    );
  return [text.slice(0, colon), text.slice(colon + 1)];
}

/** Parse an attach target from words (the grammar at the top of this file). */
export function parseAttachTarget(words: readonly string[]): AttachTarget {
  const [kind, first, ...rest] = words;
  const pid = (o: Map<string, string>) => (o.has('pid') ? integer(o.get('pid'), 'pid') : undefined);
  switch (kind) {
    case 'tracepoint':
    case 'tp': {
      const parts = first?.split('/') ?? [];
      if (parts.length !== 2 || !parts[0] || !parts[1])
        return bad(`tracepoint wants CATEGORY/NAME, got ${first ?? 'nothing'}`);
      options(rest, []);
      return { kind: 'tracepoint', category: parts[0], name: parts[1] };
    }
    case 'raw_tracepoint':
    case 'raw_tp':
      if (!first) return bad('raw_tracepoint wants a NAME');
      options(rest, []);
      return { kind: 'raw_tracepoint', name: first };
    case 'kprobe':
    case 'kretprobe': {
      if (!first) return bad(`${kind} wants a FUNCTION`);
      options(rest, []);
      const { symbol, offset } = symbolAndOffset(first);
      if (!symbol) return bad(`${kind} wants a FUNCTION, got ${first}`);
      return { kind: 'kprobe', function: symbol, offset, retprobe: kind === 'kretprobe' };
    }
    case 'kprobe_multi':
    case 'kretprobe_multi':
      if (!first) return bad(`${kind} wants a PATTERN`);
      options(rest, []);
      return { kind: 'kprobe_multi', functions: first, retprobe: kind === 'kretprobe_multi' };
    case 'uprobe':
    case 'uretprobe': {
      const [binary, where] = binaryAnd(first, kind);
      const o = options(rest, ['pid']);
      return {
        kind: 'uprobe',
        binary,
        ...symbolAndOffset(where),
        retprobe: kind === 'uretprobe',
        pid: pid(o),
      };
    }
    case 'usdt': {
      const parts = first?.split(':') ?? [];
      if (parts.length < 3 || parts.some((p) => !p))
        return bad(`usdt wants BINARY:PROVIDER:NAME, got ${first ?? 'nothing'}`);
      const o = options(rest, ['pid']);
      const name = parts.pop()!;
      const provider = parts.pop()!;
      return { kind: 'usdt', binary: parts.join(':'), provider, name, pid: pid(o) };
    }
    case 'uprobe_multi':
    case 'uretprobe_multi': {
      const [binary, pattern] = binaryAnd(first, kind);
      const o = options(rest, ['pid']);
      return {
        kind: 'uprobe_multi',
        binary,
        symbols: pattern,
        retprobe: kind === 'uretprobe_multi',
        pid: pid(o),
      };
    }
    case 'perf_event': {
      const o = options(words.slice(1), ['cpu', 'event', 'freq', 'period', 'pid']);
      const cpu = o.get('cpu');
      if (cpu === undefined) return bad('perf_event wants cpu N or cpu all');
      if (o.has('freq') && o.has('period')) return bad('perf_event takes freq or period, not both');
      return {
        kind: 'perf_event',
        cpu: cpu === 'all' ? 'all' : integer(cpu, 'cpu'),
        event: o.get('event'),
        frequency: o.has('freq') ? integer(o.get('freq'), 'freq') : undefined,
        period: o.has('period') ? integer(o.get('period'), 'period') : undefined,
        pid: pid(o),
      };
    }
    case 'tcx_ingress':
    case 'tcx_egress':
    case 'tc_ingress':
    case 'tc_egress':
    case 'xdp': {
      const o = options(
        words.slice(1),
        kind === 'xdp'
          ? ['dev', 'netns', 'mode']
          : kind.startsWith('tc_')
            ? ['dev', 'netns', 'priority']
            : ['dev', 'netns'],
      );
      const dev = o.get('dev');
      if (dev === undefined) return bad(`${kind} wants dev IFACE`);
      const iface = /^\d+$/.test(dev) ? Number(dev) : dev;
      const netns = o.get('netns');
      if (kind === 'xdp') {
        const mode = o.get('mode');
        if (mode !== undefined && mode !== 'skb' && mode !== 'native')
          return bad(`xdp mode is skb or native, got ${mode}`);
        return { kind: 'xdp', iface, netns, mode };
      }
      const direction = kind.endsWith('ingress') ? 'ingress' : 'egress';
      if (kind.startsWith('tcx')) return { kind: 'tcx', iface, direction, netns };
      return {
        kind: 'tc',
        iface,
        direction,
        netns,
        priority: o.has('priority') ? integer(o.get('priority'), 'priority') : undefined,
      };
    }
    case 'cgroup':
      if (!first) return bad('cgroup wants a PATH');
      if (rest.length > 1) bad(`unexpected ${rest[1]}`);
      return { kind: 'cgroup', path: first, attachType: rest[0] };
    case 'socket':
      return rest.length ? bad(`unexpected ${rest[0]}`) : { kind: 'socket', fd: integer(first, 'socket FD') };
    case 'sk_lookup':
    case 'flow_dissector':
      return { kind, netns: options(words.slice(1), ['netns']).get('netns') };
    case 'netfilter': {
      const [family, hook, priority, ...more] = words.slice(1);
      if (family !== 'ipv4' && family !== 'ipv6')
        return bad(`netfilter family is ipv4 or ipv6, got ${family ?? 'nothing'}`);
      const hooks = ['prerouting', 'input', 'forward', 'output', 'postrouting'];
      if (!hook || !hooks.includes(hook))
        return bad(`netfilter hook is one of ${hooks.join(', ')}, got ${hook ?? 'nothing'}`);
      const o = options(more, ['netns'], ['defrag']);
      return {
        kind: 'netfilter',
        family,
        hook: hook as NetfilterOptions['hook'],
        priority: integer(priority, 'netfilter PRIORITY'),
        defrag: o.has('defrag') || undefined,
        netns: o.get('netns'),
      };
    }
    case 'tracing':
      options(words.slice(1), []);
      return { kind: 'tracing' };
    case 'iter': {
      const o = options(words.slice(1), ['map', 'pid', 'tid']);
      if (o.has('pid') && o.has('tid')) return bad('iter takes pid or tid, not both');
      return {
        kind: 'iter',
        map: o.has('map') ? integer(o.get('map'), 'map FD') : undefined,
        pid: pid(o),
        tid: o.has('tid') ? integer(o.get('tid'), 'tid') : undefined,
      };
    }
    case 'sockmap':
      return bad(
        'a sockmap is held open by the caller: attach through the library ({ kind: "sockmap", map })',
      );
    default:
      return bad(kind === undefined ? 'no target given' : `unknown target ${kind}`);
  }
}
