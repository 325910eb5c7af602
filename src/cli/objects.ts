// CLI plumbing shared by the commands that load objects and show maps: read an ELF file, pick a program,
// apply `--map-set`, dump maps as hex and (with BTF) as formatted values.

import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type Command, Option } from 'commander';
import { type Btf, formatValue } from '../btf/index.js';
import {
  type LoadedObject,
  type LoadedProgram,
  loadObject,
  setTailCallTarget,
} from '../collection/userspace.js';
import { readObject } from '../elf/index.js';
import type { EngineName, Runner } from '../engine/runner.js';
import { parseEngine } from '../engine/runner.js';
import { FormatError } from '../errors.js';
import { bytesToHex, hexToBytes as parseHexBytes } from '../hex.js';
import { checkMapSpec } from '../maps/registry.js';
import { rawKeys } from '../maps/typed.js';
import type { BpfMap } from '../maps/types.js';
import { type CaptureStream, PcapWriter, streamCapture, type WriteOptions } from '../net/pcap.js';
import { hostExternValues } from '../node/externs.js';
import { machineMapMemoryLimit } from '../node/load.js';
import { type MapSpec, MapType } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';
import { programTypeByName } from '../spec/program-types.js';
import {
  type ResolvedProgramType,
  resolveProgramType,
  unknownProgramTypeMessage,
} from '../spec/type-names.js';
import { VerifierError } from '../verifier/index.js';
import type { RunLimits } from '../vm/limits.js';
import type { RuntimeOptions } from '../vm/runtime.js';
import { CliError, fileError } from './errors.js';
import { type OutputFile, readInput } from './files.js';

/** The whole file (bounded, see `readInput`); errors name the file and what it was read as. */
export function readBytes(file: string, what = 'file'): Uint8Array {
  return readInput(file, what);
}

/** A capture file read in chunks (see `streamCapture`): the file is never in memory whole. */
export interface CaptureFile {
  stream: CaptureStream;
  /** The file's size (for a progress bar). */
  stat: Stats;
  close(): void;
}

