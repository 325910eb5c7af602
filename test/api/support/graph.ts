// The import graph of built JavaScript (dist/), read from the files themselves: every module reachable from
// an entry, with the specifiers each one imports. tsc emits one import/export per statement with a string
// literal specifier, so a scan of the text finds them all; a dynamic import whose specifier is not a
// literal is reported as such, since nobody can tell statically what it loads.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface GraphModule {
  file: string;
  specifiers: string[];
}

const STATIC = /^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\s*\(\s*([^)]*)\)/g;

/** Remove comments (which may mention `import(`) but not string contents a specifier lives in. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

export function specifiersOf(source: string): string[] {
  const src = stripComments(source);
  const out: string[] = [];
  for (const m of src.matchAll(STATIC)) out.push((m[1] ?? m[2])!);
  for (const m of src.matchAll(DYNAMIC)) {
    const arg = m[1]!.trim();
    const lit = /^['"]([^'"]+)['"]$/.exec(arg);
    out.push(lit ? lit[1]! : `<dynamic ${arg}>`);
  }
  return out;
}

/** Every module reachable from `entry` through relative specifiers (others are listed, not followed). */
export function importGraph(entry: string): GraphModule[] {
  const seen = new Map<string, GraphModule>();
  const todo = [path.resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    if (!existsSync(file)) throw new Error(`${file}: imported but not built`);
    const mod = { file, specifiers: specifiersOf(readFileSync(file, 'utf8')) };
    seen.set(file, mod);
    for (const s of mod.specifiers)
      if (s.startsWith('./') || s.startsWith('../')) todo.push(path.resolve(path.dirname(file), s));
  }
  return [...seen.values()];
}
