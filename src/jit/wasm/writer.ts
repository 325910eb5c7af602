// A growable byte buffer with the integer encodings of the WebAssembly binary format (LEB128).

export class ByteWriter {
  private buf: Uint8Array<ArrayBuffer>;
  length = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    this.reserve(1);
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
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`uleb128 of ${v}`);
    this.reserve(8);
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.buf[this.length++] = b;
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 of a safe integer (|v| < 2^53): i32 immediates and small i64 ones. */
  sleb(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`sleb128 of ${v}`);
    this.reserve(8);
    for (;;) {
      const b = ((v % 128) + 128) % 128; // low 7 bits of the two's complement
      v = (v - b) / 128; // exact arithmetic shift
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.buf[this.length++] = done ? b : b | 0x80;
      if (done) return this;
    }
  }

  /** Signed LEB128 of a 64-bit value given as a bigint (any value in -2^63 .. 2^64 - 1, taken mod 2^64). */
  sleb64(v: bigint): this {
    let x = BigInt.asIntN(64, v);
    if (x >= -(2n ** 52n) && x < 2n ** 52n) return this.sleb(Number(x));
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
    const data = new TextEncoder().encode(s);
    return this.u32(data.length).bytes(data);
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