export function openCaptureFile(file: string, what = 'capture'): CaptureFile {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw fileError(file, `read ${what}`, e);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new CliError(`${file}: cannot read ${what}: is a directory`);
    const source = (into: Uint8Array): number => {
      try {
        return readSync(fd, into, 0, into.length, null);
      } catch (e) {
        throw fileError(file, `read ${what}`, e);
      }
    };
    return { stream: streamCapture(source, file), stat, close: () => closeSync(fd) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** A pcap writer into an output (buffered: `flush` it before the output is committed). */
export function captureWriter(out: OutputFile, options: WriteOptions): PcapWriter {
  return new PcapWriter((c) => out.write(c), options);
}

/**
 * The object in `file`. With `program` (a --program name), an object whose other programs cannot be linked
 * (a call to libc's memset …) is read again with that program alone, and a note says so.
 */
export function readObjectFile(file: string, program?: string): ObjectSpec {
  const bytes = readBytes(file, 'object');
  if (bytes.length === 0) throw new CliError(`${file}: empty file, not an ELF object`);
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new CliError(`${file}: not an ELF object (expected a .o from clang -target bpf or tsbpf asm -o)`);
  }
  // __kconfig / __ksym externs get the running kernel's values, as libbpf gives them.
  const externs = hostExternValues();
  try {
    return readObject(bytes, { file, externs });
  } catch (e) {
    if (program === undefined || !(e instanceof FormatError)) throw e;
    let spec: ObjectSpec;
    try {
      spec = readObject(bytes, { file, programs: [program], externs });
    } catch {
      throw e;
    }
    if (spec.programs.length === 0) throw e;
    process.stderr.write(`tsbpf: note: ${e.message}; loading ${program} alone\n`);
    return spec;
  }
}

export function hexToBytes(hex: string, what: string): Uint8Array {
  const bytes = parseHexBytes(hex);
  if (!bytes) throw new CliError(`${what}: '${hex}' is not hex bytes (e.g. 0a000002)`, 2);
  return bytes;
}

export { bytesToHex };

export function engineOption(value: string): EngineName {
  try {
    return parseEngine(value);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
}

/**
 * Runtimes the CLI makes: maps may take a quarter of the machine's memory (capped at the address space),
 * rather than the core's fixed default for browsers; `cpus` per-CPU values.
 */
export function cliRuntime(cpus: number = machineCpus()): RuntimeOptions {
  return { mapMemoryLimit: machineMapMemoryLimit(), cpus };
}

/** The CPUs of this machine (what `--cpus` defaults to): per-CPU maps hold one value for each. */
export function machineCpus(): number {
  return availableParallelism();
}

// ---- program types as users spell them: --type T ----------------------------------------------------

/**
 * `--type T`: a kernel, bpftool or libbpf section name (src/spec/type-names.ts) resolved to the kernel's
 * type; an unknown name, or a type tsbpf has no rules for, is a usage error.
 */
export function parseProgramType(value: string): ResolvedProgramType {
  const r = resolveProgramType(value);
  if (!r) throw new CliError(`--type: ${unknownProgramTypeMessage(value)}`, 2);
  if (!programTypeByName(r.type))
    throw new CliError(`--type ${value}: tsbpf has no rules for ${r.type} programs yet`, 2);
  return r;
}

/** The program as `--type` says it is: its type, and the attach type the name fixes (or none). */
export function withType(p: ProgramSpec, t: ResolvedProgramType): ProgramSpec {
  const { attachType: _, ...rest } = p;
  return t.attachType === undefined
    ? { ...rest, type: t.type }
    : { ...rest, type: t.type, attachType: t.attachType };
}

// ---- sizing maps: --map-size MAP=N, --cpus N ---------------------------------------------------------

/** `--map-size` (repeatable) and `--cpus`, as commander gives them. */
export interface SizeFlags {
  mapSize?: string[];
  cpus?: number;
}

/** The kernel's largest CONFIG_NR_CPUS: more CPUs than that is a typo. */
const MAX_CPUS = 8192;

/** Add `--map-size MAP=N` and (unless `cpus` is false) `--cpus N` to a command that loads an object. */
export function sizeOptions(command: Command, cpus = true): Command {
  command.option(
    '--map-size <map=n>',
    "set a map's max_entries before load (repeatable): what a loader does for maps declared with 0",
    (value: string, previous: string[] = []) => [...previous, value],
  );
  if (cpus) {
    command.addOption(
      new Option(
        '--cpus <n>',
        "CPUs to model: one value each in per-CPU maps, one ring each in perf event arrays (default: this machine's)",
      ).argParser(parseCpus),
    );
  }
  return command;
}

function parseCpus(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_CPUS)
    throw new CliError(`--cpus: '${value}' is not a CPU count from 1 to ${MAX_CPUS}`, 2);
  return n;
}

/**
 * Size the object's maps before load, as its own loader would: `--map-size MAP=N` sets max_entries; a perf
 * event array declared with 0 gets one slot per CPU (as libbpf does); any other map still at 0 needs a
 * size from the user, and gets a message that says how to give it.
 */
export function sizeMaps(
  spec: ObjectSpec,
  flags: SizeFlags,
  cpus: number = flags.cpus ?? machineCpus(),
  /** Refuse a map left at 0 (false for commands that create no maps: verify). */
  complete = true,
): void {
  for (const entry of flags.mapSize ?? []) {
    const eq = entry.lastIndexOf('=');
    const name = entry.slice(0, Math.max(0, eq));
    const text = entry.slice(eq + 1);
    const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : Number.NaN;
    if (eq <= 0) throw new CliError(`--map-size '${entry}': expected MAP=N`, 2);
    if (!Number.isSafeInteger(n) || n < 1 || n > 0xffffffff)
      throw new CliError(`--map-size ${name}: '${text}' is not a size from 1 to 4294967295`, 2);
    const map = spec.maps.find((m) => m.name === name);
    if (!map) {
      throw new CliError(
        `--map-size: no map '${name}' (maps: ${spec.maps.map((m) => m.name).join(', ') || 'none'})`,
        2,
      );
    }
    map.maxEntries = n;
  }
  for (const map of spec.maps) {
    if (map.maxEntries !== 0) continue;
    if (map.type === MapType.PERF_EVENT_ARRAY) map.maxEntries = cpus;
    else if (complete && !sizedByOwner(map, cpus)) {
      throw new CliError(
        `map ${map.name} has max_entries 0 (its loader sizes it): give --map-size ${map.name}=N`,
        2,
      );
    }
  }
}

// ---- choosing the program: --program NAME ----------------------------------------------------------

/** `--program NAME`, and `--section NAME`, its older spelling (both take a function or a section name). */
export interface ProgramFlags {
  program?: string;
  section?: string;
}

/** Add `--program` (and the hidden `--section` alias) to a command that loads an object. */
export function programOption(command: Command, what: string): Command {
  command.option('--program <name>', `${what}: a function or section name; only it is loaded and verified`);
  command.addOption(new Option('--section <name>', 'the same as --program').hideHelp());
  return command;
}

/** The name `--program` / `--section` gave, or undefined; the two disagreeing is a usage error. */
export function programFlag(flags: ProgramFlags): string | undefined {
  if (flags.program !== undefined && flags.section !== undefined && flags.program !== flags.section)
    throw new CliError(
      `--program ${flags.program} and --section ${flags.section} name different programs`,
      2,
    );
  return flags.program ?? flags.section;
}

/** `name (section)` for every program, for the messages that list them. */
export function describePrograms(programs: readonly ProgramSpec[]): string {
  return programs.map((p) => `${p.name} (${p.section || 'no section'})`).join(', ') || 'none';
}

/**
 * The one program a command works on: `wanted` (a function name, or a section holding one program), or
 * without it the only program of the object (the only one of `kind.type` when given) that is not a
 * tail-call target (see `tailCallTargets`). Several candidates: the first, with a note on stderr naming
 * them; none: an error that lists the programs there are.
 */
export function chooseProgram(
  file: string,
  spec: ObjectSpec,
  wanted: string | undefined,
  kind?: { type: string; label: string },
  sets: readonly MapSet[] = [],
): ProgramSpec {
  const all = spec.programs;
  if (all.length === 0) throw new CliError(`${file}: the object has no programs`);
  if (wanted !== undefined) {
    const byName = all.find((p) => p.name === wanted);
    if (byName) return byName;
    const bySection = all.filter((p) => p.section === wanted);
    if (bySection.length === 1) return bySection[0]!;
    if (bySection.length > 1) {
      throw new CliError(
        `${file}: section ${wanted} holds ${bySection.length} programs (${bySection.map((p) => p.name).join(', ')}): give --program FUNCTION`,
        2,
      );
    }
    throw new CliError(`${file}: no program or section '${wanted}' (programs: ${describePrograms(all)})`, 2);
  }
  const ofKind = kind ? all.filter((p) => p.type === kind.type) : all;
  // A program the object or --map-set puts in a program array is where a tail call lands, not an entry.
  const targets = tailCallTargets(spec, sets);
  const entries = ofKind.filter((p) => !targets.has(p.name));
  const candidates = entries.length > 0 ? entries : ofKind;
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    throw new CliError(
      `${file}: no ${kind?.label ?? ''} program in the object (programs: ${describePrograms(all)})`,
    );
  }
  // Several: the first, as before --program existed, and a note that says which and how to choose.
  const first = candidates[0]!;
  process.stderr.write(
    `tsbpf: note: ${file} has ${candidates.length} ${kind ? `${kind.label} ` : ''}programs (${describePrograms(candidates)}): using ${first.name}, the first (choose with --program NAME)\n`,
  );
  return first;
}

