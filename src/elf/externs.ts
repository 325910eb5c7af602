// Extern variables an object leaves for its loader, as libbpf fills them: `__kconfig` ones
// (LINUX_KERNEL_VERSION and CONFIG_* options) become a read-only `.kconfig` map laid out as libbpf lays it
// out (by alignment, then size, then name), untyped `__ksym` ones become the symbol's address, typed ones
// (per-CPU kernel structs) a `lddw` of their BTF id resolved where the program is loaded, and `__ksym`
// functions are kfuncs (their calls become kfunc calls, resolved where the program is loaded). The
// values come from the caller (`ExternValues`): the core reads no file; src/node/externs.ts gives the running
// kernel's. A `__weak` extern that has no value is 0; any other is an error that names it.

import type { Btf } from '../btf/parse.js';
import { IntEncoding, Kind } from '../btf/types.js';
import { MapFlag, type MapSpec, MapType } from '../spec/maps.js';
import type { KfuncRef, KsymRef } from '../spec/object.js';
import type { MapDef } from './maps.js';
import { type ElfFile, elfError } from './parse.js';

/** Where extern values come from (each looked up only when the object has such an extern). */
export interface ExternValues {
  /**
   * A CONFIG_* option's value as a kernel config file writes it (`y`, `m`, `n`, `250`, `0x10`, `"str"`), or
   * one libbpf computes (LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER: `1` or `0`).
   */
  kconfig?: (name: string) => string | undefined;
  /** LINUX_KERNEL_VERSION: KERNEL_VERSION(major, minor, patch) of the kernel. */
  kernelVersion?: () => number | undefined;
  /** A kernel symbol's address (`/proc/kallsyms`), for `__ksym` externs. */
  ksym?: (name: string) => bigint | undefined;
}

/** What an extern reference becomes: a slot of the `.kconfig` map, or an address. */
export type ExternTarget =
  | { kind: 'kconfig'; offset: number }
  | { kind: 'ksym'; address: bigint }
  // A typed ksym: the program's `lddw` names it (src BTF_ID), resolved where the program is loaded.
  | { kind: 'btf_var'; ksym: KsymRef };

const STB_WEAK = 2;

let defaults: ExternValues = {};

/**
 * The values readObject uses when it is given none: under Node, the running kernel's (src/node/externs.ts
 * registers them when imported); elsewhere none, so that only `__weak` externs load.
 */
export function setDefaultExternValues(values: ExternValues): void {
  defaults = values;
}

/** The values registered with setDefaultExternValues. */
export function defaultExternValues(): ExternValues {
  return defaults;
}

/** How libbpf stores a kconfig value of each C type. */
type Shape = 'bool' | 'tristate' | 'char' | 'int' | 'string';

interface KconfigVar {
  name: string;
  size: number;
  align: number;
  shape: Shape;
  signed: boolean;
  weak: boolean;
}

/** The `.kconfig` map of an object, and where each variable is in it. */
export interface Kconfig {
  def: MapDef;
  offsets: ReadonlyMap<string, number>;
}

/** The externs of an object (from its BTF `.kconfig` and `.ksyms` sections), resolved against `values`. */
export class Externs {
  private kconfigMap: Kconfig | undefined;
  private readonly ksyms = new Map<string, { weak: boolean }>();
  private readonly kfuncs = new Map<string, { weak: boolean }>();
  private readonly typed = new Map<string, KsymRef>();

