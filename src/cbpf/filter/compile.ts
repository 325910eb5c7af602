// The pcap-filter language → classic BPF, in four phases, one file each:
//
//   ./lexer.ts       tokens
//   ./parser.ts      the expression grammar (no recursion, nesting bounded), building the block graph as it
//                    parses (./primitives.ts for `host`, `port`, `vlan` ..., ./blocks.ts for the graph)
//   ./optimize.ts    libpcap's optimisations, in time linear in the graph (./values.ts: what it knows)
//   ./layout.ts      the graph as instructions, with long jumps through `ja`
//
// and the limits of ./limits.ts checked on the way: the expression's length, its nesting, the graph's
// size, and the program's (never longer than BPF_MAXINSNS).

import { LinkType } from '../../net/pcap.js';
import type { SockFilter } from '../insn.js';
import { close, type Ret, withBudget } from './blocks.js';
import { instructionCount, layout } from './layout.js';
import { FilterSyntaxError, tokenize } from './lexer.js';
import { FILTER_LIMITS, FilterLimitError } from './limits.js';
import { optimize } from './optimize.js';
import { FilterParser } from './parser.js';

/** Options of compileFilter. */
export interface FilterOptions {
  /** Link type of the packets (1 Ethernet, 101 raw IP, 113 Linux cooked). Default Ethernet. */
  linkType?: number;
  /** Value returned on a match (tcpdump uses 262144). */
  snaplen?: number;
  /**
   * Run the optimiser (default true). As with libpcap, an optimised expression that no packet can match
   * is an error ("expression rejects all packets").
   */
  optimize?: boolean;
  /**
   * Emit only forward jumps, so the kernel accepts the program and its eBPF translation verifies:
   * `protochain` is unrolled 8 headers deep instead of libpcap's loop (default false).
   */
  forwardOnly?: boolean;
  /**
   * Netmask of the capture's network, for `ip broadcast` (default 0, what tcpdump uses for a capture
   * file: the broadcast test then accepts destinations 0.0.0.0 and 255.255.255.255).
   */
  netmask?: number;
}

/**
 * Compiles a filter expression into a classic BPF program of at most FILTER_LIMITS.program instructions.
 * Throws FilterSyntaxError (FilterLimitError for an expression over one of FILTER_LIMITS).
 */
export function compileFilter(expr: string, opts: FilterOptions = {}): SockFilter[] {
  if (expr.length > FILTER_LIMITS.length)
    throw new FilterLimitError(
      'length',
      `expression too long: ${expr.length} characters, at most ${FILTER_LIMITS.length}`,
      FILTER_LIMITS.length + 1,
      expr,
    );
  const parser = new FilterParser(
    expr,
    tokenize(expr),
    opts.linkType ?? LinkType.ETHERNET,
    opts.forwardOnly ?? false,
    (opts.netmask ?? 0) >>> 0,
  );
  const accept: Ret = { kind: 'ret', k: (opts.snaplen ?? 262144) >>> 0 };
  const reject: Ret = { kind: 'ret', k: 0 };
  let root = close(
    withBudget(FILTER_LIMITS.graph, () => parser.parse()),
    accept,
    reject,
  );
  if (opts.optimize ?? true) {
    root = optimize(root, accept, reject);
    if (root === reject) throw new FilterSyntaxError('expression rejects all packets', 0, expr);
  }
  const tooLong = (n: number) =>
    new FilterLimitError(
      'program',
      `expression too complex: the program needs ${n} instructions, more than classic BPF's ${FILTER_LIMITS.program} (BPF_MAXINSNS)`,
      0,
      expr,
    );
  const before = instructionCount(root);
  if (before > FILTER_LIMITS.program) throw tooLong(before);
  const prog = layout(root);
  if (prog.length > FILTER_LIMITS.program) throw tooLong(prog.length);
  return prog;
}
