// Multi-probes: one link for many functions. uprobe.multi (BPF_TRACE_UPROBE_MULTI, 6.6+) places uprobes
// at several offsets of one binary, named by symbols or a shell pattern over its function symbols;
// kprobe.multi (BPF_TRACE_KPROBE_MULTI, fprobe-based) probes several kernel functions. The programs must be
// loaded with the matching expected attach type (their sections, `uprobe.multi/…`, `kprobe.multi/…`, say so).

import { readFileSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import { attachTypeNumber } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { arena } from '../ffi.js';
import { type ElfSymbol, globToRegExp, matchingSymbols, resolveBinary, symbolOffset } from './elf-symbols.js';
import { KernelFeatureError } from './feature-error.js';
import { BpfLink } from './link.js';
import { tracefs } from './perf-event.js';
import { LinkCmd } from './sys.js';
import type { AttachableProgram } from './types.js';

const EOPNOTSUPP = 95;
const RETURN = 1; // BPF_F_UPROBE_MULTI_RETURN, BPF_F_KPROBE_MULTI_RETURN
/** Most functions one multi-probe takes (the kernel's own limit is MAX_KPROBE_MULTI_CNT, 1 << 20). */
const MAX_FUNCTIONS = 1 << 20;

/** Where a uprobe.multi goes: a binary and its functions (names, a pattern, or file offsets). */
export interface UprobeMultiOptions {
  binary: string;
  /** Function names, or one shell pattern (`tsbpf_*`) over the binary's function symbols. */
  symbols?: readonly string[] | string;
  /** File offsets (instead of, or besides, symbols). */
  offsets?: readonly number[];
  retprobe?: boolean;
  /** Only this process (default every process). */
  pid?: number;
  /** One per probe, in order: what bpf_get_attach_cookie() returns there. */
  cookies?: readonly bigint[];
}

function putU64s(values: readonly bigint[]): number {
  const a = arena();
  const at = a.reserve(values.length * 8);
  for (let i = 0; i < values.length; i++) a.view.setBigUint64(at + 8 * i, values[i]!, true);
  return at;
}

function putString(s: string): number {
  const a = arena();
  const bytes = new TextEncoder().encode(s);
  const at = a.reserve(bytes.length + 1);
  a.bytes.set(bytes, at);
  return at;
}

/** A uprobe.multi (or uretprobe.multi) link over several functions of one binary. */
export function attachUprobeMulti(prog: AttachableProgram, o: UprobeMultiOptions): BpfLink {
  const path = resolveBinary(o.binary);
  const syms: ElfSymbol[] =
    typeof o.symbols === 'string'
      ? o.symbols.includes('*') || o.symbols.includes('?')
        ? matchingSymbols(path, o.symbols)
        : [symbolOffset(path, o.symbols)]
      : (o.symbols ?? []).map((s) => symbolOffset(path, s));
  const offsets = [...syms.map((s) => s.fileOffset), ...(o.offsets ?? [])];
  if (offsets.length === 0 || offsets.length > MAX_FUNCTIONS)
    throw new TsbpfError(
      `a uprobe.multi on ${path} needs 1 to ${MAX_FUNCTIONS} functions, has ${offsets.length}`,
      `program ${prog.name}`,
    );
  if (o.cookies && o.cookies.length !== offsets.length)
    throw new TsbpfError(`${o.cookies.length} cookies for ${offsets.length} probes`, `program ${prog.name}`);
  const a = arena();
  a.begin(path.length * 3 + 1 + 16 * offsets.length + 64);
  const v = a.view;
  v.setUint32(0, prog.fd, true);
  v.setUint32(8, attachTypeNumber('trace_uprobe_multi')!, true);
  a.setPointer(16, putString(path));
  a.setPointer(24, putU64s(offsets.map(BigInt)));
  if (o.cookies) a.setPointer(40, putU64s(o.cookies));
  v.setUint32(48, offsets.length, true);
  v.setUint32(52, o.retprobe ? RETURN : 0, true);
  v.setUint32(56, o.pid ?? 0, true);
  const kind = o.retprobe ? 'uretprobe.multi' : 'uprobe.multi';
  const names = syms.map((s) => s.name).join(',');
  const fd = a.call(LinkCmd.LINK_CREATE, 64);
  if (fd < 0)
    throw new KernelError(
      'BPF_LINK_CREATE',
      -fd,
      `${kind} on ${path} (${offsets.length} probes), program ${prog.name}`,
    );
  return new BpfLink(fd, {
    kind,
    program: prog.name,
    target: `${path}:${typeof o.symbols === 'string' ? o.symbols : names}`,
    backend: 'kernel',
  });
}

/** A kprobe.multi (or kretprobe.multi) link over kernel functions by name. */
export function attachKprobeMulti(
  prog: AttachableProgram,
  o: {
    /** Function names, or one shell pattern over the traceable functions (available_filter_functions). */
    functions: readonly string[] | string;
    retprobe?: boolean;
    cookies?: readonly bigint[];
  },
): BpfLink {
  const functions = typeof o.functions === 'string' ? traceable(o.functions) : o.functions;
  const n = functions.length;
  if (n === 0 || n > MAX_FUNCTIONS)
    throw new TsbpfError(`a kprobe.multi needs 1 to ${MAX_FUNCTIONS} functions`, `program ${prog.name}`);
  if (o.cookies && o.cookies.length !== n)
    throw new TsbpfError(`${o.cookies.length} cookies for ${n} functions`, `program ${prog.name}`);
  const a = arena();
  a.begin(functions.reduce((t, f) => t + f.length + 9, 0) + 16 * n + 64);
  const names = putU64s(functions.map((f) => a.address(putString(f))));
  const v = a.view;
  v.setUint32(0, prog.fd, true);
  v.setUint32(8, attachTypeNumber('trace_kprobe_multi')!, true);
  v.setUint32(16, o.retprobe ? RETURN : 0, true);
  v.setUint32(20, n, true);
  a.setPointer(24, names);
  if (o.cookies) a.setPointer(40, putU64s(o.cookies));
  const kind = o.retprobe ? 'kretprobe.multi' : 'kprobe.multi';
  const fd = a.call(LinkCmd.LINK_CREATE, 64);
  // Built without fprobe (CONFIG_FPROBE), the kernel refuses the attach type itself.
  if (fd === -EOPNOTSUPP)
    throw new KernelFeatureError(
      'fprobe',
      'BPF_LINK_CREATE',
      EOPNOTSUPP,
      `this kernel cannot attach ${kind} programs: no fprobe (built without CONFIG_FPROBE)`,
    );
  if (fd < 0)
    throw new KernelError('BPF_LINK_CREATE', -fd, `${kind} on ${n} functions, program ${prog.name}`);
  return new BpfLink(fd, {
    kind,
    program: prog.name,
    target: typeof o.functions === 'string' ? o.functions : functions.join(','),
    backend: 'kernel',
  });
}

/** The traceable kernel functions matching a shell pattern (a plain name stands for itself). */
function traceable(pattern: string): string[] {
  if (!/[*?]/.test(pattern)) return [pattern];
  const re = globToRegExp(pattern);
  const names = new Set<string>();
  for (const line of readFileSync(`${tracefs()}/available_filter_functions`, 'utf8').split('\n')) {
    const name = line.split(' ')[0]!;
    if (name && re.test(name)) names.add(name);
  }
  if (names.size === 0)
    throw new TsbpfError(`no traceable kernel function matches ${pattern}`, 'kprobe.multi');
  return [...names].sort();
}
