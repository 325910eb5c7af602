#!/usr/bin/env node
// The API report: every name each package entry exports, with its kind, one file per entry under
// test/api/surface/ (`tsbpf` → root.txt, `tsbpf/asm` → asm.txt ...). test/api/entry.test.ts fails when an
// entry's surface differs from its report, so a change to what the package offers shows up in review.
//
//   npm run api-report            regenerate the reports; list exports without a doc comment (exit 1 if any)
//   npm run api-report -- --json  print the surfaces as JSON instead (what the test reads); writes nothing
//   ... --out DIR                 write the reports into DIR instead (with --json: write them and print)
//
// The entries are package.json's `exports`; each one's `types` file (dist/X.d.ts) names its source
// (src/X.ts), which the TypeScript compiler reads: no build needed. A name's kind is what the declaration
// behind it is (function, class, const, let, enum, namespace, interface, type); a name that is both a value
// and a type (a const object and its union type) lists both. A name exported with `export type` is a type
// whatever it names: it does not exist at run time.

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const REPORTS = path.join(root, 'test/api/surface');
/** Kinds that exist at run time (the rest are erased by the compiler). */
export const VALUE_KINDS = new Set(['function', 'class', 'const', 'let', 'enum', 'namespace']);

/** The entries of package.json: subpath, report name, source file, built file. */
function entries() {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  return Object.entries(pkg.exports).map(([subpath, target]) => {
    const types = target.types;
    if (typeof types !== 'string' || !/^\.\/dist\/.+\.d\.ts$/.test(types))
      throw new Error(`package.json exports['${subpath}'].types: expected ./dist/….d.ts, got ${types}`);
    const name = subpath === '.' ? 'root' : subpath.slice(2).replaceAll('/', '-');
    return {
      entry: subpath === '.' ? 'tsbpf' : `tsbpf/${subpath.slice(2)}`,
      name,
      source: `src/${types.slice('./dist/'.length, -'.d.ts'.length)}.ts`,
      built: target.default.slice(2),
    };
  });
}

/** Whether an export specifier (or the `export type { ... }` around it) is type-only. */
function typeOnly(decl) {
  if (ts.isExportSpecifier(decl) || ts.isImportSpecifier(decl))
    return decl.isTypeOnly || decl.parent.parent.isTypeOnly;
  if (ts.isImportClause(decl) || ts.isNamespaceExport(decl)) return decl.isTypeOnly ?? decl.parent.isTypeOnly;
  return false;
}

/** The kinds of a symbol's declarations, as the report names them. */
function kindsOf(sym) {
  const kinds = new Set();
  for (const d of sym.declarations ?? []) {
    if (ts.isFunctionDeclaration(d)) kinds.add('function');
    else if (ts.isClassDeclaration(d)) kinds.add('class');
    else if (ts.isEnumDeclaration(d)) kinds.add('enum');
    else if (ts.isInterfaceDeclaration(d)) kinds.add('interface');
    else if (ts.isTypeAliasDeclaration(d)) kinds.add('type');
    else if (ts.isModuleDeclaration(d) || ts.isSourceFile(d)) kinds.add('namespace');
    else if (ts.isVariableDeclaration(d))
      kinds.add(ts.getCombinedNodeFlags(d) & ts.NodeFlags.Const ? 'const' : 'let');
    else
      throw new Error(`${sym.name}: a declaration of kind ${ts.SyntaxKind[d.kind]} the report cannot name`);
  }
  return kinds;
}

/** Whether a declaration carries a JSDoc comment with some text. */
function documented(decl) {
  // A variable's JSDoc sits on its statement; an export's own JSDoc (on `export { x }`) does not count.
  const node = ts.isVariableDeclaration(decl) ? decl.parent.parent : decl;
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  return docs.some((d) => ts.getTextOfJSDocComment(d.comment)?.trim());
}

/** Every entry's exports: name, kinds, whether its declaration is documented, where it is declared. */
export function surfaces() {
  const list = entries();
  const program = ts.createProgram(
    list.map((e) => path.join(root, e.source)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    },
  );
  const checker = program.getTypeChecker();
  return list.map((e) => {
    const file = program.getSourceFile(path.join(root, e.source));
    if (!file) throw new Error(`${e.entry}: ${e.source} not found`);
    const mod = checker.getSymbolAtLocation(file);
    const exports = (mod ? checker.getExportsOfModule(mod) : []).map((sym) => {
      let target = sym;
      let onlyType = false;
      let namespaceExport;
      // Follow re-exports to the declaration, noting any `export type` on the way.
      while (target.flags & ts.SymbolFlags.Alias) {
        if ((target.declarations ?? []).some(typeOnly)) onlyType = true;
        namespaceExport ??= target.declarations?.find(ts.isNamespaceExport);
        target = checker.getImmediateAliasedSymbol(target) ?? checker.getAliasedSymbol(target);
      }
      let kinds = kindsOf(target);
      // Through `export type`, a class is only its instance type and a value is gone.
      if (onlyType)
        kinds = new Set(
          [...kinds].flatMap((k) => (k === 'class' ? ['type-only class'] : VALUE_KINDS.has(k) ? [] : [k])),
        );
      const decls = target.declarations ?? [];
      const where = decls[0] ? path.relative(root, decls[0].getSourceFile().fileName) : '?';
      return {
        name: sym.name,
        kinds: [...kinds].sort(),
        // A module re-exported as a namespace (`export * as x`) is documented on that statement.
        documented: namespaceExport ? documented(namespaceExport.parent) : decls.some(documented),
        where,
      };
    });
    exports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { ...e, exports, report: reportText(e, exports) };
  });
}

/** The report file's text for one entry. */
function reportText(e, exports) {
  const lines = exports.map((x) => `${x.name}: ${x.kinds.join(', ')}`);
  return [
    `# ${e.entry} (${e.source}): ${exports.length} exports. Generated by \`npm run api-report\`; do not edit.`,
    ...lines,
    '',
  ].join('\n');
}

/** Write every entry's report into `dir`, removing reports of entries that are gone. */
function writeReports(all, dir) {
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(all.map((s) => `${s.name}.txt`));
  for (const f of readdirSync(dir)) if (f.endsWith('.txt') && !wanted.has(f)) rmSync(path.join(dir, f));
  for (const s of all) writeFileSync(path.join(dir, `${s.name}.txt`), s.report);
}

function main(argv) {
  const json = argv.includes('--json');
  const at = argv.indexOf('--out');
  if (at >= 0 && !argv[at + 1]) throw new Error('--out needs a directory');
  const out = at >= 0 ? path.resolve(argv[at + 1]) : json ? undefined : REPORTS;
  const all = surfaces();
  if (out) writeReports(all, out);
  if (json) {
    process.stdout.write(`${JSON.stringify(all)}\n`);
    return 0;
  }
  for (const s of all)
    process.stdout.write(`${s.entry.padEnd(16)} ${String(s.exports.length).padStart(4)} exports\n`);
  const missing = all.flatMap((s) =>
    s.exports.filter((x) => !x.documented).map((x) => `${s.entry}: ${x.name} (${x.where})`),
  );
  if (missing.length > 0) {
    process.stderr.write(`${missing.length} exports without a doc comment:\n${missing.join('\n')}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = main(process.argv.slice(2));
