// USDT probes (the `DTRACE_PROBE`/`STAP_PROBE` points of <sys/sdt.h>): each is a `nop` in the binary with an
// ELF note in `.note.stapsdt` (type 3, owner "stapsdt") giving its address, the address of `.stapsdt.base`
// at link time (to correct for prelinking), the address of its semaphore (0: none), the provider and name,
// and the argument spec (`-4@%edi 8@-8(%rbp)` …). Attaching puts a uprobe at every location of
// PROVIDER:NAME; a semaphore is incremented by the kernel while the probe is attached, through the
// uprobe PMU's ref_ctr_offset (config bits 32-63), so code guarded by `if (SEMAPHORE)` runs only then.
// Arguments: a program built with libbpf's <bpf/usdt.bpf.h> (`bpf_usdt_arg`, `BPF_USDT`) has an ARRAY map
// `__bpf_usdt_specs`; attaching parses each location's spec (usdt-args.ts), writes one entry per distinct
// spec at a free id of that map, and gives each uprobe that id as its BPF cookie (the attach's own cookie
// goes in the entry, `usdt_cookie`); the ids are freed when the link closes. The `__bpf_usdt_ip_to_spec_id`
// map is for kernels without BPF cookies (before 5.15), which cannot attach with a cookie here anyway: it
// is left empty. A program without the spec map is attached as before, its cookie the attach's.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import type { Link, LinkInfo } from '../../spec/link.js';
import { openById, progDetails } from '../inspect.js';
import { close as closeFd, mapInfo, mapUpdate } from '../syscall.js';
import { resolveBinary } from './elf-symbols.js';
import type { KernelAttachment } from './link.js';
import { perfEventOpen } from './native.js';
import { attachToPerfEvent, pmuType } from './perf-event.js';
import type { AttachableProgram } from './types.js';
import { encodeUsdtSpec, parseUsdtArgs, USDT_SPEC_SIZE } from './usdt-args.js';

/** Largest `.note.stapsdt` read (bytes): a few hundred probes take a few tens of KiB. */
const MAX_NOTES = 16 * 1024 * 1024;
const PT_LOAD = 1;
const NT_STAPSDT = 3;

/** One location of a USDT probe in a binary. */
export interface UsdtLocation {
  provider: string;
  name: string;
  /** Link-time address of the probe's `nop` (corrected for `.stapsdt.base`) and its file offset. */
  address: bigint;
  fileOffset: number;
  /** File offset of the semaphore (a u16 the kernel increments while attached), 0 when none. */
  semaphoreOffset: number;
  /** The argument spec as written in the note (`-4@%edi 8@%rax`), not interpreted. */
  args: string;
}

/** Where a USDT probe is attached: a binary, the probe's provider and name, optionally one process. */
export interface UsdtOptions {
  binary: string;
  provider: string;
  name: string;
  pid?: number;
  cookie?: bigint;
}

interface Elf {
  fd: number;
  size: number;
  sections: { name: string; addr: bigint; offset: number; size: number }[];
  loads: { vaddr: bigint; offset: number; filesz: number }[];
}

function read(e: Elf, offset: number, length: number, what: string): DataView {
  if (length > MAX_NOTES || offset + length > e.size)
    throw new TsbpfError(`${what} (${length} bytes at ${offset}) lies outside the file or is too large`);
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(e.fd, buf, done, length - done, offset + done);
    if (n === 0) throw new TsbpfError(`${what}: file ends early`);
    done += n;
  }
  return new DataView(buf.buffer);
}

function cstr(v: DataView, at: number): [string, number] {
  let end = at;
  while (end < v.byteLength && v.getUint8(end) !== 0) end++;
  return [new TextDecoder().decode(new Uint8Array(v.buffer, at, end - at)), end + 1];
}

