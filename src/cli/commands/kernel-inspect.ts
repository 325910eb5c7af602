// The kernel side of `tsbpf prog` and `tsbpf map` (and `tsbpf link`): what the running kernel holds, as
// bpftool shows it — `prog list|show`, `map list|show|dump|lookup|update|delete` on `id N` or `pinned P`,
// `link list`, `prog loadall`. Text output follows bpftool's plain form, `--json` its `-j` form field for
// field (bpftool's `pids` and other fields it gathers with iterator programs are not given).

import { mkdirSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import type { Btf } from '../../btf/index.js';
import { type BtfValue, formatValue, parseValue } from '../../btf/index.js';
import { TsbpfError } from '../../errors.js';
import { KernelError } from '../../kernel/errors.js';
import { closeFd } from '../../kernel/ffi.js';
import {
  kernelBtf,
  type LinkDetails,
  linkDetails,
  type MapDetails,
  mapDetails,
  type ObjectKind,
  objectIds,
  openById,
  openPinned,
  type ProgDetails,
  progDetails,
  withFd,
} from '../../kernel/inspect.js';
import { type KernelProgram, loadKernelObject, possibleCpus } from '../../kernel/object.js';
import { formatFrame, Symbolizer } from '../../kernel/symbolize.js';
import { mapDelete, mapLookup, mapNextKey, mapUpdate, objPin } from '../../kernel/syscall.js';
import type { Link } from '../../spec/link.js';
import { MapType } from '../../spec/maps.js';
import { CliError, EXIT } from '../errors.js';
import { readObjectFile } from '../objects.js';

const ENOENT = 2;

// ---------------------------------------------------------------------------------------- selecting

/** `id N` or `pinned PATH`, as bpftool takes them. */
export interface Selector {
  by: 'id' | 'pinned';
  ref: string;
}

/** Whether the first words select a kernel object (`id N`, `pinned P`). */
export function isSelector(word: string | undefined): boolean {
  return word === 'id' || word === 'pinned';
}

/** Read `id N` / `pinned P` at the start of `words`; the rest is returned. */
export function parseSelector(what: string, words: readonly string[]): [Selector, string[]] {
  const [by, ref, ...rest] = words;
  if (!isSelector(by) || ref === undefined)
    throw new CliError(`${what}: expected 'id N' or 'pinned PATH', got '${words.join(' ')}'`, EXIT.usage);
  if (by === 'id' && !/^\d+$/.test(ref))
    throw new CliError(`${what}: id '${ref}' is not a number`, EXIT.usage);
  return [{ by: by as Selector['by'], ref }, rest];
}

/** A kernel error as the CLI's one line: what was asked, the errno's words and what to do. */
function kernelLine(what: string, e: unknown): CliError {
  const k = e as KernelError;
  if (typeof k?.errno === 'number') {
    // The library's detail names the object again (`map id 7`): the line already starts with it.
    const why =
      k.errno === ENOENT ? 'no such object' : k.message.replace(/: (prog|map|link|btf) id \d+$/, '');
    return new CliError(`${what}: ${why}`, EXIT.input);
  }
  return e as CliError;
}

/** Open the object a selector names, checking it is a `kind`; the caller closes the fd. */
function open(kind: ObjectKind, sel: Selector): number {
  const what = `${kind} ${sel.by} ${sel.ref}`;
  if (sel.by === 'id') {
    try {
      return openById(kind, Number(sel.ref));
    } catch (e) {
      throw kernelLine(what, e);
    }
  }
  let pinned: { fd: number; kind: ObjectKind };
  try {
    pinned = openPinned(sel.ref);
  } catch (e) {
    const k = e as KernelError;
    // BPF_OBJ_GET on a file outside bpffs, or not a BPF object: EINVAL/EPERM.
    if (k?.errno === ENOENT) throw new CliError(`${what}: no such file`, EXIT.input);
    if (typeof k?.errno === 'number')
      throw new CliError(`${what}: not a pinned BPF object (${k.code})`, EXIT.input);
    throw e;
  }
  if (pinned.kind !== kind) {
    closeFd(pinned.fd);
    throw new CliError(`${what}: is a ${pinned.kind}, not a ${kind}`, EXIT.input);
  }
  return pinned.fd;
}

/** Open the object a selector names, checking it is a `kind` (for the other kernel commands); the caller closes it. */
export const openSelected: (kind: ObjectKind, sel: Selector) => number = open;

/** Every object of `kind`, opened one by one (those freed meanwhile are skipped). */
function eachObject<T>(kind: ObjectKind, fn: (fd: number) => T): T[] {
  const out: T[] = [];
  for (const id of guard(`${kind} list`, () => objectIds(kind))) {
    let fd: number;
    try {
      fd = openById(kind, id);
    } catch (e) {
      if ((e as KernelError).errno === ENOENT) continue;
      throw kernelLine(`${kind} id ${id}`, e);
    }
    out.push(withFd(fd, fn));
  }
  return out;
}

function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw kernelLine(what, e);
  }
}

