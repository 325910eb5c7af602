// A small WebAssembly module builder: types (deduplicated), imports (functions, memory, globals), functions
// with their locals and code, globals, exports. `Code` writes instruction bodies.

import { BLOCK_VOID, ExternKind, FC, FUNCREF, Op, PREFIX_FC, Section, ValType } from './opcodes.js';
import { ByteWriter } from './writer.js';

export interface FuncType {
  params: readonly ValType[];
  results: readonly ValType[];
}

/** A block's type: void, one result type, or a function type index (multi-value). */
export type BlockType = typeof BLOCK_VOID | ValType | { typeIndex: number };

/** One function body under construction. */
export class Code extends ByteWriter {
  /** Open block, loop and if frames (what a `br` out of the innermost ones counts). */
  depth = 0;

  op(o: number): this {
    return this.byte(o);
  }

  i32Const(v: number): this {
    return this.opSleb(Op.i32_const, v | 0);
  }

  /** i64.const of a safe integer or a bigint (taken mod 2^64). */
  i64Const(v: number | bigint): this {
    if (typeof v === 'bigint') return this.byte(Op.i64_const).sleb64(v);
    return this.opSleb(Op.i64_const, v);
  }

  localGet(i: number): this {
    return this.opU32(Op.local_get, i);
  }

  localSet(i: number): this {
    return this.opU32(Op.local_set, i);
  }

  localTee(i: number): this {
    return this.opU32(Op.local_tee, i);
  }

  globalGet(i: number): this {
    return this.opU32(Op.global_get, i);
  }

  globalSet(i: number): this {
    return this.opU32(Op.global_set, i);
  }

  call(funcIndex: number): this {
    return this.opU32(Op.call, funcIndex);
  }

  /** A load or store with its memarg (log2 alignment hint and a constant offset). */
  mem(o: number, alignLog2: number, offset = 0): this {
    const at = this.length;
    if ((offset & 0x7f) !== offset || at + 3 > this.buf.length)
      return this.byte(o).u32(alignLog2).u32(offset);
    this.buf[at] = o;
    this.buf[at + 1] = alignLog2;
    this.buf[at + 2] = offset;
    this.length = at + 3;
    return this;
  }

  private blockType(t: BlockType): this {
    return typeof t === 'number' ? this.byte(t) : this.sleb(t.typeIndex);
  }

  block(t: BlockType = BLOCK_VOID): this {
    this.depth++;
    return typeof t === 'number' ? this.opU32(Op.block, t) : this.byte(Op.block).blockType(t);
  }

  loop(t: BlockType = BLOCK_VOID): this {
    this.depth++;
    return this.byte(Op.loop).blockType(t);
  }

  if(t: BlockType = BLOCK_VOID): this {
    this.depth++;
    return this.byte(Op.if).blockType(t);
  }

  else(): this {
    return this.byte(Op.else);
  }

  end(): this {
    this.depth--;
    return this.byte(Op.end);
  }

  br(depth: number): this {
    return this.opU32(Op.br, depth);
  }

  brIf(depth: number): this {
    return this.opU32(Op.br_if, depth);
  }

  brTable(depths: readonly number[], fallback: number): this {
    this.byte(Op.br_table).u32(depths.length);
    for (const d of depths) this.u32(d);
    return this.u32(fallback);
  }

  /** Call through table 0 the function of type `typeIndex` whose table index is on top of the stack. */
  callIndirect(typeIndex: number): this {
    return this.byte(Op.call_indirect).u32(typeIndex).byte(0);
  }

  /** The 0xfc-prefixed saturating truncation. */
  truncSatF64U(): this {
    return this.byte(PREFIX_FC).u32(FC.i64_trunc_sat_f64_u);
  }

  /** The 0xfc-prefixed saturating truncation to a signed i64. */
  truncSatF64S(): this {
    return this.byte(PREFIX_FC).u32(FC.i64_trunc_sat_f64_s);
  }

  /** memory.copy within memory 0: (dst, src, n) on the stack. */
  memoryCopy(): this {
    return this.byte(PREFIX_FC).u32(FC.memory_copy).byte(0).byte(0);
  }

  /** memory.fill of memory 0: (dst, byte, n) on the stack. */
  memoryFill(): this {
    return this.byte(PREFIX_FC).u32(FC.memory_fill).byte(0);
  }
}

/**
 * Limits of the WebAssembly JS API that engines enforce at compile time (V8, SpiderMonkey and JavaScriptCore
 * share them): bytes of one function body, targets of one br_table.
 */
export const MAX_FUNCTION_BODY_BYTES = 7_654_321;
export const MAX_BR_TABLE_TARGETS = 65_520;

interface Import {
  module: string;
  name: string;
  kind: ExternKind;
  /** func: type index; memory and table (of funcref): limits; global: type and mutability. */
  type?: number;
  limits?: { min: number; max?: number };
  global?: { type: ValType; mutable: boolean };
}

interface Func {
  type: number;
  /** Locals beyond the parameters, as [count, type] runs. */
  locals: [number, ValType][];
  body: Code;
}

interface Global {
  type: ValType;
  mutable: boolean;
  init: number | bigint;
}

export class ModuleBuilder {
  private readonly types: FuncType[] = [];
  private readonly imports: Import[] = [];
  private readonly funcs: Func[] = [];
  private readonly globals: Global[] = [];
  private readonly exports: { name: string; kind: ExternKind; index: number }[] = [];
  private importedFuncs = 0;
  private importedGlobals = 0;
  private frozenImports = false;

