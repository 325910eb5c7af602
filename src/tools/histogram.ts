// Histograms as tracing tools keep them: a program counts values into buckets of a map, user space reads
// the map and prints it the way BCC users know (`print_log2_hist`), or as JSON.
//
// log2 buckets: slot 0 holds the value 0, slot i >= 1 holds [2^(i-1), 2^i - 1], so slot(v) is the number of
// bits of v (the kernel-side `bpf_log2l` BCC uses). `emitLog2Slot` computes the same slot inside a program
// built with the TypeScript builder; `examples/trace/tsbpf_probe.h` has it for C.
//
// In maps: an array (or hash) map with u32 keys holds one histogram (key = slot, value = u64 count; per-CPU
// values are summed); a hash map keyed by `struct { u32 group; u32 slot; }` holds one histogram per group.

import type { ProgramBuilder, Register, WritableRegister } from '../asm/index.js';
import { rawKeys } from '../maps/typed.js';
import type { RuntimeMap } from '../maps/types.js';

/** Slots of a log2 histogram: one for 0, and one per bit of a 64-bit value. */
export const LOG2_SLOTS = 65;

/** The log2 slot of a non-negative value (0 → 0, 1 → 1, 2..3 → 2, 4..7 → 3 ...). */
export function log2Slot(value: number | bigint): number {
  if (typeof value === 'bigint') {
    if (value <= 0n) return 0;
    return value.toString(2).length;
  }
  if (!(value >= 1)) return 0;
  if (value < 4294967296) return 32 - Math.clz32(value);
  return Math.min(64, Math.floor(Math.log2(value)) + 1);
}

/** One bucket of a histogram: its value range (inclusive) and count. */
export interface Bucket {
  low: number;
  high: number;
  count: number;
}

/** Bounds of log2 slot i. */
export function log2Bounds(slot: number): { low: number; high: number } {
  if (slot === 0) return { low: 0, high: 0 };
  return { low: 2 ** (slot - 1), high: 2 ** slot - 1 };
}

const STARS = 40;

function stars(count: number, max: number, width: number): string {
  const n = max > 0 ? Math.min(width, Math.floor((width * count) / max)) : 0;
  return '*'.repeat(n).padEnd(width);
}

/** Values of a map as u64 counts (per-CPU values summed), by the u32 little-endian key. */
function countsOf(value: Uint8Array): number {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  let sum = 0;
  for (let at = 0; at + 8 <= value.length; at += 8) sum += Number(dv.getBigUint64(at, true));
  return sum;
}

/** A log2 histogram, kept and printed as the BCC tools do. */
export class Log2Histogram {
  readonly counts: number[] = new Array(LOG2_SLOTS).fill(0);

  add(value: number | bigint, times = 1): this {
    this.counts[log2Slot(value)]! += times;
    return this;
  }

  static fromCounts(counts: ArrayLike<number | bigint>): Log2Histogram {
    const h = new Log2Histogram();
    for (let i = 0; i < Math.min(counts.length, LOG2_SLOTS); i++) h.counts[i] = Number(counts[i]);
    return h;
  }

