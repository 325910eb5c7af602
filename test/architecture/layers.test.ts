// The layering of src/: folders import downward only, and no folder's modules import each other in a
// cycle. Every import of every module counts — `import type` too (a type from a higher layer ties the two
// layers as much as a value does), re-exports and dynamic import() as well. Imports that go upward today
// and are being removed are listed in KNOWN_UPWARD / KNOWN_CYCLES: the lists may only shrink (an entry
// that no longer occurs fails, so it is deleted when its import goes).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The layers, bottom first (shared/design.md, "one object model"): a folder may import its own modules
 * and any folder on a lower line, nothing on its own line or above (folders on one line are unrelated).
 * Root files are folders of their own: src/errors.ts is `errors`, src/hex.ts `hex`, src/index.ts (the
 * package entry) `index`.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'hex'],
  ['isa'],
  ['btf'],
  ['spec'], // the vocabulary: program/map types, specs, errno and verdict names
  ['asm'],
  ['elf'], // reads btf and spec, writes isa; loaders, the kernel back end and the CLI read it
  ['memory'], // the address space
  ['maps'],
  ['helpers'],
  ['kfuncs'], // kernel functions programs call by BTF id: one registry, on the helpers' call path
  ['verifier'],
  ['vm'],
  ['jit'],
  ['engine'], // the runner: engines by name
  ['net'],
  ['hooks'], // where programs run: XDP hooks and batches, test runs, socket filters, probes, tracepoints
  ['collection'], // the loader (was src/object): spec -> collection -> program/map -> link
  ['cbpf'],
  ['tools'],
  ['kernel', 'index'], // the Linux back end; the package entry (which stays free of node: and the kernel)
  ['node'], // Node-only parts, and the Node entry over the package entry
  ['cli'],
];

/**
 * Upward imports that exist today, `from -> to` (modules under src/), each with why it is still there.
 * The lead is removing them; delete an entry when its import goes.
 */
const KNOWN_UPWARD: ReadonlyMap<string, string> = new Map([]);

/** Module cycles inside a folder that exist today: the modules of each, sorted, joined by ` <-> `. */
const KNOWN_CYCLES: ReadonlySet<string> = new Set([]);

/** One import: the importing module, the imported module (paths under src/), the line. */
interface Edge {
  from: string;
  to: string;
  line: number;
}

/** Relative module specifiers a source text imports, with their lines (comments and strings ignored). */
function specifiersOf(file: string, text: string): { spec: string; line: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: { spec: string; line: number }[] = [];
  const add = (lit: ts.Node | undefined, at: ts.Node) => {
    if (lit && ts.isStringLiteralLike(lit))
      out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1 });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) add(n.moduleSpecifier, n);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference))
      add(n.moduleReference.expression, n);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(n.arguments[0], n);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal, n);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return sourceFiles(p);
      return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
    })
    .sort();
}

/** The module a relative specifier names (`./x.js` is x.ts; a folder is its index.ts), under src/. */
function resolve(fromFile: string, spec: string): string {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return path.relative(SRC, candidate);
    } catch {
      /* the next form */
    }
  }
  throw new Error(`src/${path.relative(SRC, fromFile)}: import '${spec}' names no module`);
}

/** Every import between modules of src/ (imports of packages and node: modules are not layers). */
function srcEdges(): Edge[] {
  return sourceFiles(SRC).flatMap((file) =>
    specifiersOf(file, readFileSync(file, 'utf8'))
      .filter((s) => s.spec.startsWith('.'))
      .map((s) => ({ from: path.relative(SRC, file), to: resolve(file, s.spec), line: s.line })),
  );
}

/** `isa` for isa/insn.ts, `cli` for cli/commands/xdp.ts, `errors` for the root file errors.ts. */
const folderOf = (module: string): string =>
  module.includes('/') ? module.slice(0, module.indexOf('/')) : module.replace(/\.ts$/, '');

const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

/** Imports that leave their folder for one on the same layer or above, as `from -> to (line n)`. */
function upward(edges: readonly Edge[]): { key: string; at: string }[] {
  return edges.flatMap((e) => {
    const [a, b] = [folderOf(e.from), folderOf(e.to)];
    if (a === b || layerOf.get(b)! < layerOf.get(a)!) return [];
    return [{ key: `${e.from} -> ${e.to}`, at: `${e.from}:${e.line} imports ${e.to} (${a} -> ${b})` }];
  });
}

/** Strongly connected sets of more than one node (Tarjan, iterative), each sorted. */
function cycles(nodes: readonly string[], next: (n: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: [string, number][] = [[root, 0]];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const [v, k] = top;
      const succ = next(v);
      if (k < succ.length) {
        top[1]++;
        const w = succ[k]!;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]![0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === index.get(v)) {
        const set: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          set.push(w);
        } while (w !== v);
        if (set.length > 1) out.push(set.sort());
      }
    }
  }
  return out;
}

/** Module cycles whose modules share a folder, as `a <-> b <-> c`. */
function folderCycles(edges: readonly Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (folderOf(e.from) !== folderOf(e.to) || e.from === e.to) continue;
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  }
  return cycles([...next.keys()].sort(), (n) => next.get(n) ?? []).map((c) => c.join(' <-> '));
}

/**
 * The order the imports give the folders: each line holds the folders whose imports all lie on earlier
 * lines (the longest chain of imports below them), folders in a cycle together.
 */
