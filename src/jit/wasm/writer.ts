// A growable byte buffer with the integer encodings of the WebAssembly binary format (LEB128).

// The hot paths (one opcode with a small immediate) test capacity once and store bytes directly: code
// generation writes several of these per eBPF instruction, mostly before V8 has optimised anything.
const TWO_52 = 2n ** 52n;

export class ByteWriter {
  /** The buffer; bytes [0, length) are written. Fast paths write into it after `room`. */
  buf: Uint8Array<ArrayBuffer>;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  /** Make room for `n` more bytes. */
  protected reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** The buffer, with room for `n` more bytes at `length` (callers write there and advance `length`). */
  room(n: number): Uint8Array<ArrayBuffer> {
    if (this.length + n > this.buf.length) this.reserve(n);
    return this.buf;
  }

  byte(b: number): this {
    if (this.length >= this.buf.length) this.reserve(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(data: Uint8Array | readonly number[]): this {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
    return this;
  }

  /** Unsigned LEB128 of a non-negative integer below 2^53. */
  u32(v: number): this {
    if ((v & 0x7f) === v) return this.byte(v); // 0..127, and not a fraction
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`uleb128 of ${v}`);
    this.reserve(8);
    const buf = this.buf;
    let at = this.length;
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      buf[at++] = b;
    } while (v !== 0);
    this.length = at;
    return this;
  }

  /** Signed LEB128 of a safe integer (|v| < 2^53): i32 immediates and small i64 ones. */
  sleb(v: number): this {
    if (v >= -64 && v < 64 && (v | 0) === v) return this.byte(v & 0x7f);
    if (!Number.isSafeInteger(v)) throw new RangeError(`sleb128 of ${v}`);
    this.reserve(8);
    const buf = this.buf;
    let at = this.length;
    if ((v | 0) === v) {
      // 32-bit: shifts instead of division.
      for (;;) {
        const b = v & 0x7f;
        v >>= 7;
        if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
          buf[at++] = b;
          break;
        }
        buf[at++] = b | 0x80;
      }
    } else {
      for (;;) {
        const b = ((v % 128) + 128) % 128; // low 7 bits of the two's complement
        v = (v - b) / 128; // exact arithmetic shift
        if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
          buf[at++] = b;
          break;
        }
        buf[at++] = b | 0x80;
      }
    }
    this.length = at;
    return this;
  }

  /** An opcode and a u32 immediate below 128 in one step (the common case), else the general encoding. */
  protected opU32(op: number, v: number): this {
    const at = this.length;
    if ((v & 0x7f) !== v || at + 2 > this.buf.length) return this.byte(op).u32(v);
    this.buf[at] = op;
    this.buf[at + 1] = v;
    this.length = at + 2;
    return this;
  }

  /** An opcode and a signed LEB128 immediate in one step when it fits one byte, else the general encoding. */
  protected opSleb(op: number, v: number): this {
    const at = this.length;
    if (v < -64 || v >= 64 || (v | 0) !== v || at + 2 > this.buf.length) return this.byte(op).sleb(v);
    this.buf[at] = op;
    this.buf[at + 1] = v & 0x7f;
    this.length = at + 2;
    return this;
  }
  /** Signed LEB128 of a 64-bit value given as a bigint (any value in -2^63 .. 2^64 - 1, taken mod 2^64). */
  sleb64(v: bigint): this {
    let x = BigInt.asIntN(64, v);
    if (x >= -TWO_52 && x < TWO_52) return this.sleb(Number(x));
    this.reserve(10);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0);
      this.buf[this.length++] = done ? b : b | 0x80;
      if (done) return this;
    }
  }

  /** A UTF-8 name preceded by its length. */
  name(s: string): this {
    // Our names are ASCII: written directly (a TextEncoder per name costs more than the module).
    let ascii = s.length < 128;
    for (let i = 0; i < s.length && ascii; i++) ascii = s.charCodeAt(i) < 0x80;
    if (!ascii) {
      const data = new TextEncoder().encode(s);
      return this.u32(data.length).bytes(data);
    }
    this.reserve(s.length + 1);
    this.buf[this.length++] = s.length;
    for (let i = 0; i < s.length; i++) this.buf[this.length++] = s.charCodeAt(i);
    return this;
  }

  /** Another writer's contents preceded by their length (sections, function bodies). */
  sized(w: ByteWriter): this {
    return this.u32(w.length).bytes(w.view());
  }

  /** The written bytes (a view; copy before further writes if kept). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  toBytes(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.length);
  }
}

// Encoders into a buffer at a position, returning the position after: for the code generator's fast path,
// which writes a whole instruction with one capacity check. The caller guarantees the room.

/** Unsigned LEB128 of v (0 <= v < 2^32). */
export function putUleb(buf: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

/** Signed LEB128 of an int32 (5 bytes at most). */
export function putSleb32(buf: Uint8Array, at: number, v: number): number {
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      buf[at++] = b;
      return at;
    }
    buf[at++] = b | 0x80;
  }
}

/** Signed LEB128 of the 64-bit value whose halves are the int32s `lo` and `hi` (10 bytes at most, no BigInt). */
export function putSleb64(buf: Uint8Array, at: number, lo: number, hi: number): number {
  for (;;) {
    const b = lo & 0x7f;
    // Arithmetic shift right by 7 of the pair.
    lo = (lo >>> 7) | (hi << 25);
    hi >>= 7;
    if ((hi === 0 && lo === 0 && (b & 0x40) === 0) || (hi === -1 && lo === -1 && (b & 0x40) !== 0)) {
      buf[at++] = b;
      return at;
    }
    buf[at++] = b | 0x80;
  }
}
