// pcap-filter expressions and their compiler (src/cbpf/filter): expressions of the tcpdump-checked corpus,
// combined with and/or/not, with tokens and characters damaged, and token soup, for each link type. Every
// expression compiles or throws a FilterSyntaxError (a TsbpfError) whose column lies in the expression —
// never another exception, a hang or a giant allocation. What compiles passes the kernel's classic checks
// within BPF_MAXINSNS, and the optimiser changes no verdict: the optimised and unoptimised programs give
// the same answer on the packets of the fixture captures (an expression the optimiser finds matches
// nothing matches nothing unoptimised either). Compiled forward-only, the program translates to eBPF that
// our verifier accepts and that the eBPF engines run to the classic interpreter's verdicts.

import { readFileSync } from 'node:fs';
import {
  checkFilter,
  compileFilter,
  createPacketFilter,
  FilterSyntaxError,
  runFilter,
  type SockFilter,
} from '../../src/cbpf/index.js';
import { TsbpfError } from '../../src/errors.js';
import { LinkType, readCapture } from '../../src/net/pcap.js';
import { Runtime } from '../../src/vm/runtime.js';
import { ETHER_CORPUS, RAW_CORPUS, SLL_CORPUS } from '../cbpf/corpus.js';
import { check, describeThrown, fuzzTarget, printNow, type Rng } from './harness.js';

const DIR = 'test/fixtures/pcap/';
const packetsOf = (files: string[]) =>
  files.flatMap((f) => readCapture(new Uint8Array(readFileSync(DIR + f))).packets.map((p) => p.data));
const GROUPS = [
  { linkType: LinkType.ETHERNET, corpus: ETHER_CORPUS, packets: packetsOf(['crafted.pcap', 'real.pcap']) },
  { linkType: LinkType.RAW, corpus: RAW_CORPUS, packets: packetsOf(['crafted-raw.pcap']) },
  { linkType: LinkType.LINUX_SLL, corpus: SLL_CORPUS, packets: packetsOf(['crafted-sll.pcap']) },
];

const PIECES = [
  'and',
  'or',
  'not',
  '!',
  '&&',
  '||',
  '(',
  ')',
  '[',
  ']',
  ':',
  '&',
  '|',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<<',
  '>>',
  '=',
  '==',
  '!=',
  '<',
  '>',
  '<=',
  '>=',
  'host',
  'net',
  'mask',
  'port',
  'portrange',
  'src',
  'dst',
  'ether',
  'ip',
  'ip6',
  'tcp',
  'udp',
  'icmp',
  'proto',
  'protochain',
  'vlan',
  'mpls',
  'len',
  'less',
  'greater',
  'broadcast',
  'multicast',
  'gateway',
  'tcpflags',
  'tcp-syn',
  'icmptype',
  '10.0.0.1',
  '10.0.0.0/8',
  '10',
  'fd00::1',
  'ff:ff:ff:ff:ff:ff',
  '0x800',
  '4294967295',
  '4294967296',
  '-1',
  '0',
  '65535',
  '1-65535',
  'ip[0]',
  'tcp[13]',
  'ether[12:2]',
  'ip[2:4]',
  'x',
  '\\',
  '"',
  'domain',
  'pppoes',
  'geneve',
  'inbound',
];

function expression(r: Rng, corpus: readonly string[]): string {
  switch (r.int(5)) {
    case 0:
      return r.pick(corpus);
    case 1: {
      // Two or three corpus expressions joined, some negated or parenthesised.
      const parts = Array.from({ length: 2 + r.int(2) }, () => {
        const e = r.pick(corpus) || 'ip';
        return r.chance(0.3) ? `not (${e})` : r.chance(0.3) ? `(${e})` : e;
      });
      return parts.reduce((a, b) => `${a} ${r.pick(['and', 'or', '&&', '||'])} ${b}`);
    }
    case 2: {
      // A token replaced, dropped or repeated.
      const words = (r.pick(corpus) || 'ip').split(' ');
      const at = r.int(words.length);
      const roll = r.int(3);
      if (roll === 0) words[at] = r.pick(PIECES);
      else if (roll === 1) words.splice(at, 1);
      else words.splice(at, 0, words[r.int(words.length)]!);
      return words.join(' ');
    }
    case 3: {
      const e = r.pick(corpus) || 'ip';
      const at = r.int(e.length + 1);
      return e.slice(0, at) + '()[]:&|!<>=-+0x.9/ '[r.int(21)] + e.slice(at + 1);
    }
    default:
      return Array.from({ length: 1 + r.int(7) }, () => r.pick(PIECES)).join(' ');
  }
}