// ---------------------------------------------------------------------------------------------- JSON

/** JSON with bigints as plain numbers (bpftool prints u64 values whole), compact as `bpftool -j`. */
export function toJson(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const out = (s: string) => process.stdout.write(s);

// ------------------------------------------------------------------------------------------- programs

function progJson(p: ProgDetails): Record<string, unknown> {
  const j: Record<string, unknown> = { id: p.id, type: p.typeName };
  if (p.name) j.name = p.name;
  j.tag = p.tag;
  j.gpl_compatible = p.gplCompatible;
  if (p.runTimeNs) {
    j.run_time_ns = p.runTimeNs;
    j.run_cnt = p.runCount;
  }
  j.loaded_at = p.loadedAt;
  j.uid = p.uid;
  j.bytes_xlated = p.xlatedBytes;
  j.jited = p.jitedBytes > 0;
  if (p.jitedBytes) j.bytes_jited = p.jitedBytes;
  j.bytes_memlock = p.memlock;
  if (p.mapIds.length) j.map_ids = p.mapIds;
  if (p.btfId) j.btf_id = p.btfId;
  return j;
}

/** bpftool's `%FT%T%z` in local time. */
function localTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${zone}`;
}

function progText(p: ProgDetails): string {
  let s = `${p.id}: ${p.typeName}  ${p.name ? `name ${p.name}  ` : ''}tag ${p.tag}${p.gplCompatible ? '  gpl' : ''}`;
  if (p.runTimeNs) s += ` run_time_ns ${p.runTimeNs} run_cnt ${p.runCount}`;
  s += `\n\tloaded_at ${localTime(p.loadedAt)}  uid ${p.uid}\n`;
  s += `\txlated ${p.xlatedBytes}B  ${p.jitedBytes ? `jited ${p.jitedBytes}B` : 'not jited'}  memlock ${p.memlock}B`;
  if (p.mapIds.length) s += `  map_ids ${p.mapIds.join(',')}`;
  s += '\n';
  if (p.btfId) s += `\tbtf_id ${p.btfId}\n`;
  return s;
}

/** `prog show [id N | pinned P] [--json]`, `prog list` (every program). */
export function progShow(words: readonly string[], json: boolean): void {
  let progs: ProgDetails[];
  if (words.length === 0) progs = eachObject('prog', progDetails);
  else {
    const [sel, rest] = parseSelector('prog show', words);
    if (rest.length) throw new CliError(`prog show: unexpected '${rest.join(' ')}'`, EXIT.usage);
    progs = [withFd(open('prog', sel), (fd) => guard(`prog ${sel.by} ${sel.ref}`, () => progDetails(fd)))];
  }
  if (json) out(`${toJson(words.length === 0 ? progs.map(progJson) : progJson(progs[0]!))}\n`);
  else for (const p of progs) out(progText(p));
}

// ----------------------------------------------------------------------------------------------- maps

function mapJson(m: MapDetails): Record<string, unknown> {
  const j: Record<string, unknown> = { id: m.id, type: m.typeName };
  if (m.name) j.name = m.name;
  j.flags = m.flags;
  j.bytes_key = m.keySize;
  j.bytes_value = m.valueSize;
  j.max_entries = m.maxEntries;
  j.bytes_memlock = m.memlock;
  j.frozen = m.frozen ? 1 : 0;
  if (m.btfId) j.btf_id = m.btfId;
  return j;
}

function mapText(m: MapDetails): string {
  let s = `${m.id}: ${m.typeName}  ${m.name ? `name ${m.name}  ` : ''}flags 0x${m.flags.toString(16)}\n`;
  s += `\tkey ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.maxEntries}  memlock ${m.memlock}B`;
  s += m.frozen ? '  frozen\n' : '\n';
  if (m.btfId) s += `\tbtf_id ${m.btfId}\n`;
  return s;
}

/** `map show [id N | pinned P] [--json]`, `map list` (every map). */
export function mapShow(words: readonly string[], json: boolean): void {
  let maps: MapDetails[];
  if (words.length === 0) maps = eachObject('map', mapDetails);
  else {
    const [sel, rest] = parseSelector('map show', words);
    if (rest.length) throw new CliError(`map show: unexpected '${rest.join(' ')}'`, EXIT.usage);
    maps = [withFd(open('map', sel), (fd) => guard(`map ${sel.by} ${sel.ref}`, () => mapDetails(fd)))];
  }
  if (json) out(`${toJson(words.length === 0 ? maps.map(mapJson) : mapJson(maps[0]!))}\n`);
  else for (const m of maps) out(mapText(m));
}

const PER_CPU: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

/** An opened map: its fd, what the kernel says of it, its BTF when it has one, its per-CPU geometry. */
interface OpenMap {
  fd: number;
  what: string;
  info: MapDetails;
  btf?: Btf;
  cpus: number;
  stride: number;
}

function openMap(sel: Selector, command: string): OpenMap {
  const what = `map ${sel.by} ${sel.ref}`;
  const fd = open('map', sel);
  try {
    const info = guard(what, () => mapDetails(fd));
    let btf: Btf | undefined;
    if (info.btfId && (info.btfKeyTypeId || info.btfValueTypeId)) {
      try {
        btf = kernelBtf(info.btfId);
      } catch {
        btf = undefined; // formatting is a bonus: the bytes are still shown
      }
    }
    const perCpu = PER_CPU.has(info.type);
    return {
      fd,
      what: `${command} ${sel.by} ${sel.ref}`,
      info,
      btf,
      cpus: perCpu ? possibleCpus() : 0, // a value for every possible CPU
      stride: Math.ceil(info.valueSize / 8) * 8,
    };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

const hexList = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);
const hexText = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function fmt(m: OpenMap, typeId: number, bytes: Uint8Array): BtfValue | undefined {
  if (!m.btf || !typeId) return undefined;
  try {
    return formatValue(m.btf, typeId, bytes);
  } catch {
    return undefined;
  }
}

/** One entry as bpftool's `-j` gives it: `{key, value[s], formatted}`. */
function entryJson(m: OpenMap, key: Uint8Array, value: Uint8Array): Record<string, unknown> {
  const j: Record<string, unknown> = { key: hexList(key) };
  const fkey = fmt(m, m.info.btfKeyTypeId, key);
  if (m.cpus) {
    const per = Array.from({ length: m.cpus }, (_, c) =>
      value.slice(c * m.stride, c * m.stride + m.info.valueSize),
    );
    j.values = per.map((v, cpu) => ({ cpu, value: hexList(v) }));
    if (m.btf && fkey !== undefined) {
      j.formatted = {
        key: fkey,
        values: per.map((v, cpu) => ({ cpu, value: fmt(m, m.info.btfValueTypeId, v) })),
      };
    }
  } else {
    j.value = hexList(value);
    if (m.btf && fkey !== undefined) j.formatted = { key: fkey, value: fmt(m, m.info.btfValueTypeId, value) };
  }
  return j;
}

function entryText(m: OpenMap, key: Uint8Array, value: Uint8Array): string {
  const j = entryJson(m, key, value);
  if (j.formatted) return `${toJson(j.formatted)}\n`;
  if (m.cpus) {
    const lines = (j.values as { cpu: number }[]).map(
      (_, c) =>
        `value (CPU ${String(c).padStart(2, '0')}): ${hexText(value.slice(c * m.stride, c * m.stride + m.info.valueSize))}`,
    );
    return `key:\n${hexText(key)}\n${lines.join('\n')}\n`;
  }
  return `key: ${hexText(key)}  value: ${hexText(value)}\n`;
}

function userValueSize(m: OpenMap): number {
  return m.cpus ? m.stride * m.cpus : m.info.valueSize;
}

/** Map types whose contents are not key/value elements, and how they are read instead. */
const UNDUMPABLE: ReadonlyMap<number, string> = new Map([
  [MapType.RINGBUF, 'its records are read with a ring buffer reader'],
  [MapType.USER_RINGBUF, 'user space writes its records; programs drain them'],
  [MapType.PERF_EVENT_ARRAY, 'its slots hold perf events; records are read with a perf reader'],
  [MapType.QUEUE, 'its values are popped, not looked up'],
  [MapType.STACK, 'its values are popped, not looked up'],
  [MapType.BLOOM_FILTER, 'it answers membership only'],
]);

/** Options of `map dump` on a kernel map. */
export interface MapDumpOptions {
  /** Stack-trace maps: the process whose user addresses the stacks hold (named through its mappings). */
  pid?: number;
}

/**
 * A stack-trace map's value as frames: the addresses up to the first zero, each named (kernel ones through
 * kallsyms, user ones through `pid`'s mappings when given, else left as addresses).
 */
function stackFrames(
  value: Uint8Array,
  symbolizer: Symbolizer,
  pid?: number,
): { address: string; frame: string }[] {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const frames: { address: string; frame: string }[] = [];
  for (let at = 0; at + 8 <= value.length; at += 8) {
    const ip = view.getBigUint64(at, true);
    if (ip === 0n) break;
    frames.push({ address: `0x${ip.toString(16)}`, frame: formatFrame(symbolizer.frame(ip, pid)) });
  }
  return frames;
}

/** `map dump (id N | pinned P) [--json] [--pid N]`; a stack-trace map's stacks are printed symbolised. */
export function mapDump(words: readonly string[], json: boolean, options: MapDumpOptions = {}): void {
  const [sel, rest] = parseSelector('map dump', words);
  if (rest.length) throw new CliError(`map dump: unexpected '${rest.join(' ')}'`, EXIT.usage);
  const m = openMap(sel, 'map dump');
  try {
    const how = UNDUMPABLE.get(m.info.type);
    if (how)
      throw new CliError(`${m.what}: a ${m.info.typeName} map has no elements to dump (${how})`, EXIT.input);
    const stacks = m.info.type === MapType.STACK_TRACE;
    if (options.pid !== undefined && !stacks)
      throw new CliError(
        `${m.what}: --pid is for stack_trace maps (this one is ${m.info.typeName})`,
        EXIT.usage,
      );
    const symbolizer = stacks ? new Symbolizer() : undefined;
    const entries: Record<string, unknown>[] = [];
    const texts: string[] = [];
    let key: Uint8Array | undefined;
    // A walk visits each key once unless keys are deleted meanwhile (then it may restart): bounded.
    const limit = 2 * m.info.maxEntries + 16;
    for (let i = 0; i < limit; i++) {
      const next = guard(m.what, () => mapNextKey(m.fd, key, m.info.keySize));
      if (!next) break;
      key = next;
      const value = guard(m.what, () => mapLookup(m.fd, next, userValueSize(m)));
      if (!value) continue; // deleted between the two calls
      if (symbolizer) {
        const frames = guard(m.what, () => stackFrames(value, symbolizer, options.pid));
        const id = new DataView(next.buffer, next.byteOffset).getUint32(0, true);
        if (json) entries.push({ key: hexList(next), value: hexList(value), frames });
        else texts.push(`stack ${id}:\n${frames.map((f) => `    ${f.frame}\n`).join('')}`);
      } else if (json) entries.push(entryJson(m, next, value));
      else texts.push(entryText(m, next, value));
    }
    if (json) out(`${toJson(entries)}\n`);
    else out(`${texts.join('')}Found ${texts.length} element${texts.length === 1 ? '' : 's'}\n`);
  } finally {
    closeFd(m.fd);
  }
}

/**
 * Bytes of a key or value from the words after `key`/`value`: `hex 0a 00 …` (hex bytes, or runs of them),
 * several words (bytes, decimal or 0x-prefixed, as bpftool reads them), or one word that is a value of the
 * map's BTF type (JSON: `3`, `{"packets": 1}`) when the map has one.
 */
function parseBytes(m: OpenMap, part: 'key' | 'value', words: readonly string[]): Uint8Array {
  const size = part === 'key' ? m.info.keySize : m.info.valueSize;
  const typeId = part === 'key' ? m.info.btfKeyTypeId : m.info.btfValueTypeId;
  let bytes: Uint8Array;
  if (words[0] === 'hex') {
    const text = words.slice(1).join('');
    if (!/^([0-9a-fA-F]{2})+$/.test(text))
      throw new CliError(`${m.what}: ${part} 'hex ${words.slice(1).join(' ')}' is not hex bytes`, EXIT.usage);
    bytes = Uint8Array.from(text.match(/../g)!, (h) => Number.parseInt(h, 16));
  } else if (words.length === 1 && m.btf && typeId) {
    let value: BtfValue;
    try {
      value = parseJsonBig(words[0]!);
    } catch {
      value = words[0]!; // a bare word: a string value (char array, enum name)
    }
    try {
      bytes = parseValue(m.btf, typeId, value);
    } catch (e) {
      throw new CliError(`${m.what}: ${part} '${words[0]}': ${(e as Error).message}`, EXIT.usage);
    }
  } else {
    bytes = Uint8Array.from(words, (w) => {
      const n = /^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(w) ? Number(w) : Number.NaN;
      if (!(n >= 0 && n <= 255))
        throw new CliError(`${m.what}: ${part} byte '${w}' is not 0-255 (or use: ${part} hex …)`, EXIT.usage);
      return n;
    });
  }
  const want = part === 'value' && m.cpus ? [size, m.stride * m.cpus] : [size];
  if (!want.includes(bytes.length))
    throw new CliError(`${m.what}: ${part} has ${bytes.length} bytes, the map's have ${size}`, EXIT.usage);
  // One value for a per-CPU map: every CPU gets it, as bpftool does.
  if (part === 'value' && m.cpus && bytes.length === size) {
    const all = new Uint8Array(m.stride * m.cpus);
    for (let c = 0; c < m.cpus; c++) all.set(bytes, c * m.stride);
    return all;
  }
  return bytes;
}

