// Where a function of an ELF binary or shared library starts in its file: what a uprobe is placed by.
// Only the headers and the symbol tables are read (a Node binary is ~100 MB; its .dynsym a few MB), each
// read bounded by the file's size and by MAX_TABLE. Libraries named without a path are looked up where
// this process has them mapped (/proc/self/maps), then in the usual library directories; programs named
// without a path, in $PATH.

import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';

/** Largest symbol or string table read (bytes). */
const MAX_TABLE = 256 * 1024 * 1024;

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const STB_GLOBAL = 1;
const STB_WEAK = 2;

interface Section {
  type: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
}

function readAt(fd: number, offset: number, length: number, fileSize: number, what: string): Uint8Array {
  if (length > MAX_TABLE || offset + length > fileSize)
    throw new TsbpfError(`${what} (${length} bytes at ${offset}) lies outside the file or is too large`);
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) throw new TsbpfError(`${what}: file ends early`);
    done += n;
  }
  return buf;
}

/** A function symbol found in a binary: its address and its offset in the file. */
export interface ElfSymbol {
  name: string;
  address: bigint;
  fileOffset: number;
}

interface Found {
  name: string;
  address: bigint;
  bind: number;
  shndx: number;
}

/**
 * The function symbols of the ELF file at `path` whose names `match` accepts, from `.symtab` when it has
 * any, else from `.dynsym`. Throws when the file has no symbol table at all.
 */
function scanFunctions(
  path: string,
  match: (strs: Uint8Array, off: number) => boolean,
): {
  found: Found[];
  sections: Section[];
  tables: number;
} {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const where = `${path}`;
    const head = readAt(fd, 0, 64, size, `${where}: ELF header`);
    const h = new DataView(head.buffer);
    if (h.getUint32(0) !== 0x7f454c46) throw new TsbpfError('not an ELF file', where);
    if (head[4] !== 2 || head[5] !== 1)
      throw new TsbpfError('only 64-bit little-endian ELF is supported', where);
    const shoff = Number(h.getBigUint64(40, true));
    const shentsize = h.getUint16(58, true);
    const shnum = h.getUint16(60, true);
    if (shentsize !== 64 || shnum === 0)
      throw new TsbpfError('no section headers (a stripped binary?)', where);
    const table = new DataView(readAt(fd, shoff, shnum * 64, size, `${where}: section headers`).buffer);
    const sections: Section[] = [];
    for (let i = 0; i < shnum; i++) {
      sections.push({
        type: table.getUint32(i * 64 + 4, true),
        addr: table.getBigUint64(i * 64 + 16, true),
        offset: Number(table.getBigUint64(i * 64 + 24, true)),
        size: Number(table.getBigUint64(i * 64 + 32, true)),
        link: table.getUint32(i * 64 + 40, true),
      });
    }
    let tables = 0;
    for (const kind of [SHT_SYMTAB, SHT_DYNSYM]) {
      const symtab = sections.find((s) => s.type === kind);
      const strtab = symtab && sections[symtab.link];
      if (!symtab || !strtab) continue;
      tables++;
      const syms = new DataView(readAt(fd, symtab.offset, symtab.size, size, `${where}: symbols`).buffer);
      const strs = readAt(fd, strtab.offset, strtab.size, size, `${where}: symbol names`);
      const found: Found[] = [];
      for (let at = 24; at + 24 <= symtab.size; at += 24) {
        const nameOff = syms.getUint32(at, true);
        const info = syms.getUint8(at + 4);
        const shndx = syms.getUint16(at + 6, true);
        const type = info & 0xf;
        if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0 || shndx >= sections.length)
          continue;
        if (nameOff >= strs.length || !match(strs, nameOff)) continue;
        const end = strs.indexOf(0, nameOff);
        const name = latin.decode(strs.subarray(nameOff, end < 0 ? strs.length : end));
        found.push({ name, address: syms.getBigUint64(at + 8, true), bind: info >> 4, shndx });
      }
      if (found.length > 0) return { found, sections, tables };
    }
    return { found: [], sections, tables };
  } finally {
    closeSync(fd);
  }
}

