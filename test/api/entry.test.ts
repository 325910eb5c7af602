// The package's entries (package.json `exports`): the root `tsbpf` (dist/index.js) and the subpath entries
// (`tsbpf/asm` ... one per concept folder; `tsbpf/node` and `tsbpf/kernel` are Node-only).
// - What each entry exports is pinned by its report in test/api/surface/ (`npm run api-report` writes
//   them): a change to an entry's surface shows up here and in review. Every export has a doc comment.
// - The browser entries must run without Node's APIs. Two independent checks: the static import graph of
//   the built files reaches no `node:` module, no package and no computed dynamic import; and Node itself
//   loads them with every built-in refused.
// - A name two entries share is one object (no module loaded twice, no copy).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph, specifiersOf } from './support/graph.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = `${root}dist/index.js`;
const built = existsSync(entry);
const reports = `${root}test/api/surface/`;

interface Surface {
  entry: string;
  name: string;
  source: string;
  built: string;
  report: string;
  exports: { name: string; kinds: string[]; documented: boolean; where: string }[];
}

/** Kinds that exist at run time (scripts/api-report.js names them so). */
const VALUE_KINDS = new Set(['function', 'class', 'const', 'let', 'enum', 'namespace']);
/**
 * Exports without a doc comment, declared in files another engineer was splitting when the comments were
 * written (issue 15); the list may only shrink.
 */
const KNOWN_UNDOCUMENTED: ReadonlySet<string> = new Set([]);
/** Entries that may use Node's APIs; every other entry must load in a browser. */
const NODE_ONLY = new Set(['tsbpf/node', 'tsbpf/kernel']);

const exportsField: Record<string, Record<string, string>> = JSON.parse(
  readFileSync(`${root}package.json`, 'utf8'),
).exports;

let cached: { surfaces: Surface[]; written: Map<string, string> } | undefined;
/**
 * The surfaces as scripts/api-report.js computes them from the sources, and the report files it writes for
 * them (into a scratch directory holding a stale report, which it must remove). Once per file: it takes
 * seconds.
 */
