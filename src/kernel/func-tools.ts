// funccount and funclatency on the kernel (`tsbpf trace funccount|funclatency --ufn BINARY:SYMBOL
// --kfn PATTERN`): the programs of src/tools/kernel-probes.ts loaded here, attached to user functions by
// uprobe.multi links and to kernel functions by kprobe.multi links, one link per --ufn/--kfn, each function
// told apart by its attach cookie (its index in the report). Results come out in the shapes of the
// JS-function tools' messages (`counts`, `latency`), so the CLI prints both with one report code.

import { existsSync, readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import { LOG2_SLOTS } from '../tools/histogram.js';
import { kernelCountProgram, kernelEntryProgram, kernelReturnProgram } from '../tools/kernel-probes.js';
import { globToRegExp, matchingSymbols, resolveBinary, symbolOffset } from './links/elf-symbols.js';
import type { KernelAttachment } from './links/link.js';
import { type KernelObject, loadKernelObject } from './object.js';

/** Functions one tool may trace (each a counter key; funclatency: 65 slots each). */
export const MAX_TRACED = 1000;
/** Threads inside a traced function at once (funclatency's start times). */
const MAX_IN_FLIGHT = 10240;

/** Where a traced function lives: a user binary (`--ufn`) or the kernel (`--kfn`). */
export type KernelFunctionTarget = { kind: 'user'; spec: string } | { kind: 'kernel'; pattern: string };

/** Options of the kernel function tools. */
export interface KernelFuncToolOptions {
  /** Only this process (user functions; kernel functions: every process). */
  pid?: number;
}

/** `BINARY:SYMBOL` (SYMBOL may be a shell pattern) as the binary's path and the function names. */
export function resolveUserFunctions(spec: string): { binary: string; names: string[] } {
  const colon = spec.lastIndexOf(':');
  const file = colon < 0 ? '' : spec.slice(0, colon);
  const symbol = colon < 0 ? '' : spec.slice(colon + 1);
  if (!file || !symbol) throw new TsbpfError(`--ufn '${spec}': expected BINARY:SYMBOL`);
  const binary = resolveBinary(file);
  const names = /[*?]/.test(symbol)
    ? matchingSymbols(binary, symbol).map((s) => s.name)
    : [symbolOffset(binary, symbol).name];
  return { binary, names };
}

/** Kernel functions matching `pattern` (available_filter_functions); a clear error where none can be. */
export function resolveKernelFunctions(pattern: string): string[] {
  if (!existsSync('/sys/bus/event_source/devices/kprobe')) {
    throw new TsbpfError(
      `--kfn ${pattern}: this kernel cannot trace kernel functions: it has no kprobes (CONFIG_KPROBES) for ` +
        'kprobe.multi, and fentry needs BPF trampolines; trace user functions with --ufn BINARY:SYMBOL',
    );
  }
  if (!/[*?]/.test(pattern)) return [pattern];
  const file = '/sys/kernel/tracing/available_filter_functions';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new TsbpfError(`--kfn ${pattern}: cannot read ${file} (mount tracefs at /sys/kernel/tracing)`);
  }
  const re = globToRegExp(pattern);
  const names = [...new Set(text.split('\n').map((l) => l.split(/\s/)[0]!))].filter((n) => n && re.test(n));
  if (names.length === 0) throw new TsbpfError(`--kfn ${pattern}: no traceable kernel function matches`);
  return names.sort();
}

function program(name: string, insns: ProgramSpec['insns'], kernel: boolean, ret: boolean): ProgramSpec {
  const kind = `${kernel ? 'k' : 'u'}${ret ? 'ret' : ''}probe.multi`;
  return {
    name,
    section: kind,
    type: 'kprobe',
    attachType: kernel ? 'trace_kprobe_multi' : 'trace_uprobe_multi',
    insns,
    license: 'GPL',
  };
}

const hash = (name: string, keySize: number, maxEntries: number): MapSpec => ({
  name,
  type: MapType.HASH,
  keySize,
  valueSize: 8,
  maxEntries,
  flags: 0,
});

/**
 * A kernel funccount or funclatency over user and kernel functions: loaded and attached on creation,
 * counting until `close()`. `counts()`/`latency()` read the results, keyed `BINARY:SYMBOL` (user) or the
 * kernel function's name.
 */
export class KernelFuncTool {
  private readonly labels: string[] = [];
  private readonly links: KernelAttachment[] = [];
  private readonly obj: KernelObject;