/**
 * The programs a tail call may land in: the targets of the object's BTF `.values` slots and of
 * `--map-set` program-array entries.
 */
export function tailCallTargets(spec: ObjectSpec, sets: readonly MapSet[] = []): Set<string> {
  const names = new Set<string>();
  for (const slot of spec.mapSlots ?? []) if (slot.program !== undefined) names.add(slot.program);
  for (const s of sets) {
    const m = spec.maps.find((x) => x.name === s.map);
    if (m?.type !== MapType.PROG_ARRAY || /^(0x)?[0-9a-f]+$/i.test(s.value)) continue;
    const target = spec.programs.find((p) => p.name === s.value || p.section === s.value);
    if (target) names.add(target.name);
  }
  return names;
}

/**
 * The programs a load of `chosen` takes: it and its possible tail-call targets, so that a tail call
 * finds its target as when the whole object is loaded.
 */
export function loadSelection(spec: ObjectSpec, chosen: ProgramSpec, sets: readonly MapSet[] = []): string[] {
  return [...new Set([chosen.name, ...tailCallTargets(spec, sets)])];
}

/** The program's runner on `engine`, saying on stderr when a program over the JIT's limits runs interpreted. */
export function runnerFor(prog: LoadedProgram, engine: EngineName | undefined, limits?: RunLimits): Runner {
  const bound = limits && (limits.budget !== undefined || limits.deadline !== undefined);
  const runner = prog.runner(engine, bound ? limits : undefined);
  if (runner.fallback) {
    process.stderr.write(`tsbpf: note: ${prog.name} runs on the interpreter: ${runner.fallback.message}\n`);
  }
  return runner;
}

/** `--map-set MAP KEY=VALUE`, collected in order. */
export interface MapSet {
  map: string;
  key: string;
  value: string;
}

