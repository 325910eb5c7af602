// User-defined static tracepoints, the USDT idea for JavaScript: the code declares
// `const tp = tracepoint('db:query', { rows: 'u32', table: 'char[16]' })` and calls `tp.fire(rows, table)`
// where the event happens. With nothing attached `fire` returns after one check. Programs attach by name
// (`attachTracepoint('db:query', prog)` or `tp.attach(prog)`) and read a context laid out like a kernel
// tracepoint record: 8 bytes of common fields (not readable), then the schema's fields in order with
// natural alignment. The verifier checks each program against exactly that record, so a read past the
// last field or any write is rejected. `tp.cStruct()` prints the matching C declaration.

import type { EngineName } from '../engine/runner.js';
import { TsbpfError } from '../errors.js';
import type { Link, LinkInfo } from '../spec/link.js';
import { type CtxLayout, type ProgramType, programTypeByName } from '../spec/program-types.js';
import { putValue } from './probe-context.js';
import {
  type BoundProgram,
  bindProgram,
  GuardedRun,
  type RunCounts,
  type TraceProgramSource,
} from './trace-program.js';

export type IntFieldType = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64' | 'bool';
/** A field: an integer, or a fixed-size character array (strings are UTF-8, NUL-terminated, truncated). */
export type FieldType = IntFieldType | `char[${number}]`;
/** A tracepoint's record: its fields' names and types, in order. */
export type Schema = Readonly<Record<string, FieldType>>;

/** What `fire` takes for a field: numbers/bigints/booleans for integers (strings and buffers give their length). */
export type FieldValue<T extends FieldType> = T extends `char[${number}]`
  ? string | Uint8Array
  : number | bigint | boolean | string | ArrayBufferView | null | undefined;

/** Bytes of common fields before the record (as the kernel's `struct trace_entry`). */
export const TRACEPOINT_COMMON_SIZE = 8;

export interface FieldLayout {
  name: string;
  type: FieldType;
  offset: number;
  size: number;
}

/** Options of attaching a program to a tracepoint. */
export interface TracepointOptions {
  engine?: EngineName;
}

/** A program attached to a tracepoint: a Link, with the run counts of its program. */
export interface TracepointLink extends RunCounts, Link {
  readonly tracepoint: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z_][A-Za-z0-9_]*$/;
const INT_SIZE: Readonly<Record<IntFieldType, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  s8: 1,
  s16: 2,
  s32: 4,
  s64: 8,
  bool: 1,
};
const C_TYPE: Readonly<Record<IntFieldType, string>> = {
  u8: '__u8',
  u16: '__u16',
  u32: '__u32',
  u64: '__u64',
  s8: '__s8',
  s16: '__s16',
  s32: '__s32',
  s64: '__s64',
  bool: '__u8',
};
const MAX_RECORD = 2048;

/** Lay out a schema: natural alignment after the common fields; the record is padded to 8 bytes. */
export function layoutSchema(name: string, schema: Schema): { fields: FieldLayout[]; size: number } {
  const fields: FieldLayout[] = [];
  let at = TRACEPOINT_COMMON_SIZE;
  for (const [field, type] of Object.entries(schema)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) {
      throw new TsbpfError(`field name '${field}' is not a C identifier`, `tracepoint ${name}`);
    }
    let size: number;
    let align: number;
    const chars = /^char\[(\d+)\]$/.exec(type);
    if (chars) {
      size = Number(chars[1]);
      align = 1;
      if (size < 1)
        throw new TsbpfError(`field '${field}': char array needs at least 1 byte`, `tracepoint ${name}`);
    } else if (type in INT_SIZE) {
      size = INT_SIZE[type as IntFieldType];
      align = size;
    } else {
      throw new TsbpfError(
        `field '${field}' has unknown type '${type}' (u8..u64, s8..s64, bool or char[N])`,
        `tracepoint ${name}`,
      );
    }
    at = Math.ceil(at / align) * align;
    fields.push({ name: field, type, offset: at, size });
    at += size;
  }
  const size = Math.ceil(at / 8) * 8;
  if (size > MAX_RECORD) {
    throw new TsbpfError(`record of ${size} bytes exceeds ${MAX_RECORD} bytes`, `tracepoint ${name}`);
  }
  return { fields, size };
}

type Writer = (bytes: Uint8Array, view: DataView, value: unknown) => void;

const encoder = new TextEncoder();
const scratch = new Int32Array(2);

function writerFor(f: FieldLayout): Writer {
  const at = f.offset;
  if (f.type.startsWith('char[')) {
    const max = f.size - 1;
    return (bytes, _view, value) => {
      bytes.fill(0, at, at + f.size);
      const src =
        typeof value === 'string' ? encoder.encode(value) : value instanceof Uint8Array ? value : undefined;
      if (src) bytes.set(src.length > max ? src.subarray(0, max) : src, at);
    };
  }
  return (_bytes, view, value) => {
    putValue(scratch, 0, value);
    const lo = scratch[0]!;
    switch (f.size) {
      case 1:
        view.setUint8(at, f.type === 'bool' ? (lo !== 0 || scratch[1] !== 0 ? 1 : 0) : lo & 0xff);
        break;
      case 2:
        view.setUint16(at, lo & 0xffff, true);
        break;
      case 4:
        view.setInt32(at, lo, true);
        break;
      default:
        view.setInt32(at, lo, true);
        view.setInt32(at + 4, scratch[1]!, true);
    }
  };
}

class Attached extends GuardedRun implements TracepointLink {
  readonly ctx: number;