  constructor(
    readonly tool: 'funccount' | 'funclatency',
    targets: readonly KernelFunctionTarget[],
    options: KernelFuncToolOptions = {},
  ) {
    // Resolve every name first: a bad target fails before anything is loaded.
    const groups = targets.map((t) => {
      if (t.kind === 'kernel') return { t, binary: '', names: resolveKernelFunctions(t.pattern) };
      return { t, ...resolveUserFunctions(t.spec) };
    });
    const total = groups.reduce((n, g) => n + g.names.length, 0);
    if (total === 0) throw new TsbpfError('name at least one function with --ufn or --kfn');
    if (total > MAX_TRACED) throw new TsbpfError(`${total} functions to trace: at most ${MAX_TRACED}`);
    const latency = tool === 'funclatency';
    const kinds = [...new Set(groups.map((g) => g.t.kind === 'kernel'))];
    const programs: ProgramSpec[] = [];
    for (const kernel of kinds) {
      const k = kernel ? 'k' : 'u';
      if (latency) {
        programs.push(program(`${k}_entry`, kernelEntryProgram(), kernel, false));
        programs.push(program(`${k}_return`, kernelReturnProgram(), kernel, true));
      } else programs.push(program(`${k}_count`, kernelCountProgram(), kernel, false));
    }
    const spec: ObjectSpec = {
      license: 'GPL',
      maps: latency
        ? [hash('hist', 8, total * LOG2_SLOTS), hash('starts', 8, MAX_IN_FLIGHT)]
        : [hash('counts', 4, total)],
      programs,
    };
    this.obj = loadKernelObject(spec, { objectName: tool });
    try {
      for (const g of groups) {
        const kernel = g.t.kind === 'kernel';
        const k = kernel ? 'k' : 'u';
        const cookies = g.names.map((_, i) => BigInt(this.labels.length + i));
        // Reported as the user wrote the binary: `./prog:f`; kernel functions by name.
        const file = g.t.kind === 'user' ? g.t.spec.slice(0, g.t.spec.lastIndexOf(':')) : '';
        for (const n of g.names) this.labels.push(kernel ? n : `${file}:${n}`);
        const attach = (name: string, retprobe: boolean) =>
          this.links.push(
            kernel
              ? this.obj.program(name).attach({ kind: 'kprobe_multi', functions: g.names, cookies, retprobe })
              : this.obj.program(name).attach({
                  kind: 'uprobe_multi',
                  binary: g.binary,
                  symbols: g.names,
                  cookies,
                  retprobe,
                  pid: options.pid,
                }),
          );
        if (latency) {
          attach(`${k}_entry`, false);
          attach(`${k}_return`, true);
        } else attach(`${k}_count`, false);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Calls by function (funccount), every traced function listed (0 when not called). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const l of this.labels) out[l] = 0;
    const m = this.obj.map('counts');
    for (const [key, value] of entries(m)) {
      const i = new DataView(key.buffer, key.byteOffset).getUint32(0, true);
      const label = this.labels[i];
      if (label !== undefined)
        out[label] = Number(new DataView(value.buffer, value.byteOffset).getBigUint64(0, true));
    }
    return out;
  }

  /** log2 histograms of durations in ns by function (funclatency), as the JS tools report them. */
  latency(): Record<string, { counts: number[] }> {
    const out: Record<string, { counts: number[] }> = {};
    for (const l of this.labels) out[l] = { counts: new Array<number>(LOG2_SLOTS).fill(0) };
    for (const [key, value] of entries(this.obj.map('hist'))) {
      const dv = new DataView(key.buffer, key.byteOffset);
      const label = this.labels[dv.getUint32(0, true)];
      const slot = dv.getUint32(4, true);
      if (label === undefined || slot >= LOG2_SLOTS) continue;
      out[label]!.counts[slot]! += Number(new DataView(value.buffer, value.byteOffset).getBigUint64(0, true));
    }
    return out;
  }

  /** Detach every probe and free the maps and programs. */
  close(): void {
    for (const l of this.links.splice(0)) l.close();
    this.obj?.close();
  }
}

/** Every entry of a kernel map (bounded by its max_entries). */
function entries(m: {
  spec: MapSpec;
  nextKey(k: Uint8Array | undefined): Uint8Array | undefined;
  lookup(k: Uint8Array): Uint8Array | undefined;
}): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  let key = m.nextKey(undefined);
  while (key && out.length < m.spec.maxEntries) {
    const v = m.lookup(key);
    if (v) out.push([key, v]);
    key = m.nextKey(key);
  }
  return out;
}