/** Commander gives `--map-set MAP KEY=VALUE` as pairs of words; turn them into MapSet entries. */
export function parseMapSets(words: readonly string[]): MapSet[] {
  const out: MapSet[] = [];
  for (let i = 0; i < words.length; i += 2) {
    const map = words[i]!;
    const kv = words[i + 1];
    const eq = kv?.indexOf('=') ?? -1;
    if (!kv || eq <= 0) throw new CliError(`--map-set ${map}: expected KEY=VALUE after the map name`, 2);
    out.push({ map, key: kv.slice(0, eq), value: kv.slice(eq + 1) });
  }
  return out;
}

/**
 * Apply the `--map-set` entries for global data (`.rodata` …) to the spec, where they must be set before
 * load (it is frozen after); returns the entries for the other maps, to apply after load with
 * `applyMapSets`. Shared by the user-space and kernel loaders.
 */
export function setBeforeLoad(spec: ObjectSpec, sets: readonly MapSet[]): MapSet[] {
  const after: MapSet[] = [];
  for (const s of sets) {
    const m = spec.maps.find((x) => x.name === s.map);
    if (!m) {
      throw new CliError(
        `--map-set: no map '${s.map}' (maps: ${spec.maps.map((x) => x.name).join(', ') || 'none'})`,
      );
    }
    if (m.readonly) {
      const key = hexToBytes(s.key, `--map-set ${s.map} key`);
      const value = hexToBytes(s.value, `--map-set ${s.map} value`);
      const contents = (m.contents ?? []).filter((c) => bytesToHex(c.key) !== bytesToHex(key));
      m.contents = [...contents, { key, value: mergeValue(m.contents, key, value, m.valueSize, s.map) }];
    } else after.push(s);
  }
  return after;
}

/**
 * Apply `--map-set` entries to loaded maps (either back end); a program array value may name a program,
 * which `setTailCall(map, index, program)` stores.
 */
export function applyMapSets(
  map: (name: string) => BpfMap,
  sets: readonly MapSet[],
  setTailCall: (map: string, index: number, program: string) => void,
): void {
  for (const s of sets) {
    const m = map(s.map);
    const key = hexToBytes(s.key, `--map-set ${s.map} key`);
    if (m.spec.type === MapType.PROG_ARRAY && !/^(0x)?[0-9a-f]+$/i.test(s.value)) {
      setTailCall(s.map, new DataView(key.buffer).getUint32(0, true), s.value);
      continue;
    }
    try {
      m.update(key, hexToBytes(s.value, `--map-set ${s.map} value`));
    } catch (e) {
      throw new CliError(`--map-set ${s.map} ${s.key}=${s.value}: ${(e as Error).message}`);
    }
  }
}

/**
 * Load an object, applying `--map-set` entries: global data (`.rodata` …) is set in the spec before load
 * (it is frozen after), the other maps after load; a program array value may name a program.
 */
export function loadWithMapSets(
  spec: ObjectSpec,
  sets: readonly MapSet[],
  options: { engine?: EngineName; verify?: boolean; programs?: readonly string[]; cpus?: number },
): LoadedObject {
  const after = setBeforeLoad(spec, sets);
  const obj = loadObject(spec, {
    engine: options.engine,
    verify: options.verify,
    programs: options.programs,
    runtimeOptions: cliRuntime(options.cpus),
  });
  for (const p of obj.programs.values())
    for (const w of p.verified?.warnings ?? []) process.stderr.write(`tsbpf: warning: ${p.name}: ${w}\n`);
  applyMapSets(
    (name) => obj.map(name),
    after,
    (map, index, program) => setTailCallTarget(obj, map, index, program),
  );
  return obj;
}

/**
 * Size the object's maps and load it for one chosen program (its siblings only as far as `--map-set` needs
 * them); a verifier rejection becomes one line naming the file.
 */
export function loadForProgram(
  file: string,
  spec: ObjectSpec,
  chosen: ProgramSpec,
  sets: readonly MapSet[],
  options: SizeFlags & { engine?: EngineName; verify?: boolean },
): LoadedObject {
  sizeMaps(spec, options);
  try {
    return loadWithMapSets(spec, sets, {
      engine: options.engine,
      verify: options.verify,
      programs: loadSelection(spec, chosen, sets),
      cpus: options.cpus,
    });
  } catch (e) {
    throw rejected(file, e);
  }
}

/**
 * A rejection by the verifier as one line: the file, the program, the instruction and the reason, and
 * where the whole explanation is (`tsbpf verify`).
 */
export function rejected(file: string, e: unknown): unknown {
  if (!(e instanceof VerifierError)) return e;
  const d = e.result?.diagnostics[0];
  const at = d ? ` at insn ${d.insn}: ${d.message}` : `: ${e.message}`;
  return new CliError(
    `${file}: program ${e.program} rejected by the verifier${at} (tsbpf verify ${file} --function ${e.program} explains)`,
  );
}