  constructor(
    readonly tp: Tracepoint<Schema>,
    program: BoundProgram,
  ) {
    super(program);
    this.ctx = program.runtime.space.allocate(tp.size, 'ctx', `tracepoint ${tp.name} record`, false).start;
  }

  get tracepoint(): string {
    return this.tp.name;
  }

  run(record: Uint8Array): void {
    this.program.runtime.space.bytes.set(record, this.ctx);
    this.runGuarded(this.ctx);
  }

  detach(): void {
    if (!this.tp.remove(this)) return;
    const space = this.program.runtime.space;
    const region = space.regionAt(this.ctx, 1);
    if (region) space.release(region);
  }

  close(): void {
    this.detach();
  }

  info(): LinkInfo {
    return { kind: 'tracepoint', program: this.program.name, target: this.tp.name, backend: 'userspace' };
  }
}

let nextTracepointId = 1;

/**
 * A static tracepoint in JS code: a named record that programs attach to; firing it with nothing attached
 * costs one check.
 */
export class Tracepoint<S extends Schema> {
  readonly id = nextTracepointId++;
  readonly fields: readonly FieldLayout[];
  /** Record size including the common fields. */
  readonly size: number;
  /** The program type programs are verified against: tracepoint, with this record as the context. */
  readonly programType: ProgramType;
  /** Times fire() ran programs (attached fires only). */
  fired = 0;
  private links: Attached[] = [];
  private readonly record: Uint8Array;
  private readonly view: DataView;
  private readonly writers: Writer[];

  constructor(
    readonly name: string,
    readonly schema: S,
  ) {
    const { fields, size } = layoutSchema(name, schema);
    this.fields = fields;
    this.size = size;
    this.record = new Uint8Array(size);
    this.view = new DataView(this.record.buffer);
    this.writers = fields.map(writerFor);
    const ctx: CtxLayout = {
      struct: name,
      size,
      fields: [
        {
          name: 'args',
          offset: TRACEPOINT_COMMON_SIZE,
          size: size - TRACEPOINT_COMMON_SIZE,
          read: true,
          write: false,
          access: 'any',
        },
      ],
    };
    this.programType = { ...programTypeByName('tracepoint')!, ctx };
  }

  /** Whether a program is attached (guard expensive argument computation with it). */
  get enabled(): boolean {
    return this.links.length > 0;
  }

  /** Fire the tracepoint with the schema's fields in order. Near-free when nothing is attached. */
  fire(...values: FieldValue<S[keyof S]>[]): void {
    if (this.links.length === 0) return;
    this.emit(values);
  }

  private emit(values: readonly unknown[]): void {
    const view = this.view;
    view.setUint16(0, this.id & 0xffff, true);
    for (let i = 0; i < this.writers.length; i++) this.writers[i]!(this.record, view, values[i]);
    this.fired++;
    for (const l of this.links) l.run(this.record);
  }

  /** Attach a program (verified against this tracepoint's record). */
  attach(program: TraceProgramSource, options: TracepointOptions = {}): TracepointLink {
    const bound = bindProgram(program, this.programType, ['tracepoint'], { engine: options.engine });
    const link = new Attached(this as unknown as Tracepoint<Schema>, bound);
    this.links = [...this.links, link];
    return link;
  }

  /** @internal */
  remove(link: TracepointLink): boolean {
    const before = this.links.length;
    this.links = this.links.filter((l) => l !== link);
    return this.links.length !== before;
  }

  /** The C declaration of the context, for programs written in C. */
  cStruct(): string {
    const id = this.name.replace(':', '_');
    const lines = [`struct ${id}_args {`, '\t__u64 __common; /* not readable */'];
    for (const f of this.fields) {
      const chars = /^char\[(\d+)\]$/.exec(f.type);
      lines.push(chars ? `\tchar ${f.name}[${chars[1]}];` : `\t${C_TYPE[f.type as IntFieldType]} ${f.name};`);
    }
    lines.push('};');
    return lines.join('\n');
  }
}

const registry = new Map<string, Tracepoint<Schema>>();

/** Declare (or get, when already declared with the same schema) the tracepoint `provider:name`. */
export function tracepoint<S extends Schema>(name: string, schema: S): Tracepoint<S> {
  if (!NAME.test(name)) throw new TsbpfError(`tracepoint name '${name}' must look like provider:name`);
  const known = registry.get(name);
  if (known) {
    if (JSON.stringify(known.schema) !== JSON.stringify(schema)) {
      throw new TsbpfError(`tracepoint '${name}' is already declared with another schema`);
    }
    return known as unknown as Tracepoint<S>;
  }
  const tp = new Tracepoint(name, schema);
  registry.set(name, tp as unknown as Tracepoint<Schema>);
  return tp;
}

/** Declared tracepoints by name. */
export function tracepoints(): ReadonlyMap<string, Tracepoint<Schema>> {
  return registry;
}

/**
 * Attach a program to a declared tracepoint by name. `db:query` and the C section form `db/query`
 * (`SEC("tracepoint/db/query")`) both work; without a name, the program's section names it.
 */
export function attachTracepoint(
  name: string | undefined,
  program: TraceProgramSource,
  options: TracepointOptions = {},
): TracepointLink {
  const target = name ?? ('spec' in program ? program.spec.attachTo : undefined);
  if (!target) throw new TsbpfError('no tracepoint named (and the program section names none)');
  const key = target.replace('/', ':');
  const tp = registry.get(key);
  if (!tp) {
    const known = [...registry.keys()].join(', ') || 'none declared';
    throw new TsbpfError(`no tracepoint '${key}' (tracepoints: ${known})`);
  }
  return tp.attach(program, options);
}