/**
 * JSON.parse, but integers beyond 2^53 become bigints (a u64 counter set to its maximum must arrive whole):
 * such literals, outside strings, are quoted with a mark first and turned into bigints by the reviver.
 */
function parseJsonBig(text: string): BtfValue {
  let marked = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      marked += ch;
      if (ch === '\\') marked += text[++i] ?? '';
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
      marked += ch;
    } else if (/[-\d]/.test(ch)) {
      const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i))!;
      const lit = m[0] || ch;
      marked += /^-?\d{16,}$/.test(lit) ? `"\\u0000big:${lit}"` : lit;
      i += lit.length - 1;
    } else marked += ch;
  }
  return JSON.parse(marked, (_k, v) =>
    typeof v === 'string' && v.startsWith('\u0000big:') ? BigInt(v.slice(5)) : v,
  ) as BtfValue;
}

const UPDATE_FLAGS: Readonly<Record<string, number>> = { any: 0, noexist: 1, exist: 2 };

/** Split `key … value … [flag]` into its parts. */
function splitWords(what: string, words: readonly string[], withValue: boolean) {
  if (words[0] !== 'key')
    throw new CliError(`${what}: expected 'key …', got '${words.join(' ')}'`, EXIT.usage);
  const v = words.indexOf('value');
  if (!withValue) {
    if (v >= 0) throw new CliError(`${what}: takes no value`, EXIT.usage);
    if (words.length < 2) throw new CliError(`${what}: 'key' needs bytes`, EXIT.usage);
    return { key: words.slice(1), value: [], flag: 0 };
  }
  if (v < 2) throw new CliError(`${what}: expected 'key … value …'`, EXIT.usage);
  let end = words.length;
  let flag = 0;
  const last = words[words.length - 1]!;
  if (last in UPDATE_FLAGS) {
    flag = UPDATE_FLAGS[last]!;
    end--;
  }
  if (end <= v + 1) throw new CliError(`${what}: 'value' needs bytes`, EXIT.usage);
  return { key: words.slice(1, v), value: words.slice(v + 1, end), flag };
}

