// For tests that run Node as an unprivileged user (uid 65534): the checkout may sit where only root can
// read it (a clone in a mode-0700 temporary directory, /root), so such a test runs a copy of what it needs
// — the built dist/, bin/, package.json, the runtime dependencies, and any files it names — placed in a
// directory every user can read.

import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ReadableCopy {
  /** The copy's root: `${root}/bin/tsbpf.js`, `${root}/dist/…`, and the named files at their paths. */
  root: string;
  remove(): void;
}

/** Copy the package (and `files`, paths relative to the checkout) where any user can read and run it. */
export function readableCopy(files: readonly string[] = []): ReadableCopy {
  if (!existsSync(join(ROOT, 'dist/cli/main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const root = mkdtempSync(join(searchableTmp(), 'tsbpf-readable-'));
  for (const part of ['dist', 'bin', 'package.json', ...files]) {
    cpSync(join(ROOT, part), join(root, part), { recursive: true });
  }
  for (const name of runtimeDependencies()) {
    cpSync(join(ROOT, 'node_modules', name), join(root, 'node_modules', name), { recursive: true });
  }
  openUp(root);
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** A temporary directory whose ancestors every user may pass through (TMPDIR may be private). */
function searchableTmp(): string {
  for (const candidate of [tmpdir(), '/tmp']) {
    let ok = true;
    for (let d = candidate; ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) ok = false;
      if (d === parse(d).root) break;
    }
    if (ok) return candidate;
  }
  throw new Error(`no temporary directory other users can reach (tried ${tmpdir()} and /tmp)`);
}

/** package.json's dependencies and optional dependencies, and theirs, as installed (flat node_modules). */
function runtimeDependencies(): string[] {
  const seen = new Set<string>();
  const visit = (pkgDir: string): void => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      if (seen.has(name)) continue;
      const dir = join(ROOT, 'node_modules', name);
      if (!existsSync(dir)) continue; // an optional dependency that is not installed
      seen.add(name);
      visit(dir);
    }
  };
  visit(ROOT);
  return [...seen];
}

/** Everything readable by all, directories searchable (a umask of 077 at clone time leaves files 0600). */
function openUp(path: string): void {
  const st = lstatSync(path);
  // A symlink's own mode means nothing, and chmod would follow it out of the copy.
  if (st.isSymbolicLink()) return;
  chmodSync(path, st.mode | (st.isDirectory() ? 0o555 : 0o444));
  if (st.isDirectory()) for (const name of readdirSync(path)) openUp(join(path, name));
}