/** Section and program headers of a 64-bit little-endian ELF file. */
function openElf(path: string): Elf {
  const fd = openSync(path, 'r');
  const e: Elf = { fd, size: fstatSync(fd).size, sections: [], loads: [] };
  try {
    const h = read(e, 0, 64, `${path}: ELF header`);
    if (h.getUint32(0) !== 0x7f454c46 || h.getUint8(4) !== 2 || h.getUint8(5) !== 1)
      throw new TsbpfError(`${path}: not a 64-bit little-endian ELF file`);
    const phoff = Number(h.getBigUint64(32, true));
    const shoff = Number(h.getBigUint64(40, true));
    const phnum = h.getUint16(56, true);
    const shnum = h.getUint16(60, true);
    const shstrndx = h.getUint16(62, true);
    const ph = read(e, phoff, 56 * phnum, `${path}: program headers`);
    for (let i = 0; i < phnum; i++) {
      if (ph.getUint32(56 * i, true) !== PT_LOAD) continue;
      e.loads.push({
        offset: Number(ph.getBigUint64(56 * i + 8, true)),
        vaddr: ph.getBigUint64(56 * i + 16, true),
        filesz: Number(ph.getBigUint64(56 * i + 32, true)),
      });
    }
    const sh = read(e, shoff, 64 * shnum, `${path}: section headers`);
    const at = (i: number, o: number) => 64 * i + o;
    const strOff = Number(sh.getBigUint64(at(shstrndx, 24), true));
    const strSize = Number(sh.getBigUint64(at(shstrndx, 32), true));
    const names = read(e, strOff, strSize, `${path}: section names`);
    for (let i = 0; i < shnum; i++) {
      e.sections.push({
        name: cstr(names, sh.getUint32(at(i, 0), true))[0],
        addr: sh.getBigUint64(at(i, 16), true),
        offset: Number(sh.getBigUint64(at(i, 24), true)),
        size: Number(sh.getBigUint64(at(i, 32), true)),
      });
    }
    return e;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The file offset of a link-time address, through the PT_LOAD segment holding it. */
function fileOffset(e: Elf, path: string, address: bigint, what: string): number {
  for (const l of e.loads) {
    if (address >= l.vaddr && address < l.vaddr + BigInt(l.filesz))
      return Number(address - l.vaddr) + l.offset;
  }
  throw new TsbpfError(`${path}: ${what} at 0x${address.toString(16)} is in no loaded segment`);
}

/** Every USDT location of the binary at `path` (all providers and names). */
export function usdtLocations(path: string): UsdtLocation[] {
  const e = openElf(path);
  try {
    const notes = e.sections.find((s) => s.name === '.note.stapsdt');
    if (!notes) return [];
    const base = e.sections.find((s) => s.name === '.stapsdt.base');
    const v = read(e, notes.offset, notes.size, `${path}: .note.stapsdt`);
    const out: UsdtLocation[] = [];
    const align = (n: number) => (n + 3) & ~3;
    for (let at = 0; at + 12 <= v.byteLength; ) {
      const nameSize = v.getUint32(at, true);
      const descSize = v.getUint32(at + 4, true);
      const type = v.getUint32(at + 8, true);
      const owner = cstr(v, at + 12)[0];
      const desc = at + 12 + align(nameSize);
      at = desc + align(descSize);
      if (at > v.byteLength) throw new TsbpfError(`${path}: .note.stapsdt: a note runs past the section`);
      if (type !== NT_STAPSDT || owner !== 'stapsdt' || descSize < 24) continue;
      let pc = v.getBigUint64(desc, true);
      const linkBase = v.getBigUint64(desc + 8, true);
      let semaphore = v.getBigUint64(desc + 16, true);
      // Prelinked binaries moved .stapsdt.base: the note's addresses move with it.
      if (base && linkBase !== 0n) {
        pc += base.addr - linkBase;
        if (semaphore) semaphore += base.addr - linkBase;
      }
      const [provider, p1] = cstr(v, desc + 24);
      const [name, p2] = cstr(v, p1);
      const [args] = p2 < desc + descSize ? cstr(v, p2) : [''];
      out.push({
        provider,
        name,
        address: pc,
        fileOffset: fileOffset(e, path, pc, `probe ${provider}:${name}`),
        semaphoreOffset: semaphore ? fileOffset(e, path, semaphore, `semaphore of ${provider}:${name}`) : 0,
        args,
      });
    }
    return out;
  } finally {
    closeSync(e.fd);
  }
}

const BPF_MAP_TYPE_ARRAY = 2;
/** The spec map's name as the kernel keeps it (15 characters of `__bpf_usdt_specs`). */
const SPEC_MAP_NAME = '__bpf_usdt_specs'.slice(0, 15);
/** Spec ids in use per spec map (by the map's kernel id): attaches sharing an object share its map. */
const usedIds = new Map<number, Set<number>>();

/** The program's `__bpf_usdt_specs` map (an fd the caller closes, and its kernel id), if it has one. */
function specMap(prog: AttachableProgram): { fd: number; id: number; slots: number } | undefined {
  for (const id of progDetails(prog.fd).mapIds) {
    const fd = openById('map', id);
    const m = mapInfo(fd);
    if (m.name === SPEC_MAP_NAME && m.type === BPF_MAP_TYPE_ARRAY && m.valueSize === USDT_SPEC_SIZE)
      return { fd, id, slots: m.maxEntries };
    closeFd(fd);
  }
  return undefined;
}

/** The links of every location of one probe, detached and closed together; not pinnable as one. */
class UsdtLink implements KernelAttachment {
  constructor(
    private readonly links: readonly KernelAttachment[],
    private readonly what: LinkInfo,
    /** Spec ids this attach took, given back on close. */
    private readonly release: () => void = () => {},
  ) {}
  detach(): void {
    for (const l of this.links) l.detach();
  }
  close(): void {
    this.release();
    let first: unknown;
    for (const l of this.links) {
      try {
        (l as Link).close();
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }
  pin(path: string): void {
    if (this.links.length !== 1)
      throw new TsbpfError(
        `usdt ${this.what.target} has ${this.links.length} locations, one link each: pin them one by one`,
      );
    this.links[0]!.pin(path);
  }
  info(): LinkInfo {
    return this.what;
  }
}

/** Attach `prog` to every location of USDT probe PROVIDER:NAME of a binary (a uprobe each). */
export function attachUsdt(prog: AttachableProgram, o: UsdtOptions): KernelAttachment {
  const path = resolveBinary(o.binary);
  const all = usdtLocations(path);
  const here = all.filter((l) => l.provider === o.provider && l.name === o.name);
  if (!here.length) {
    const known = [...new Set(all.map((l) => `${l.provider}:${l.name}`))];
    throw new TsbpfError(
      `${path} has no USDT probe ${o.provider}:${o.name} (${known.length ? `probes: ${known.slice(0, 10).join(', ')}` : 'no .note.stapsdt'})`,
      `program ${prog.name}`,
    );
  }
  const type = pmuType('uprobe');
  const pid = o.pid ?? -1;
  const target = `${path}:${o.provider}:${o.name}`;
  const links: KernelAttachment[] = [];
  // Spec ids: one per distinct argument spec of this probe's locations.
  const idOf = new Map<string, number>();
  const map = specMap(prog);
  const used = map ? (usedIds.get(map.id) ?? new Set<number>()) : undefined;
  if (map && used) usedIds.set(map.id, used);
  let released = false;
  const release = () => {
    if (!map || !used || released) return;
    released = true;
    for (const id of idOf.values()) used.delete(id);
    if (!used.size) usedIds.delete(map.id);
  };
  try {
    if (map && used) {
      for (const l of here) {
        if (idOf.has(l.args)) continue;
        const args = parseUsdtArgs(l.args, `usdt ${target} at 0x${l.fileOffset.toString(16)}`);
        let id = 0;
        while (used.has(id)) id++;
        if (id >= map.slots)
          throw new TsbpfError(
            `usdt ${target}: __bpf_usdt_specs is full (${map.slots} specs in use)`,
            `program ${prog.name}`,
          );
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, id, true);
        mapUpdate(map.fd, key, encodeUsdtSpec(args, o.cookie ?? 0n));
        used.add(id);
        idOf.set(l.args, id);
      }
    }
    for (const l of here) {
      const where = `usdt ${target} at 0x${l.fileOffset.toString(16)}`;
      const pfd = perfEventOpen(
        {
          type,
          // ref_ctr_offset (config:32-63): the kernel increments the semaphore while the probe is there.
          config: BigInt(l.semaphoreOffset) << 32n,
          config1String: path,
          config2: BigInt(l.fileOffset),
          disabled: true,
        },
        pid,
        pid === -1 ? 0 : -1,
        where,
      );
      links.push(
        attachToPerfEvent(
          prog,
          pfd,
          { kind: 'usdt', program: prog.name, target, backend: 'kernel' },
          map ? BigInt(idOf.get(l.args)!) : o.cookie,
        ),
      );
    }
  } catch (e) {
    for (const l of links) void l.close();
    release();
    throw e;
  } finally {
    if (map) closeFd(map.fd);
  }
  return new UsdtLink(links, { kind: 'usdt', program: prog.name, target, backend: 'kernel' }, release);
}
