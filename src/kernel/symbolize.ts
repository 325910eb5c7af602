// Stack-trace maps made readable: a BPF_MAP_TYPE_STACK_TRACE value is an array of up to 127 instruction
// addresses (zero-terminated) filled by bpf_get_stackid. Kernel addresses are named through /proc/kallsyms
// (sorted once, nearest preceding symbol + offset); user addresses through the process's mappings
// (/proc/PID/maps: which file, at which file offset) and that file's function symbols (./links/elf-symbols.ts),
// nearest preceding symbol by file offset. What cannot be named keeps its address (and module when known).

import { readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.js';
import { matchingSymbols } from './links/elf-symbols.js';
import * as sys from './syscall.js';

/** Kernel addresses start here on 64-bit Linux (user space lies below). */
const KERNEL_START = 0xffff800000000000n;
/** kallsyms lines read at most (a kernel has ~200k; modules add more). */
const MAX_KALLSYMS = 2_000_000;
/** Binaries whose symbols are kept at once (each a sorted table). */
const MAX_BINARIES = 64;

/** One frame of a stack: the address, and where it lies when known. */
export interface StackFrame {
  address: bigint;
  /** Function containing the address (nearest preceding symbol). */
  symbol?: string;
  /** Bytes from the symbol's start (no symbol: from the start of the module's file). */
  offset?: bigint;
  /** `kernel`, a kernel module's name, or the path of the mapped binary. */
  module?: string;
}

/** `g+0x4 (/tmp/prog)`, or the address in hex when nothing names it. */
export function formatFrame(f: StackFrame): string {
  const at = `0x${f.address.toString(16)}`;
  if (f.symbol === undefined) {
    if (!f.module) return at;
    return f.offset === undefined ? `${at} (${f.module})` : `${at} (${f.module}+0x${f.offset.toString(16)})`;
  }
  const off = f.offset ? `+0x${f.offset.toString(16)}` : '';
  return `${f.symbol}${off}${f.module && f.module !== 'kernel' ? ` (${f.module})` : ''}`;
}

/** A sorted symbol table: starts ascending, with a name (and module) for each. */
interface Table {
  starts: bigint[];
  names: string[];
  modules?: (string | undefined)[];
}

/** The entry with the largest start <= `at`, or -1. */
function nearest(starts: readonly bigint[], at: bigint): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= at) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function sortedTable(entries: { start: bigint; name: string; module?: string }[]): Table {
  entries.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return {
    starts: entries.map((e) => e.start),
    names: entries.map((e) => e.name),
    modules: entries.map((e) => e.module),
  };
}

/**
 * The kernel's text symbols from kallsyms text (`ffffffff81000000 T _stext [module]`). Addresses read as
 * zero (kptr_restrict, not root) leave nothing to name with: an error saying so.
 */
export function parseKallsyms(text: string): Table {
  const entries: { start: bigint; name: string; module?: string }[] = [];
  let lines = 0;
  for (const line of text.split('\n')) {
    if (++lines > MAX_KALLSYMS) break;
    const parts = line.split(/\s+/);
    if (parts.length < 3 || !/^[tTwW]$/.test(parts[1]!)) continue;
    const start = BigInt(`0x${parts[0]}`);
    if (start === 0n) continue;
    const module = parts[3]?.replace(/^\[|\]$/g, '');
    entries.push({ start, name: parts[2]!, module });
  }
  if (entries.length === 0)
    throw new TsbpfError(
      'no kernel symbol addresses (run as root, or lower kernel.kptr_restrict)',
      '/proc/kallsyms',
    );
  return sortedTable(entries);
}

/** A mapping of a file in a process (a /proc/PID/maps line). */
interface FileMapping {
  start: bigint;
  end: bigint;
  fileOffset: bigint;
  path: string;
}

function processMappings(pid: number): FileMapping[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    throw new TsbpfError(`process ${pid} is gone (no /proc/${pid}/maps): user addresses cannot be named`);
  }
  const out: FileMapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(\/.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      fileOffset: BigInt(`0x${m[3]}`),
      path: m[4]!.replace(/ \(deleted\)$/, ''),
    });
  }
  return out;
}

