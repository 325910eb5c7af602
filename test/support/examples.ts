// The example XDP programs (every examples/xdp/*.o) and the map setup each needs before a run, shared by the
// tests that run all of them (against the kernel, across engines and entry points).
import { readdirSync, readFileSync } from 'node:fs';

export const XDP_EXAMPLES: readonly string[] = readdirSync('examples/xdp')
  .filter((f) => f.endsWith('.o'))
  .map((f) => f.slice(0, -2))
  .sort();

/** Entries to store before running (key/value hex, or a program name for program arrays). */
export const XDP_EXAMPLE_SETUP: Readonly<
  Record<string, readonly { map: string; key: string; value: string }[]>
> = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync('examples/xdp/setup.json', 'utf8'))).filter(([k]) => k !== '//'),
) as Record<string, { map: string; key: string; value: string }[]>;