/** `map lookup|update|delete (id N | pinned P) key … [value … [any|exist|noexist]] [--json]`. */
export function mapElement(
  op: 'lookup' | 'update' | 'delete',
  words: readonly string[],
  json: boolean,
): void {
  const [sel, rest] = parseSelector(`map ${op}`, words);
  const m = openMap(sel, `map ${op}`);
  try {
    const parts = splitWords(m.what, rest, op === 'update');
    const key = parseBytes(m, 'key', parts.key);
    if (op === 'lookup') {
      const value = guard(m.what, () => mapLookup(m.fd, key, userValueSize(m)));
      if (!value) throw new CliError(`${m.what}: key ${hexText(key)} not found`, EXIT.input);
      out(json ? `${toJson(entryJson(m, key, value))}\n` : entryText(m, key, value));
    } else if (op === 'update') {
      const value = parseBytes(m, 'value', parts.value);
      guard(m.what, () => mapUpdate(m.fd, key, value, parts.flag));
    } else {
      const found = guard(m.what, () => mapDelete(m.fd, key));
      if (!found) throw new CliError(`${m.what}: key ${hexText(key)} not found`, EXIT.input);
    }
  } finally {
    closeFd(m.fd);
  }
}

// ---------------------------------------------------------------------------------------------- links