  constructor(
    private readonly elf: ElfFile,
    btf: Btf | undefined,
    private readonly values: ExternValues,
  ) {
    if (!btf) return;
    const weak = new Set(this.elf.symbols.filter((s) => s.bind === STB_WEAK).map((s) => s.name));
    const kconfig = btf.byName('.kconfig', Kind.DATASEC);
    if (kconfig && kconfig.vars.length > 0) {
      const vars = kconfig.vars.map((v) => this.kconfigVar(btf, v.type, weak));
      this.kconfigMap = this.layout(vars);
      // The DATASEC takes the layout (as libbpf's), so the kernel back end creates the map typed by it.
      const spec = this.kconfigMap.def.spec;
      kconfig.size = spec.valueSize;
      for (const v of kconfig.vars) v.offset = this.kconfigMap.offsets.get(btf.type(v.type).name) ?? 0;
      spec.btfKeyTypeId = 0;
      spec.btfValueTypeId = kconfig.id;
    }
    const ksyms = btf.byName('.ksyms', Kind.DATASEC);
    for (const v of ksyms?.vars ?? []) {
      const t = btf.type(v.type);
      if (t.kind === Kind.FUNC) {
        // A kfunc, called rather than loaded (link.ts makes its calls kfunc calls).
        this.kfuncs.set(t.name, { weak: weak.has(t.name) });
        continue;
      }
      if (t.kind !== Kind.VAR) continue;
      const type = btf.resolve(t.type);
      if (type.kind !== Kind.VOID) {
        // A typed ksym: its kernel type's BTF id where it is loaded (BPF_PSEUDO_BTF_ID); per-CPU structs.
        if (type.kind !== Kind.STRUCT && type.kind !== Kind.UNION)
          throw elfError(
            elf.file,
            `extern ${t.name} (__ksym) has type ${btf.typeName(t.type)}: tsbpf reads typed ksyms of struct types only; declare it 'extern const void ${t.name} __ksym' for its address`,
            '.ksyms',
          );
        const ref: KsymRef = { name: t.name, type: type.name };
        if (weak.has(t.name)) ref.weak = true;
        if (values.ksym?.(t.name) === undefined) ref.noAddress = true;
        this.typed.set(t.name, ref);
        continue;
      }
      this.ksyms.set(t.name, { weak: weak.has(t.name) });
    }
  }

  /** The `.kconfig` map, when the object has `__kconfig` externs. */
  get kconfig(): Kconfig | undefined {
    return this.kconfigMap;
  }

  /** The kfunc an extern function `name` is (a `.ksyms` FUNC), or undefined when it is none. */
  kfunc(name: string): KfuncRef | undefined {
    const k = this.kfuncs.get(name);
    return k && (k.weak ? { name, weak: true } : { name });
  }

  /** What a reference to extern `name` becomes; undefined when the object declares no such extern. */
  resolve(name: string): ExternTarget | undefined {
    const offset = this.kconfigMap?.offsets.get(name);
    if (offset !== undefined) return { kind: 'kconfig', offset };
    const typed = this.typed.get(name);
    if (typed) return { kind: 'btf_var', ksym: typed };
    const ksym = this.ksyms.get(name);
    if (!ksym) return undefined;
    const address = this.values.ksym?.(name);
    if (address !== undefined) return { kind: 'ksym', address };
    if (ksym.weak) return { kind: 'ksym', address: 0n };
    throw elfError(
      this.elf.file,
      `extern ${name} (__ksym): no such kernel symbol${this.values.ksym ? '' : ' (no symbol table was given)'}; declare it __weak to take 0`,
      '.ksyms',
    );
  }

  private kconfigVar(btf: Btf, varId: number, weak: ReadonlySet<string>): KconfigVar {
    const v = btf.type(varId);
    if (v.kind !== Kind.VAR) throw elfError(this.elf.file, `DATASEC entry ${varId} is not a VAR`, '.kconfig');
    const t = btf.resolve(v.type);
    const base = { name: v.name, weak: weak.has(v.name), signed: false };
    if (t.kind === Kind.INT) {
      if (t.encoding & IntEncoding.BOOL) return { ...base, size: t.size, align: t.size, shape: 'bool' };
      if (t.size === 1 && t.encoding & IntEncoding.CHAR) return { ...base, size: 1, align: 1, shape: 'char' };
      const signed = (t.encoding & IntEncoding.SIGNED) !== 0;
      return { ...base, signed, size: t.size, align: Math.min(t.size, 8), shape: 'int' };
    }
    if (t.kind === Kind.ENUM || t.kind === Kind.ENUM64) {
      const shape = t.name === 'libbpf_tristate' ? 'tristate' : 'int';
      return { ...base, signed: t.signed, size: t.size, align: t.size, shape };
    }
    if (t.kind === Kind.ARRAY) {
      const e = btf.resolve(t.type);
      if (e.kind === Kind.INT && e.size === 1 && t.nelems > 0)
        return { ...base, size: t.nelems, align: 1, shape: 'string' };
    }
    throw elfError(
      this.elf.file,
      `extern ${v.name} (__kconfig) has a type libbpf cannot fill (bool, tristate, char, an integer or a char array)`,
      '.kconfig',
    );
  }

