// The one object model, the same on both back ends (cilium/ebpf's and libbpf's path): a spec is loaded into
// a Collection of live maps and programs; a Program runs (a test run) or attaches, and an attachment is a
// Link. The user-space runtime and the Linux kernel each implement these; a script written against them
// runs on either with only the back end's name changed.

import type { Btf, BtfValue } from '../btf/index.js';
import type { TypedMap } from '../maps/typed.js';
import type { BpfMap } from '../maps/types.js';
import type { Link } from '../spec/link.js';
import type { MapSpec } from '../spec/maps.js';
import type { ObjectSpec, ProgramSpec } from '../spec/object.js';

export type { BpfMap } from '../maps/types.js';

/** Where a collection lives: a tsbpf runtime (anywhere JavaScript runs), or the Linux kernel. */
export type BackendName = 'userspace' | 'kernel';

/** A test run's input, as BPF_PROG_TEST_RUN takes it. */
export interface RunOptions {
  /** The packet (XDP: metadata first when `ctxIn` says so); at least 14 bytes for packet programs. */
  dataIn: Uint8Array;
  /** The context in (XDP: a `struct xdp_md`; skb programs: a `struct __sk_buff`). */
  ctxIn?: Uint8Array;
  /** Runs, 0 to 2^32-1 (0 is one run, as in the kernel); the duration is averaged. */
  repeat?: number;
  /** Room for the packet out (default: the kernel's page; the user-space run returns it whole). */
  dataOutSize?: number;
}

/** A test run's output, the same on both back ends. */
export interface RunResult {
  /** r0 of the last run (its low 32 bits, as the kernel reports it). */
  retval: number;
  /** The packet after the last run (XDP: from data_meta). */
  dataOut: Uint8Array;
  /** The context after the last run, when one was given. */
  ctxOut?: Uint8Array;
  /** Average nanoseconds per run. */
  durationNs: number;
  repeat: number;
}

export type { Link, LinkInfo } from '../spec/link.js';

/** A live program of a collection. */
export interface Program {
  readonly name: string;
  readonly spec: ProgramSpec;
  /** Program type name (`xdp`, `socket_filter`, `kprobe` …). */
  readonly type: string;
  readonly backend: BackendName;
  /** A test run (the kernel's BPF_PROG_TEST_RUN, or its user-space equivalent). */
  run(options: RunOptions): RunResult;
  /**
   * Attach an XDP program to interface `iface` (in `options.netns`, or the current network namespace): a BPF
   * link in the kernel, the Node packet-socket data path in user space. Closing the Link detaches it.
   */
  attachXdp(iface: string, options?: { netns?: string }): Link;
  /** Release the program (a kernel file descriptor; nothing in user space). */
  close(): void;
}

/** Live maps and programs loaded from one ObjectSpec. */
export interface Collection {
  readonly spec: ObjectSpec;
  readonly backend: BackendName;
  readonly maps: ReadonlyMap<string, BpfMap>;
  readonly programs: ReadonlyMap<string, Program>;
  /** The map called `name` (global data maps are `.bss`, `.data`, `.rodata`). */
  map(name: string): BpfMap;
  /** The program with this function or section name (the first when none is given). */
  program(name?: string): Program;
  /** A map as a Map-like view typed by the object's BTF: `typedMap('drops').get(5001)`. */
  typedMap<K = BtfValue, V = BtfValue>(name: string): TypedMap<K, V>;
  /** Global variables (`.data`, `.bss`, `.rodata`) by name, as they are now. */
  globals(): Record<string, BtfValue>;
  getGlobal(name: string): BtfValue;
  /** Set a global in `.data`/`.bss` (`.rodata` is frozen once loaded: set it on the spec first). */
  setGlobal(name: string, value: BtfValue): void;
  /** Put `program` in slot `index` of the program array `map` (a tail-call target). */
  setTailCall(map: string, index: number, program: string): void;
  /** Release every map and program (a failed load has already released what it created). */
  close(): void;
}

/** What a back end supplies to the one loader: create a map, load a program, what a slot stores. */
export interface Backend<M extends BpfMap, P extends Program> {
  readonly name: BackendName;
  /** Create a map with its initial contents (`spec.contents`). */
  createMap(spec: MapSpec): M;
  /** Load (verify) a program against the object's maps, in ObjectSpec order. */
  loadProgram(spec: ProgramSpec, maps: readonly M[], btf: Btf | undefined, object: ObjectSpec): P;
  /** What a program-array slot holds for `program` (a program id, a file descriptor). */
  programRef(program: P): number;
  /** What a map-of-maps slot holds for `map` (an address, a file descriptor). */
  mapRef(map: M): number;
  /** Make a map read-only for user space from now on (BPF_MAP_FREEZE). */
  freeze(map: M): void;
  closeMap(map: M): void;
}