/**
 * Names addresses of stacks: the kernel's through /proc/kallsyms (read on first use), a process's through
 * its mappings and the mapped files' symbols (each file read once per Symbolizer, at most MAX_BINARIES).
 */
export class Symbolizer {
  private kernelTable?: Table;
  private readonly binaries = new Map<string, Table | undefined>();
  private readonly mappings = new Map<number, FileMapping[]>();

  constructor(private readonly kallsyms: () => string = () => readFileSync('/proc/kallsyms', 'utf8')) {}

  /** A kernel address. */
  kernel(address: bigint): StackFrame {
    this.kernelTable ??= parseKallsyms(this.kallsyms());
    const t = this.kernelTable;
    const i = nearest(t.starts, address);
    if (i < 0) return { address };
    return {
      address,
      symbol: t.names[i]!,
      offset: address - t.starts[i]!,
      module: t.modules?.[i] ?? 'kernel',
    };
  }

  /** An address in process `pid` (which must still be running). */
  user(address: bigint, pid: number): StackFrame {
    let maps = this.mappings.get(pid);
    if (!maps) {
      maps = processMappings(pid);
      this.mappings.set(pid, maps);
    }
    const m = maps.find((x) => address >= x.start && address < x.end);
    if (!m) return { address };
    const inFile = address - m.start + m.fileOffset;
    const t = this.binary(m.path);
    const i = t ? nearest(t.starts, inFile) : -1;
    if (!t || i < 0) return { address, offset: inFile, module: m.path };
    return { address, symbol: t.names[i]!, offset: inFile - t.starts[i]!, module: m.path };
  }

  /** A kernel or user address, told apart by where it lies; user ones need the process. */
  frame(address: bigint, pid?: number): StackFrame {
    if (address >= KERNEL_START) return this.kernel(address);
    return pid === undefined ? { address } : this.user(address, pid);
  }

  /** A file's function symbols by file offset; a file without symbols (or unreadable) names nothing. */
  private binary(path: string): Table | undefined {
    if (this.binaries.has(path)) return this.binaries.get(path);
    let table: Table | undefined;
    try {
      const syms = matchingSymbols(path, '*');
      table = sortedTable(syms.map((s) => ({ start: BigInt(s.fileOffset), name: s.name })));
    } catch {
      // Stripped, not ELF, or (today) a name defined at several addresses, which matchingSymbols refuses
      // (libc, node): the frames keep the file and the offset in it.
      table = undefined;
    }
    if (this.binaries.size >= MAX_BINARIES) this.binaries.delete(this.binaries.keys().next().value!);
    this.binaries.set(path, table);
    return table;
  }
}

/** The addresses a stack-trace map holds for `stackId` (empty when the id is not there). */
export function readStack(mapFd: number, stackId: number, valueSize: number): bigint[] {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, stackId, true);
  const value = sys.mapLookup(mapFd, key, valueSize);
  if (!value) return [];
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: bigint[] = [];
  for (let at = 0; at + 8 <= value.length; at += 8) {
    const ip = view.getBigUint64(at, true);
    if (ip === 0n) break;
    out.push(ip);
  }
  return out;
}

/** Options of `symbolize`. */
export interface SymbolizeOptions {
  /** The process user addresses belong to (what bpf_get_current_pid_tgid gave with the stack id). */
  pid?: number;
  /** Reuse a Symbolizer (its tables) across calls. */
  symbolizer?: Symbolizer;
}

/**
 * The stacks `stackIds` of a stack-trace map (`{ fd, spec.valueSize }`, a KernelMap), each frame named:
 * kernel addresses through kallsyms, user ones through `options.pid`'s mappings. A negative id (what
 * bpf_get_stackid returns on failure) gives an empty stack.
 */
export function symbolize(
  map: { fd: number; spec: { valueSize: number } },
  stackIds: readonly number[],
  options: SymbolizeOptions = {},
): StackFrame[][] {
  const s = options.symbolizer ?? new Symbolizer();
  return stackIds.map((id) =>
    id < 0 ? [] : readStack(map.fd, id, map.spec.valueSize).map((a) => s.frame(a, options.pid)),
  );
}