/** The program, or the FilterSyntaxError's message. */
function compile(
  expr: string,
  linkType: number,
  optimize: boolean,
  forwardOnly: boolean,
): SockFilter[] | string {
  try {
    return compileFilter(expr, { linkType, optimize, forwardOnly });
  } catch (e) {
    check(
      e instanceof FilterSyntaxError,
      () => `${JSON.stringify(expr)}: compileFilter threw ${describeThrown(e)}`,
    );
    check(
      e.column >= 0 && e.column <= expr.length + 1,
      `${JSON.stringify(expr)}: error at column ${e.column} of ${expr.length}: ${e.message}`,
    );
    return e.reason;
  }
}

const runtime = new Runtime();

fuzzTarget(
  'filter',
  {
    seconds: 6,
    after: (counts, n) => {
      check((counts.compiled ?? 0) > n / 5, `only ${counts.compiled} of ${n} expressions compiled`);
      check((counts['engines agree'] ?? 0) > 0, 'no translation was run on the eBPF engines');
    },
  },
  ({ r, verbose, count, size }) => {
    const group = r.pick(GROUPS);
    const expr = expression(r, group.corpus);
    size(expr.length);
    if (verbose) printNow(`filter input (link type ${group.linkType}): ${JSON.stringify(expr)}`);
    const forwardOnly = r.chance(0.5);
    const optimised = compile(expr, group.linkType, true, forwardOnly);
    const plain = compile(expr, group.linkType, false, forwardOnly);
    const show = JSON.stringify(expr);
    if (typeof plain === 'string') {
      // Syntax is the parser's business: the optimiser cannot make a bad expression good.
      check(typeof optimised === 'string', `${show}: compiles optimised, not unoptimised (${plain})`);
      count('rejected');
      return;
    }
    count('compiled');
    const samples = Array.from({ length: 12 }, () => r.pick(group.packets));
    for (const prog of typeof optimised === 'string' ? [plain] : [optimised, plain]) {
      check(prog.length <= 4096, `${show}: ${prog.length} instructions`);
      try {
        checkFilter(prog, { backwardJumps: !forwardOnly });
      } catch (e) {
        throw new Error(`${show}: the compiled program fails the classic checks: ${describeThrown(e)}`);
      }
    }
    const plainVerdicts = samples.map((p) => runFilter(plain, p));
    if (typeof optimised === 'string') {
      check(
        /rejects all packets/.test(optimised),
        `${show}: compiles unoptimised, not optimised (${optimised})`,
      );
      check(
        plainVerdicts.every((v) => v === 0),
        `${show}: the optimiser says it matches nothing, but it matches`,
      );
      count('rejects all');
      return;
    }
    const verdicts = samples.map((p) => runFilter(optimised, p));
    check(
      JSON.stringify(verdicts) === JSON.stringify(plainVerdicts),
      () => `${show}: optimised verdicts ${verdicts}, unoptimised ${plainVerdicts}`,
    );
    if (!forwardOnly || r.chance(0.7)) return;
    const engine = r.chance(0.3) ? 'jit' : 'interp';
    let filter: ReturnType<typeof createPacketFilter>;
    try {
      filter = createPacketFilter(optimised, { engine, runtime });
    } catch (e) {
      check(e instanceof TsbpfError, () => `${show}: createPacketFilter threw ${describeThrown(e)}`);
      count('untranslatable');
      return;
    }
    try {
      check(filter.verified, () => `${show}: the verifier rejected the translation: ${filter.verifierLog}`);
      samples.forEach((p, i) => {
        const got = filter.run(p);
        check(
          got === verdicts[i],
          () => `${show} [${engine}] on packet ${i}: ${got}, classic ${verdicts[i]}`,
        );
      });
    } finally {
      filter.close();
    }
    count('engines agree');
  },
);