function folderOrder(edges: readonly Edge[]): string[][] {
  const folders = [...new Set(edges.flatMap((e) => [folderOf(e.from), folderOf(e.to)]))].sort();
  const next = new Map<string, Set<string>>(folders.map((f) => [f, new Set()]));
  for (const e of edges)
    if (folderOf(e.from) !== folderOf(e.to)) next.get(folderOf(e.from))!.add(folderOf(e.to));
  const groupOf = new Map<string, string>(folders.map((f) => [f, f]));
  for (const c of cycles(folders, (f) => [...next.get(f)!])) for (const f of c) groupOf.set(f, c.join('+'));
  // Cycles are merged into groups, so the groups' imports form no cycle and the recursion ends (it is as
  // deep as the longest chain, some twenty folders).
  const depth = new Map<string, number>();
  const depthOf = (g: string): number => {
    const known = depth.get(g);
    if (known !== undefined) return known;
    let d = 0;
    for (const f of folders.filter((x) => groupOf.get(x) === g))
      for (const t of next.get(f)!) {
        const h = groupOf.get(t)!;
        if (h !== g) d = Math.max(d, depthOf(h) + 1);
      }
    depth.set(g, d);
    return d;
  };
  const groups = [...new Set(groupOf.values())];
  for (const g of groups) depthOf(g);
  const lines: string[][] = Array.from({ length: Math.max(...depth.values()) + 1 }, () => []);
  for (const g of groups.sort()) lines[depth.get(g)!]!.push(g);
  return lines;
}

describe('the layers of src/', () => {
  const edges = srcEdges();

  it('the scanner sees every form of import, and no commented one', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/index.js';",
      'import {',
      '  c,',
      "} from './c.js';",
      "export * from './d.js';",
      "export { e } from './e.js';",
      "import './f.js';",
      "const g = await import('./g.js');",
      "type H = import('./h.js').H;",
      "// import { x } from './commented.js';",
      'const s = "import { y } from \'./in-a-string.js\'";',
    ].join('\n');
    expect(specifiersOf('x.ts', text)).toEqual([
      { spec: './a.js', line: 1 },
      { spec: '../b/index.js', line: 2 },
      { spec: './c.js', line: 3 },
      { spec: './d.js', line: 6 },
      { spec: './e.js', line: 7 },
      { spec: './f.js', line: 8 },
      { spec: './g.js', line: 9 },
      { spec: './h.js', line: 10 },
    ]);
  });

  it('finds an upward import and a cycle when there is one (so an empty finding means something)', () => {
    const fake: Edge[] = [
      { from: 'isa/insn.ts', to: 'vm/program.ts', line: 3 },
      { from: 'vm/program.ts', to: 'isa/insn.ts', line: 4 },
      { from: 'spec/a.ts', to: 'spec/b.ts', line: 1 },
      { from: 'spec/b.ts', to: 'spec/c.ts', line: 1 },
      { from: 'spec/c.ts', to: 'spec/a.ts', line: 1 },
      { from: 'index.ts', to: 'kernel/object.ts', line: 9 },
    ];
    expect(upward(fake).map((u) => u.at)).toEqual([
      'isa/insn.ts:3 imports vm/program.ts (isa -> vm)',
      'index.ts:9 imports kernel/object.ts (index -> kernel)',
    ]);
    expect(folderCycles(fake)).toEqual(['spec/a.ts <-> spec/b.ts <-> spec/c.ts']);
    expect(folderOrder(fake)).toEqual([['isa+vm', 'kernel', 'spec'], ['index']]);
  });

  it('reads a few hundred modules', () => {
    // A bound, and a check the walk found the tree: src/ holds about 190 modules.
    expect(edges.length).toBeGreaterThan(500);
    expect(new Set(edges.map((e) => e.from)).size).toBeGreaterThan(150);
  });

  it('gives every folder a layer', () => {
    const folders = new Set(sourceFiles(SRC).map((f) => folderOf(path.relative(SRC, f))));
    expect(
      [...folders].filter((f) => !layerOf.has(f)),
      'folders missing from LAYERS',
    ).toEqual([]);
    expect(
      [...layerOf.keys()].filter((f) => !folders.has(f)),
      'LAYERS names folders src/ lacks',
    ).toEqual([]);
  });

  it('imports go downward only (but for KNOWN_UPWARD)', () => {
    const found = upward(edges);
    expect(found.filter((u) => !KNOWN_UPWARD.has(u.key)).map((u) => u.at)).toEqual([]);
    const keys = new Set(found.map((u) => u.key));
    expect(
      [...KNOWN_UPWARD.keys()].filter((k) => !keys.has(k)),
      'KNOWN_UPWARD entries now gone',
    ).toEqual([]);
  });

  it("no folder's modules import each other in a cycle (but for KNOWN_CYCLES)", () => {
    const found = folderCycles(edges);
    expect(found.filter((c) => !KNOWN_CYCLES.has(c))).toEqual([]);
    expect(
      [...KNOWN_CYCLES].filter((c) => !found.includes(c)),
      'KNOWN_CYCLES entries now gone',
    ).toEqual([]);
  });

  it('prints the folder order the imports give', () => {
    const order = folderOrder(edges);
    const lines = order.map((folders, i) => `  ${String(i).padStart(2)}  ${folders.join(' ')}`);
    console.log(`folder order found (each line imports only folders on earlier lines):\n${lines.join('\n')}`);
    // Every folder is on a line (folders in a cycle share one, joined by `+`).
    const placed = order.flat().flatMap((g) => g.split('+'));
    expect(placed.sort()).toEqual([...layerOf.keys()].sort());
  });
});