const latin = new TextDecoder('latin1');

/** One address per name: several definitions of a name are ambiguous unless exactly one is global. */
function pick(name: string, defs: readonly Found[], where: string): Found {
  const distinct = [...new Map(defs.map((f) => [f.address, f])).values()];
  const chosen =
    distinct.length === 1
      ? distinct
      : distinct.filter((f) => f.bind === STB_GLOBAL || f.bind === STB_WEAK).slice(0, 2);
  if (chosen.length !== 1)
    throw new TsbpfError(
      `function ${name} is defined at ${distinct.length} addresses; give an offset instead`,
      where,
    );
  return chosen[0]!;
}

function toSymbol(f: Found, sections: readonly Section[]): ElfSymbol {
  const sec = sections[f.shndx]!;
  return { name: f.name, address: f.address, fileOffset: Number(f.address - sec.addr) + sec.offset };
}

/**
 * The file offset of function `symbol` in the ELF file at `path` (`.symtab` first, then `.dynsym`). A name
 * defined at several addresses is ambiguous unless exactly one is global; an error names what was missing.
 */
export function symbolOffset(path: string, symbol: string): ElfSymbol {
  const wanted = new TextEncoder().encode(symbol);
  const { found, sections, tables } = scanFunctions(path, (strs, off) => nameMatches(strs, off, wanted));
  if (found.length === 0)
    throw new TsbpfError(
      tables === 0 ? `no symbol table, cannot find function ${symbol}` : `no function ${symbol}`,
      path,
    );
  return toSymbol(pick(symbol, found, path), sections);
}

/** A shell-style pattern (`*`, `?`) as a regular expression over whole names. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * The functions of `path` whose names match `pattern` (`*` and `?` as in a shell), in name order; an
 * error when none does. Each name resolves to one address as in symbolOffset.
 */
export function matchingSymbols(path: string, pattern: string): ElfSymbol[] {
  const re = globToRegExp(pattern);
  const { found, sections, tables } = scanFunctions(path, (strs, off) => {
    const end = strs.indexOf(0, off);
    return re.test(latin.decode(strs.subarray(off, end < 0 ? strs.length : end)));
  });
  if (found.length === 0)
    throw new TsbpfError(tables === 0 ? 'no symbol table' : `no function matches ${pattern}`, path);
  const byName = new Map<string, Found[]>();
  for (const f of found) byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
  return [...byName.keys()].sort().map((name) => toSymbol(pick(name, byName.get(name)!, path), sections));
}

function nameMatches(strs: Uint8Array, off: number, wanted: Uint8Array): boolean {
  if (off + wanted.length >= strs.length) return false;
  for (let i = 0; i < wanted.length; i++) if (strs[off + i] !== wanted[i]) return false;
  return strs[off + wanted.length] === 0;
}

const LIBRARY_DIRS = [
  `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
  `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
  '/usr/local/lib',
];

/**
 * The file a uprobe target names: a path as given; a library name (`libc.so.6`, containing `.so`) where
 * this process maps it or in the usual directories; another bare name, in $PATH.
 */
export function resolveBinary(name: string): string {
  if (name.includes('/')) {
    if (!existsSync(name)) throw new TsbpfError(`no file ${name}`, 'uprobe');
    return name;
  }
  if (/\.so(\.|$)/.test(name)) {
    try {
      for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
        const path = line.slice(line.indexOf('/'));
        if (line.includes('/') && path.endsWith(`/${name}`)) return path;
      }
    } catch {
      /* no procfs: the directories below */
    }
    for (const dir of LIBRARY_DIRS) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
    throw new TsbpfError(
      `library ${name} is not mapped by this process nor in ${LIBRARY_DIRS.join(', ')}`,
      'uprobe',
    );
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  throw new TsbpfError(`program ${name} is not in $PATH`, 'uprobe');
}