  /** One histogram from a map with u32 keys (slot) and u64 (or per-CPU u64) counts. */
  static fromMap(map: RuntimeMap): Log2Histogram {
    const h = new Log2Histogram();
    for (const key of rawKeys(map)) {
      const slot = new DataView(key.buffer, key.byteOffset).getUint32(0, true);
      const value = map.lookup(key);
      if (value && slot < LOG2_SLOTS) h.counts[slot]! += countsOf(value);
    }
    return h;
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  /** Buckets from the first to the last non-empty slot (empty ones between included). */
  buckets(): Bucket[] {
    const first = this.counts.findIndex((c) => c > 0);
    if (first < 0) return [];
    let last = LOG2_SLOTS - 1;
    while (this.counts[last] === 0) last--;
    const out: Bucket[] = [];
    for (let i = first; i <= last; i++) out.push({ ...log2Bounds(i), count: this.counts[i]! });
    return out;
  }

  /**
   * The BCC layout: a header naming the unit, then `low -> high : count |stars|` rows from slot 1 (slot 0
   * too when it has values) to the last non-empty slot; wider columns when values exceed 32 bits.
   */
  format(unit = 'value'): string {
    const rows = this.buckets();
    if (rows.length === 0) return '';
    const first = this.counts[0]! > 0 ? 0 : 1;
    const last = log2Slot(rows[rows.length - 1]!.high);
    const max = Math.max(...this.counts);
    const wide = last > 32;
    const [w, width] = wide ? [20, STARS / 2] : [10, STARS];
    const lines = [
      wide
        ? `${' '.repeat(15)}${unit.padEnd(29)} : count     distribution`
        : `     ${unit.padEnd(19)} : count     distribution`,
    ];
    for (let i = first; i <= last; i++) {
      const { low, high } = log2Bounds(i);
      const c = this.counts[i]!;
      lines.push(
        `${String(low).padStart(w)} -> ${String(high).padEnd(w)} : ${String(c).padEnd(8)} |${stars(c, max, width)}|`,
      );
    }
    return `${lines.join('\n')}\n`;
  }

  toJSON(): { total: number; buckets: Bucket[] } {
    return { total: this.total, buckets: this.buckets() };
  }
}

/** Histograms by group from a hash map keyed `{ u32 group; u32 slot; }` with u64 counts. */
export function log2HistogramsByGroup(map: RuntimeMap): Map<number, Log2Histogram> {
  const out = new Map<number, Log2Histogram>();
  for (const key of rawKeys(map)) {
    const dv = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const group = dv.getUint32(0, true);
    const slot = dv.getUint32(4, true);
    const value = map.lookup(key);
    if (!value || slot >= LOG2_SLOTS) continue;
    let h = out.get(group);
    if (!h) {
      h = new Log2Histogram();
      out.set(group, h);
    }
    h.counts[slot]! += countsOf(value);
  }
  return out;
}

/** Equal-width buckets: [min + i*step, min + (i+1)*step - 1]; values outside go to the first/last bucket. */
export class LinearHistogram {
  readonly counts: number[];

  constructor(
    readonly min: number,
    readonly step: number,
    readonly slots: number,
  ) {
    if (!(step > 0) || !(slots > 0)) throw new RangeError('linear histogram needs step > 0 and slots > 0');
    this.counts = new Array(slots).fill(0);
  }

  slot(value: number): number {
    const i = Math.floor((value - this.min) / this.step);
    return i < 0 ? 0 : i >= this.slots ? this.slots - 1 : i;
  }

  add(value: number | bigint, times = 1): this {
    this.counts[this.slot(Number(value))]! += times;
    return this;
  }

  /** Counts from a map with u32 keys (slot) and u64 counts. */
  fill(map: RuntimeMap): this {
    for (const key of rawKeys(map)) {
      const slot = new DataView(key.buffer, key.byteOffset).getUint32(0, true);
      const value = map.lookup(key);
      if (value && slot < this.slots) this.counts[slot]! += countsOf(value);
    }
    return this;
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  buckets(): Bucket[] {
    return this.counts.map((count, i) => ({
      low: this.min + i * this.step,
      high: this.min + (i + 1) * this.step - 1,
      count,
    }));
  }

  /** BCC's print_linear_hist layout: `value : count |stars|`, first to last non-empty bucket. */
  format(unit = 'value'): string {
    const first = this.counts.findIndex((c) => c > 0);
    if (first < 0) return '';
    let last = this.slots - 1;
    while (this.counts[last] === 0) last--;
    const max = Math.max(...this.counts);
    const lines = [`     ${unit.padEnd(13)} : count     distribution`];
    for (let i = first; i <= last; i++) {
      const c = this.counts[i]!;
      lines.push(
        `${String(this.min + i * this.step).padStart(10)}        : ${String(c).padEnd(8)} |${stars(c, max, STARS)}|`,
      );
    }
    return `${lines.join('\n')}\n`;
  }

  toJSON(): { total: number; buckets: Bucket[] } {
    return { total: this.total, buckets: this.buckets() };
  }
}

/**
 * Emit instructions computing `dst = log2Slot(src)` (src is clobbered, `tmp` is scratch): a binary search
 * over 32/16/8/4/2/1-bit shifts, then +1 for a non-zero remainder. `label` makes the jump labels unique.
 */
export function emitLog2Slot(
  b: ProgramBuilder,
  dst: WritableRegister,
  src: WritableRegister,
  tmp: WritableRegister,
  label = 'log2',
): ProgramBuilder {
  b.mov64(dst, 0);
  for (const bits of [32, 16, 8, 4, 2, 1]) {
    const next = `${label}_${bits}`;
    b.mov64(tmp, src).rsh64(tmp, bits).jeq(tmp, 0, next).mov64(src, tmp).add64(dst, bits).label(next);
  }
  const done = `${label}_done`;
  return b
    .jeq(src as Register, 0, done)
    .add64(dst, 1)
    .label(done);
}