function linkJson(l: LinkDetails): Record<string, unknown> {
  const j: Record<string, unknown> = { id: l.id, type: l.typeName, prog_id: l.progId };
  if (l.ifindex !== undefined) j.ifindex = l.ifindex;
  return j;
}

/** `link list|show [id N | pinned P] [--json]`. */
export function linkShow(words: readonly string[], json: boolean): void {
  let links: LinkDetails[];
  if (words.length === 0) links = eachObject('link', linkDetails);
  else {
    const [sel, rest] = parseSelector('link show', words);
    if (rest.length) throw new CliError(`link show: unexpected '${rest.join(' ')}'`, EXIT.usage);
    links = [withFd(open('link', sel), (fd) => guard(`link ${sel.by} ${sel.ref}`, () => linkDetails(fd)))];
  }
  if (json) out(`${toJson(words.length === 0 ? links.map(linkJson) : linkJson(links[0]!))}\n`);
  else
    for (const l of links)
      out(
        `${l.id}: ${l.typeName}  prog ${l.progId}\n${l.ifindex !== undefined ? `\tifindex ${l.ifindex}\n` : ''}`,
      );
}

// ------------------------------------------------------------------------------------------- loadall

/** A pin name from an object's name: bpffs takes any name, but '.' is kept out as libbpf does. */
const pinName = (name: string) => name.replace(/\./g, '_');

