// Module loader hooks (registered by ./trace-preload.ts with `module.register`) that let `tsbpf trace` wrap
// the exports of an ES module without changing its code: every import of a traced file resolves to a
// wrapper module `FILE?tsbpf-probe`, which imports the original, re-exports everything and replaces the
// traced exports with their probe wrappers. Only the wrapper itself resolves to the original. Calls the
// module makes to its own functions internally do not go through the export and are not traced.

interface HookData {
  /** File URL -> export names to wrap. */
  targets: Record<string, string[]>;
  /** File URL -> the FILE#EXPORT names (same order), what the report calls them. */
  specs: Record<string, string[]>;
}

interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;
interface ResolveContext {
  parentURL?: string;
  conditions?: string[];
  importAttributes?: Record<string, string>;
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array | null;
  shortCircuit?: boolean;
}
type NextLoad = (url: string, context: { format?: string | null }) => Promise<LoadResult>;

const MARK = 'tsbpf-probe';
let data: HookData = { targets: {}, specs: {} };

export function initialize(d: HookData): void {
  data = d;
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<ResolveResult> {
  const r = await next(specifier, context);
  const wanted = data.targets[r.url];
  if (!wanted || r.format !== 'module') return r; // CommonJS files are wrapped by the preload
  if (context.parentURL === `${r.url}?${MARK}`) return r;
  return { url: `${r.url}?${MARK}`, format: 'module', shortCircuit: true };
}

export async function load(
  url: string,
  context: { format?: string | null },
  next: NextLoad,
): Promise<LoadResult> {
  if (!url.endsWith(`?${MARK}`)) return next(url, context);
  const original = url.slice(0, -(MARK.length + 1));
  const names = data.targets[original] ?? [];
  const specs = data.specs[original] ?? [];
  const { source } = await next(original, { format: 'module' });
  const text = typeof source === 'string' ? source : new TextDecoder().decode(source as Uint8Array);
  const hasDefault = /\bexport\s+default\b|\bas\s+default\b/.test(text);
  const o = JSON.stringify(original);
  const lines = [
    `import * as original from ${o};`,
    `export * from ${o};`,
    `const trace = globalThis[Symbol.for('tsbpf.trace')];`,
  ];
  names.forEach((name, i) => {
    const local = `traced_${i}`;
    const spec = JSON.stringify(specs[i] ?? name);
    lines.push(`const ${local} = trace.wrap(${spec}, original[${JSON.stringify(name)}]);`);
    lines.push(`export { ${local} as ${name === 'default' ? 'default' : JSON.stringify(name)} };`);
  });
  if (hasDefault && !names.includes('default')) lines.push(`export { default } from ${o};`);
  return { format: 'module', source: lines.join('\n'), shortCircuit: true };
}
