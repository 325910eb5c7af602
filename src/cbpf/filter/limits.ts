// What the filter compiler accepts at most, and the error for going past it. Each limit bounds a cost:
// together they bound a compilation's time and memory, whatever the expression.
//
// - nesting: libpcap's parser (bison) keeps at most 10,000 entries on its stack and fails with "memory
//   exhausted" past that (tcpdump 4.99.3 / libpcap 1.10.3 accept 9,995 nested parentheses around `udp`,
//   not 9,996, and 9,990 `not`s). The parser here has no recursion at all; it refuses an eleventh
//   thousand of pending parentheses, brackets, `not`s, unary minuses and operators waiting for their
//   right operand.
// - program: classic BPF's BPF_MAXINSNS. libpcap's compiler itself prints longer programs (tcpdump -d),
//   but the kernel refuses them with EINVAL and libpcap then filters in user space ("Warning: Kernel
//   filter failed: Invalid argument"); no program over the limit leaves this compiler.
// - graph: instructions in the block graph before optimisation, built as the expression is parsed
//   (16 times the program limit: no list of ports or hosts that long optimises to a program that fits).
// - length: characters of the expression (tokens cost memory before they cost instructions).
//
// The optimiser's own work is linear in the graph: a fixed number of rounds, each visiting every block
// and edge a bounded number of times (facts per edge, jump-threading hops and or/and chains are capped in
// ./optimize.ts).

import { FilterSyntaxError } from './lexer.js';

/** Bounds on what the filter compiler accepts, so that no expression takes unbounded time or memory. */
export const FILTER_LIMITS = {
  /** Characters in an expression. */
  length: 262_144,
  /** Parentheses, brackets and operators pending at once while parsing (libpcap's parser stack depth). */
  nesting: 10_000,
  /** Instructions in the block graph before optimisation. */
  graph: 65_536,
  /** Instructions in the compiled program (BPF_MAXINSNS, what the kernel accepts). */
  program: 4_096,
} as const;

/** The name of one of FILTER_LIMITS. */
export type FilterLimit = keyof typeof FILTER_LIMITS;

/** An expression that goes past one of FILTER_LIMITS. `column` is 0 when it is the expression as a whole. */
export class FilterLimitError extends FilterSyntaxError {
  override name = 'FilterLimitError';
  constructor(
    readonly limit: FilterLimit,
    reason: string,
    column: number,
    text: string,
  ) {
    super(reason, column, text);
  }
  /** The limit that was exceeded. */
  get max(): number {
    return FILTER_LIMITS[this.limit];
  }
}