/**
 * `prog loadall OBJ PINDIR [--pinmaps DIR] [--autoattach]`: load every program of OBJ into the kernel, pin
 * each at PINDIR/NAME and each map at DIR/NAME (default PINDIR/maps). With `autoattach`, as bpftool's: a
 * program whose section says where it attaches (libbpf's rules) is attached and its link pinned at
 * PINDIR/NAME instead (the link holds the program); one whose section cannot say is pinned itself. On failure
 * the pins and links made so far are removed.
 */
export function progLoadAll(file: string, dir: string, mapDir: string | undefined, autoattach = false): void {
  const maps = mapDir ?? `${dir}/maps`;
  const made: string[] = [];
  const links: Link[] = [];
  const spec = readObjectFile(file);
  let obj: ReturnType<typeof loadKernelObject>;
  try {
    obj = loadKernelObject(spec, { objectName: basename(file).replace(/\.o$/, '') });
  } catch (e) {
    if (e instanceof KernelError) throw new CliError(`${file}: cannot load: ${e.message}`, EXIT.input);
    throw e; // a verifier rejection carries its own words (and exit 1)
  }
  let attached = 0;
  try {
    for (const d of [dir, maps]) {
      try {
        mkdirSync(d, { recursive: true });
      } catch (e) {
        throw new CliError(`${d}: cannot create: ${(e as Error).message}`, EXIT.input);
      }
    }
    const pin = (path: string, fn: () => void) => {
      guard(`pin ${path}`, fn);
      made.push(path);
    };
    for (const [name, p] of obj.programs) {
      const path = `${dir}/${pinName(name)}`;
      const link = autoattach ? autoAttach(file, p) : undefined;
      if (!link) {
        pin(path, () => objPin(p.fd, path));
        continue;
      }
      links.push(link);
      const pinnable = (link as { pin?: (path: string) => void }).pin;
      try {
        pin(path, () => pinnable?.call(link, path));
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(`${file}: program ${name}: ${(e as Error).message}`, EXIT.input);
      }
      attached++;
    }
    for (const [name, m] of obj.maps) {
      const path = `${maps}/${pinName(name)}`;
      pin(path, () => objPin(m.fd, path));
    }
  } catch (e) {
    for (const p of made) rmQuiet(p);
    for (const l of links) void l.close();
    throw e;
  } finally {
    // A pinned BPF link stays attached after its descriptors close: close() only releases them here.
    for (const l of links) void l.close();
    obj.close();
  }
  const n = obj.programs.size;
  out(
    `pinned ${n} program${n === 1 ? '' : 's'}${autoattach ? ` (${attached} attached, as links)` : ''} under ${dir}, ${obj.maps.size} map${obj.maps.size === 1 ? '' : 's'} under ${maps}\n`,
  );
}

/** Attach `p` where its section says; undefined when the section names no target (it is pinned itself). */
function autoAttach(file: string, p: KernelProgram): Link | undefined {
  try {
    return p.attach();
  } catch (e) {
    if (e instanceof TsbpfError && /cannot attach automatically|do not auto-attach/.test(e.message))
      return undefined;
    if (e instanceof TsbpfError) throw new CliError(`${file}: program ${p.name}: ${e.message}`, EXIT.input);
    throw e;
  }
}

function rmQuiet(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // a pin that cannot be removed is left: the error being reported matters more
  }
}