function generated() {
  if (!cached) {
    const dir = mkdtempSync(path.join(tmpdir(), 'api-report-'));
    try {
      writeFileSync(path.join(dir, 'gone.txt'), 'the report of an entry package.json does not have\n');
      const json = execFileSync(process.execPath, [`${root}scripts/api-report.js`, '--json', '--out', dir], {
        encoding: 'utf8',
        timeout: 60_000,
        maxBuffer: 64 << 20,
      });
      const written = new Map(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
      cached = { surfaces: JSON.parse(json) as Surface[], written };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return cached;
}
const surfaces = () => generated().surfaces;

const valueNames = (s: Surface) =>
  s.exports.filter((x) => x.kinds.some((k) => VALUE_KINDS.has(k))).map((x) => x.name);

/** Run a module script in a child Node; its one line of output, parsed. */
function probe(script: string, refuseNode: boolean): unknown {
  const loader = refuseNode ? ['--import', `${root}test/api/support/refuse-node.mjs`] : [];
  const out = execFileSync(process.execPath, [...loader, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out);
}

describe('the package entries', () => {
  it('are built (npm test builds first; run `npm run build` before this file alone)', () => {
    expect(built, `${entry} is missing`).toBe(true);
    const missing = Object.entries(exportsField).flatMap(([sub, targets]) =>
      Object.values(targets)
        .filter((t) => !existsSync(path.join(root, t)))
        .map((t) => `${sub}: ${t}`),
    );
    expect(missing).toEqual([]);
  });

  it('each has types and default targets, and a source folder face the build emits them from', () => {
    for (const [sub, targets] of Object.entries(exportsField)) {
      expect(Object.keys(targets), sub).toContain('types');
      expect(Object.keys(targets), sub).toContain('default');
      expect(targets.types!.replace(/\.d\.ts$/, '.js'), sub).toBe(targets.default);
    }
    // The Node condition of the root is the only extra one, and the kernel back end registers through it.
    expect(exportsField['.']!.node).toBe('./dist/node/root.js');
  });

  it('match their reports in test/api/surface/ (regenerate with `npm run api-report`, review the diff)', () => {
    const { surfaces: all, written } = generated();
    expect(all.map((s) => s.entry).sort()).toEqual(
      Object.keys(exportsField)
        .map((k) => (k === '.' ? 'tsbpf' : `tsbpf/${k.slice(2)}`))
        .sort(),
    );
    for (const s of all) {
      const file = `${reports}${s.name}.txt`;
      const pinned = existsSync(file) ? readFileSync(file, 'utf8') : '(no report)';
      expect(
        written.get(`${s.name}.txt`),
        `the surface of ${s.entry} differs from test/api/surface/${s.name}.txt: if intended, run ` +
          '`npm run api-report` and review the diff',
      ).toBe(pinned);
    }
    // The script writes one report per entry and removes the others; so must the checked-in directory be.
    expect([...written.keys()].sort()).toEqual(all.map((s) => `${s.name}.txt`).sort());
    expect(readdirSync(reports).sort(), 'stale reports: run `npm run api-report`').toEqual(
      [...written.keys()].sort(),
    );
  });

  it('name each export with the kind of its declaration', () => {
    const by = new Map(surfaces().map((s) => [s.entry, s.report]));
    expect(by.get('tsbpf/asm')).toMatch(/^assemble: function$/m);
    expect(by.get('tsbpf/asm')).toMatch(/^ProgramBuilder: class$/m);
    expect(by.get('tsbpf/asm')).toMatch(/^Register: interface$/m);
    expect(by.get('tsbpf/asm')).toMatch(/^R0: const$/m);
    expect(by.get('tsbpf/asm')).toMatch(/^RegNum: type$/m);
    // A const and a type of one name: both. A rename: the new name, the declaration's kind.
    expect(by.get('tsbpf')).toMatch(/^MapType: const, type$/m);
    expect(by.get('tsbpf')).toMatch(/^ReadObjectOptions: interface$/m);
    expect(by.get('tsbpf')).not.toMatch(/^ReadOptions:/m);
  });

  it('every export of every entry has a doc comment', () => {
    const missing = new Set(
      surfaces().flatMap((s) => s.exports.filter((x) => !x.documented).map((x) => `${x.name} (${x.where})`)),
    );
    expect([...missing].filter((m) => !KNOWN_UNDOCUMENTED.has(m))).toEqual([]);
    // A known one that has its comment now is deleted from the list.
    expect([...KNOWN_UNDOCUMENTED].filter((k) => !missing.has(k))).toEqual([]);
  });

  it('browser entries reach no node: module, package or computed import in their built graphs', () => {
    const dist = `${root}dist/`;
    const reached = new Set<string>();
    for (const s of surfaces().filter((x) => !NODE_ONLY.has(x.entry))) {
      const graph = importGraph(path.join(root, s.built));
      const files = graph.map((m) => m.file.slice(dist.length));
      for (const f of files) reached.add(f.split('/')[0]!);
      for (const dir of ['cli', 'node', 'kernel'])
        expect(
          files.filter((f) => f.startsWith(`${dir}/`)),
          s.entry,
        ).toEqual([]);
      const outside = graph.flatMap((m) =>
        m.specifiers.filter((x) => !x.startsWith('./') && !x.startsWith('../')).map((x) => `${m.file}: ${x}`),
      );
      expect(outside, s.entry).toEqual([]);
    }
    // The whole core is reachable from the browser entries (so an empty finding above means something).
    for (const dir of [
      'isa',
      'asm',
      'btf',
      'spec',
      'elf',
      'memory',
      'maps',
      'helpers',
      'verifier',
      'vm',
    ].concat(['jit', 'engine', 'net', 'collection', 'hooks', 'cbpf', 'tools']))
      expect(reached.has(dir), `nothing from dist/${dir}/`).toBe(true);
  });

  it('the scanner sees what it must refuse (so an empty finding means something)', () => {
    const src = [
      "import { readFileSync } from 'node:fs';",
      "export { x } from './x.js';",
      "import './side.js';",
      'const m = await import(name);',
      "// import('commented.js')",
    ].join('\n');
    expect(specifiersOf(src)).toEqual(['node:fs', './x.js', './side.js', '<dynamic name>']);
    expect(specifiersOf(readFileSync(`${root}dist/cli/objects.js`, 'utf8'))).toContain('node:fs');
  });

  it('browser entries load in Node with every built-in refused, exporting the values their reports list', () => {
    const browser = surfaces().filter((s) => !NODE_ONLY.has(s.entry));
    const script = `
      const files = ${JSON.stringify(browser.map((s) => path.join(root, s.built)))};
      const mods = await Promise.all(files.map((f) => import(f)));
      console.log(JSON.stringify(mods.map((m) => Object.keys(m).sort())));`;
    const names = probe(script, true) as string[][];
    browser.forEach((s, i) => {
      expect(names[i], `${s.entry}: its built module's names are not its report's values`).toEqual(
        valueNames(s).sort(),
      );
    });
    // The same hook does refuse: a CLI module (which reads files) fails to load under it.
    const cli = `await import(${JSON.stringify(`${root}dist/cli/objects.js`)});`;
    expect(() => probe(cli, true)).toThrow(/refused Node built-in 'node:fs'/);
  });

  it("Node-only entries, and the root under Node's condition, export the values their reports list", () => {
    const all = surfaces();
    const node = all.filter((s) => NODE_ONLY.has(s.entry));
    const rootSurface = all.find((s) => s.entry === 'tsbpf')!;
    const files = [...node.map((s) => s.built), exportsField['.']!.node!].map((f) => path.join(root, f));
    const script = `
      const mods = await Promise.all(${JSON.stringify(files)}.map((f) => import(f)));
      console.log(JSON.stringify(mods.map((m) => Object.keys(m).sort())));`;
    const names = probe(script, false) as string[][];
    node.forEach((s, i) => {
      expect(names[i], s.entry).toEqual(valueNames(s).sort());
    });
    expect(names[node.length], 'dist/node/root.js: the root under Node').toEqual(
      valueNames(rootSurface).sort(),
    );
  });

  it('a name two entries export is the same object in both', () => {
    const all = surfaces().filter((s) => !NODE_ONLY.has(s.entry));
    const script = `
      const entries = ${JSON.stringify(all.map((s) => [s.entry, path.join(root, s.built)]))};
      const mods = await Promise.all(entries.map(([, f]) => import(f)));
      const seen = new Map();
      const shared = [];
      const differ = [];
      mods.forEach((m, i) => {
        for (const [k, v] of Object.entries(m)) {
          const before = seen.get(k);
          if (!before) seen.set(k, { entry: entries[i][0], v });
          else if (before.v === v) shared.push(k);
          else differ.push(k + ': ' + before.entry + ' and ' + entries[i][0]);
        }
      });
      console.log(JSON.stringify({ shared: [...new Set(shared)].sort(), differ }));`;
    const { shared, differ } = probe(script, true) as { shared: string[]; differ: string[] };
    expect(differ).toEqual([]);
    // The root re-exports what the subpath entries have (readObject is tsbpf/elf's, MapType tsbpf/spec's).
    expect(shared).toEqual(expect.arrayContaining(['readObject', 'MapType', 'VerifierError', 'XdpAction']));
  });
});