  /** libbpf's layout: by alignment (largest first), then size (smallest first), then name. */
  private layout(vars: KconfigVar[]): Kconfig {
    const sorted = [...vars].sort(
      (a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    const offsets = new Map<string, number>();
    let end = 0;
    for (const v of sorted) {
      end = Math.ceil(end / v.align) * v.align;
      offsets.set(v.name, end);
      end += v.size;
    }
    const value = new Uint8Array(end);
    for (const v of sorted) value.set(this.encode(v), offsets.get(v.name)!);
    const spec: MapSpec = {
      name: '.kconfig',
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: end,
      maxEntries: 1,
      flags: MapFlag.RDONLY_PROG,
      readonly: true,
      contents: [{ key: new Uint8Array(4), value }],
    };
    // No section of its own: references come through the extern symbols (Externs.resolve).
    return { def: { spec, section: -1, offset: 0, isData: true }, offsets };
  }

  /** The bytes of one variable. */
  private encode(v: KconfigVar): Uint8Array {
    const out = new Uint8Array(v.size);
    const fail = (why: string) => elfError(this.elf.file, `extern ${v.name} (__kconfig): ${why}`, '.kconfig');
    let text: string | undefined;
    if (v.name === 'LINUX_KERNEL_VERSION') {
      const n = this.values.kernelVersion?.();
      text = n === undefined ? undefined : String(n);
    } else text = this.values.kconfig?.(v.name);
    if (text === undefined) {
      if (v.weak) return out;
      const from = v.name.startsWith('CONFIG_') ? 'not in the kernel config' : 'no value';
      throw fail(
        `${from}${this.values.kconfig ? '' : ' (no kernel config was given)'}; declare it __weak to take 0`,
      );
    }
    const tri = { y: 1, n: 0, m: 2 }[text];
    switch (v.shape) {
      case 'bool':
        // y/n from a config file; 1/0 for the values libbpf computes (LINUX_HAS_*).
        if (!['y', 'n', '1', '0'].includes(text)) throw fail(`value '${text}' is not a bool (y or n)`);
        out[0] = text === 'y' || text === '1' ? 1 : 0;
        return out;
      case 'tristate':
        if (tri === undefined) throw fail(`value '${text}' is not a tristate (y, n or m)`);
        writeInt(out, BigInt(tri));
        return out;
      case 'char':
        if (tri === undefined) throw fail(`value '${text}' is not y, n or m`);
        out[0] = text.charCodeAt(0);
        return out;
      case 'string': {
        if (!/^".*"$/s.test(text)) throw fail(`value ${text} is not a string`);
        const bytes = new TextEncoder().encode(text.slice(1, -1).replace(/\\(.)/g, '$1'));
        // libbpf truncates a longer value, keeping the terminating NUL.
        out.set(bytes.subarray(0, v.size - 1));
        return out;
      }
      case 'int': {
        if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(text)) throw fail(`value '${text}' is not an integer`);
        const n = text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text);
        const bits = BigInt(v.size * 8);
        const fits = v.signed
          ? n >= -(1n << (bits - 1n)) && n < 1n << (bits - 1n)
          : n >= 0n && n < 1n << bits;
        if (!fits) throw fail(`value ${text} does not fit in ${v.size} byte(s)`);
        writeInt(out, n);
        return out;
      }
    }
  }
}

/** `n` little-endian in all of `out`. */
function writeInt(out: Uint8Array, n: bigint): void {
  let x = BigInt.asUintN(out.length * 8, n);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
}
