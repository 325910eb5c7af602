// Bob Jenkins' lookup3 hash as the kernel's jhash (bytes) and jhash2 (32-bit words): stack trace ids and
// bloom filter bits must be the kernel's for the same input, so both are written out here.

const rol32 = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** lookup3's mix of three 32-bit lanes. */
function mix(a: number, b: number, c: number): [number, number, number] {
  a = ((a - c) ^ rol32(c, 4)) >>> 0;
  c = (c + b) >>> 0;
  b = ((b - a) ^ rol32(a, 6)) >>> 0;
  a = (a + c) >>> 0;
  c = ((c - b) ^ rol32(b, 8)) >>> 0;
  b = (b + a) >>> 0;
  a = ((a - c) ^ rol32(c, 16)) >>> 0;
  c = (c + b) >>> 0;
  b = ((b - a) ^ rol32(a, 19)) >>> 0;
  a = (a + c) >>> 0;
  c = ((c - b) ^ rol32(b, 4)) >>> 0;
  b = (b + a) >>> 0;
  return [a, b, c];
}

/** lookup3's final mix; the result is c. */
function final(a: number, b: number, c: number): number {
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  a = ((a ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ a) - rol32(a, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  a = ((a ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ a) - rol32(a, 14)) >>> 0;
  return ((c ^ b) - rol32(b, 24)) >>> 0;
}

/** The kernel's jhash2 over 32-bit words (initial value 0xdeadbeef plus the length in bytes plus `initval`). */
export function jhash2(words: Uint32Array, initval: number): number {
  let a = (0xdeadbeef + (words.length << 2) + initval) >>> 0;
  let b = a;
  let c = a;
  let i = 0;
  let n = words.length;
  while (n > 3) {
    [a, b, c] = mix((a + words[i]!) >>> 0, (b + words[i + 1]!) >>> 0, (c + words[i + 2]!) >>> 0);
    n -= 3;
    i += 3;
  }
  if (n === 0) return c;
  if (n === 3) c = (c + words[i + 2]!) >>> 0;
  if (n >= 2) b = (b + words[i + 1]!) >>> 0;
  a = (a + words[i]!) >>> 0;
  return final(a, b, c);
}

/** The kernel's jhash over `len` bytes at `bytes[at..]` (initial value 0xdeadbeef plus the length plus `initval`). */
export function jhash(bytes: Uint8Array, at: number, len: number, initval: number): number {
  let a = (0xdeadbeef + len + initval) >>> 0;
  let b = a;
  let c = a;
  const w = (i: number) =>
    (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
  let k = at;
  let n = len;
  while (n > 12) {
    [a, b, c] = mix((a + w(k)) >>> 0, (b + w(k + 4)) >>> 0, (c + w(k + 8)) >>> 0);
    n -= 12;
    k += 12;
  }
  if (n === 0) return c;
  // The last 1..12 bytes, little-endian into a, b, c.
  const lane = [0, 0, 0];
  for (let i = 0; i < n; i++) lane[i >> 2] = (lane[i >> 2]! + (bytes[k + i]! << (8 * (i & 3)))) >>> 0;
  return final((a + lane[0]!) >>> 0, (b + lane[1]!) >>> 0, (c + lane[2]!) >>> 0);
}