/** A value shorter than the map's value overwrites its start (so `--map-set .rodata 0=8913` works). */
function mergeValue(
  contents: { key: Uint8Array; value: Uint8Array }[] | undefined,
  key: Uint8Array,
  value: Uint8Array,
  size: number,
  name: string,
): Uint8Array {
  if (value.length > size)
    throw new CliError(`--map-set ${name}: value has ${value.length} bytes, the map's are ${size}`);
  if (value.length === size) return value;
  const base = contents?.find((c) => bytesToHex(c.key) === bytesToHex(key))?.value ?? new Uint8Array(size);
  const out = new Uint8Array(base);
  out.set(value);
  return out;
}

/** Map types whose contents are key/value pairs a dump can list. */
function dumpable(map: BpfMap): boolean {
  const t = map.spec.type;
  return (
    t !== MapType.RINGBUF && t !== MapType.PERF_EVENT_ARRAY && t !== MapType.QUEUE && t !== MapType.STACK
  );
}

export interface DumpedEntry {
  key: string;
  value?: string;
  values?: string[];
  formatted?: { key: unknown; value: unknown };
}

/** Every entry of a map, in iteration order; per-CPU values split per CPU. */
export function dumpMap(map: BpfMap, btf: Btf | undefined, cpus: number): DumpedEntry[] {
  if (!dumpable(map)) return [];
  const perCpu =
    map.spec.type === MapType.PERCPU_ARRAY ||
    map.spec.type === MapType.PERCPU_HASH ||
    map.spec.type === MapType.LRU_PERCPU_HASH;
  const stride = Math.ceil(map.spec.valueSize / 8) * 8;
  const out: DumpedEntry[] = [];
  for (const key of rawKeys(map)) {
    const value = map.lookup(key);
    if (!value) continue;
    const entry: DumpedEntry = { key: bytesToHex(key) };
    const values = perCpu
      ? Array.from({ length: cpus }, (_, c) => value.slice(c * stride, c * stride + map.spec.valueSize))
      : [value.slice(0, map.spec.valueSize)];
    if (perCpu) entry.values = values.map(bytesToHex);
    else entry.value = bytesToHex(values[0]!);
    const formatted = formatEntry(map, btf, key, values, perCpu);
    if (formatted) entry.formatted = formatted;
    out.push(entry);
  }
  return out;
}

function formatEntry(
  map: BpfMap,
  btf: Btf | undefined,
  key: Uint8Array,
  values: Uint8Array[],
  perCpu: boolean,
): { key: unknown; value: unknown } | undefined {
  const { btfKeyTypeId: k, btfValueTypeId: v } = map.spec;
  if (!btf || !v) return undefined;
  try {
    // Global data (.rodata …) has a DATASEC value type and no key type: its key is the u32 index 0.
    const fk = k
      ? formatValue(btf, k, key)
      : key.length === 4
        ? new DataView(key.buffer, key.byteOffset).getUint32(0, true)
        : undefined;
    if (fk === undefined) return undefined;
    const fv = perCpu ? values.map((x) => formatValue(btf, v, x)) : formatValue(btf, v, values[0]!);
    return { key: jsonSafe(fk), value: jsonSafe(fv) };
  } catch {
    return undefined;
  }
}

/** BigInts become numbers when exact, strings otherwise, so the result is plain JSON. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint')
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

/** Human form of a dump: `key: value` lines, BTF-formatted when possible. */
export function printMaps(obj: LoadedObject, write: (s: string) => void): void {
  printMapSet(obj.maps, obj.spec.btf as Btf | undefined, obj.runtime.cpus, write);
}

/** `printMaps` over any maps (kernel maps too): `cpus` is the number of per-CPU values. */
export function printMapSet(
  maps: ReadonlyMap<string, BpfMap>,
  btf: Btf | undefined,
  cpus: number,
  write: (s: string) => void,
): void {
  for (const [name, map] of maps) {
    if (!dumpable(map)) continue;
    const entries = dumpMap(map, btf, cpus);
    write(`map ${name} (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}):\n`);
    for (const e of entries) {
      if (e.formatted) write(`  ${JSON.stringify(e.formatted.key)}: ${JSON.stringify(e.formatted.value)}\n`);
      else write(`  ${e.key}: ${e.value ?? e.values?.join(' ')}\n`);
    }
  }
}

/** Maps whose 0 entries are their kernel's rule, not a size left to the loader (task/socket/… storage). */
function sizedByOwner(map: MapSpec, cpus: number): boolean {
  try {
    checkMapSpec(map, { cpus });
    return true;
  } catch {
    return false;
  }
}