  /** Index of a function type, adding it once (a module has a handful: a scan beats building string keys). */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const types = this.types;
    for (let i = 0; i < types.length; i++) {
      const t = types[i]!;
      if (sameTypes(t.params, params) && sameTypes(t.results, results)) return i;
    }
    types.push({ params, results });
    return types.length - 1;
  }

  private checkImportOrder(): void {
    // Imported functions and globals take the lowest indices, so they must all come first.
    if (this.frozenImports)
      throw new Error('wasm builder: imports must be added before functions and globals');
  }

  importFunc(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    this.checkImportOrder();
    this.imports.push({ module, name, kind: ExternKind.func, type: this.type(params, results) });
    return this.importedFuncs++;
  }

  importMemory(module: string, name: string, min: number, max?: number): void {
    this.imports.push({
      module,
      name,
      kind: ExternKind.memory,
      limits: max === undefined ? { min } : { min, max },
    });
  }

  /** Import a table of funcref (the module's table 0). */
  importTable(module: string, name: string, min: number): void {
    this.imports.push({ module, name, kind: ExternKind.table, limits: { min } });
  }

  importGlobal(module: string, name: string, type: ValType, mutable: boolean): number {
    this.checkImportOrder();
    this.imports.push({ module, name, kind: ExternKind.global, global: { type, mutable } });
    return this.importedGlobals++;
  }

  /** Declare a function; returns its index and the `Code` to fill (without the final `end`, added on build). */
  func(
    params: readonly ValType[],
    results: readonly ValType[],
    locals: [number, ValType][] = [],
  ): {
    index: number;
    code: Code;
  } {
    this.frozenImports = true;
    const f: Func = { type: this.type(params, results), locals, body: new Code() };
    this.funcs.push(f);
    return { index: this.importedFuncs + this.funcs.length - 1, code: f.body };
  }

  /** Replace the locals of a declared function (known only after its body is generated). */
  setLocals(funcIndex: number, locals: [number, ValType][]): void {
    this.funcs[funcIndex - this.importedFuncs]!.locals = locals;
  }

  global(type: ValType, mutable: boolean, init: number | bigint): number {
    this.frozenImports = true;
    this.globals.push({ type, mutable, init });
    return this.importedGlobals + this.globals.length - 1;
  }

  export(name: string, kind: ExternKind, index: number): void {
    this.exports.push({ name, kind, index });
  }

  toBytes(): Uint8Array<ArrayBuffer> {
    let codeSize = 0;
    for (const f of this.funcs) codeSize += f.body.length + 16;
    const out = new ByteWriter(codeSize + 1024);
    out.bytes(MAGIC_VERSION);
    // Sections are written into one reused scratch writer, then copied out behind their size.
    const w = new ByteWriter(1024);
    const section = (id: number) => {
      out.byte(id).sized(w);
      w.length = 0;
    };
    w.u32(this.types.length);
    for (const t of this.types) {
      w.byte(0x60).u32(t.params.length).bytes(t.params).u32(t.results.length).bytes(t.results);
    }
    section(Section.type);
    if (this.imports.length) {
      w.u32(this.imports.length);
      for (const im of this.imports) {
        w.name(im.module).name(im.name).byte(im.kind);
        if (im.kind === ExternKind.func) w.u32(im.type!);
        else if (im.kind === ExternKind.memory || im.kind === ExternKind.table) {
          if (im.kind === ExternKind.table) w.byte(FUNCREF);
          const l = im.limits!;
          if (l.max === undefined) w.byte(0).u32(l.min);
          else w.byte(1).u32(l.min).u32(l.max);
        } else w.byte(im.global!.type).byte(im.global!.mutable ? 1 : 0);
      }
      section(Section.import);
    }
    w.u32(this.funcs.length);
    for (const f of this.funcs) w.u32(f.type);
    section(Section.function);
    if (this.globals.length) {
      w.u32(this.globals.length);
      for (const g of this.globals) {
        w.byte(g.type).byte(g.mutable ? 1 : 0);
        if (g.type === ValType.i64) {
          // Safe integers take the number path: no BigInt arithmetic on a process's first compile.
          if (typeof g.init === 'number') w.byte(Op.i64_const).sleb(g.init);
          else w.byte(Op.i64_const).sleb64(g.init);
        } else w.byte(Op.i32_const).sleb(Number(g.init) | 0);
        w.byte(Op.end);
      }
      section(Section.global);
    }
    if (this.exports.length) {
      w.u32(this.exports.length);
      for (const e of this.exports) w.name(e.name).byte(e.kind).u32(e.index);
      section(Section.export);
    }
    // Code: the section size first, then each body (locals, code, end) behind its own size.
    const locals = new ByteWriter(64);
    const bodySizes: number[] = [];
    let size = uleb128Size(this.funcs.length);
    for (const f of this.funcs) {
      locals.length = 0;
      locals.u32(f.locals.length);
      for (const [n, t] of f.locals) locals.u32(n).byte(t);
      const body = locals.length + f.body.length + 1;
      bodySizes.push(body, locals.length);
      size += uleb128Size(body) + body;
    }
    out.byte(Section.code).u32(size).u32(this.funcs.length);
    this.funcs.forEach((f, i) => {
      out.u32(bodySizes[2 * i]!).u32(f.locals.length);
      for (const [n, t] of f.locals) out.u32(n).byte(t);
      out.bytes(f.body.view()).byte(Op.end);
    });
    return out.toBytes();
  }
}

function sameTypes(a: readonly ValType[], b: readonly ValType[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const MAGIC_VERSION = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** Bytes of the unsigned LEB128 encoding of v. */
function uleb128Size(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
