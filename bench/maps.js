// LPM_TRIE lookups as compiled programs make them: `lookupPtr(keyAddr, cpu)` on keys already in linear
// memory. IPv4 (8-byte keys) and IPv6 (20-byte keys) tries of 2, 100 and 10,000 prefixes; hits (the key
// falls under some prefix) and misses (under none). Also the time to build each trie (updates).
// CPU time, best of several rounds. Asserts nothing. `npm run build && node bench/maps.js`
import { createMap, MapType } from '../dist/maps/index.js';
import { AddressSpace } from '../dist/memory/address-space.js';

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

// Deterministic PRNG (mulberry32) so every run measures the same tries.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** prefix bytes with everything past `plen` bits cleared */
function masked(bytes, plen) {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, plen - i * 8));
    out[i] &= (0xff00 >> keep) & 0xff;
  }
  return out;
}

function key(plen, bytes) {
  const k = new Uint8Array(4 + bytes.length);
  new DataView(k.buffer).setUint32(0, plen, true);
  k.set(bytes, 4);
  return k;
}

// Prefixes live under first bytes 1..127 (IPv4) or 0x20..0x3f (IPv6); misses use first byte 0xfe.
function prefixes(r, family, count) {
  const size = family === 4 ? 4 : 16;
  if (count === 2) {
    // What the lpm_block example installs (10.77.0.1/32, 192.168.0.0/16), or its IPv6 analogue.
    return family === 4
      ? [key(32, [10, 77, 0, 1]), key(16, [192, 168, 0, 0])]
      : [
          key(128, [0x20, 1, 0xd, 0xb8, ...Array(11).fill(0), 1]),
          key(32, [0x20, 1, 0xd, 0xb8, ...Array(12).fill(0)]),
        ];
  }
  const out = [];
  for (let i = 0; i < count; i++) {
    const bytes = Array.from({ length: size }, () => Math.floor(r() * 256));
    bytes[0] = family === 4 ? 1 + Math.floor(r() * 127) : 0x20 + Math.floor(r() * 32);
    const plen =
      family === 4
        ? r() < 0.1
          ? 32
          : 8 + Math.floor(r() * 17)
        : r() < 0.1
          ? 128
          : 16 + Math.floor(r() * 49);
    out.push(key(plen, masked(bytes, plen)));
  }
  return out;
}

const LOOKUPS = 4096;

function build(family, count) {
  const r = rng(family * 100000 + count);
  const space = new AddressSpace(1 << 22, 1 << 28);
  const size = family === 4 ? 4 : 16;
  const spec = {
    name: 'bench',
    type: MapType.LPM_TRIE,
    keySize: 4 + size,
    valueSize: 8,
    maxEntries: count,
    flags: 1,
  };
  const map = createMap(space, spec, { cpus: 1 });
  const ps = prefixes(r, family, count);
  const value = new Uint8Array(8);
  const t0 = cpuNs();
  for (const p of ps) map.update(p, value);
  const buildNs = (cpuNs() - t0) / count;
  // Hit keys: a stored prefix with random low bits; miss keys: first byte 0xfe.
  const stride = 4 + size;
  const hits = space.allocate(LOOKUPS * stride, 'scratch', 'hit keys');
  const misses = space.allocate(LOOKUPS * stride, 'scratch', 'miss keys');
  const mem = space.bytes;
  for (let i = 0; i < LOOKUPS; i++) {
    const p = ps[Math.floor(r() * ps.length)];
    const plen = new DataView(p.buffer).getUint32(0, true);
    const random = Array.from({ length: size }, () => Math.floor(r() * 256));
    const addr = p.slice(4);
    for (let b = plen; b < size * 8; b++) {
      const bit = (random[b >> 3] >> (7 - (b & 7))) & 1;
      addr[b >> 3] = (addr[b >> 3] & ~(0x80 >> (b & 7))) | (bit << (7 - (b & 7)));
    }
    mem.set(key(size * 8, addr), hits.start + i * stride);
    random[0] = 0xfe;
    mem.set(key(size * 8, random), misses.start + i * stride);
  }
  return { map, hits: hits.start, misses: misses.start, stride, buildNs };
}

/** Best-of-7 CPU ns per lookup; also checks every hit key hits and every miss key misses. */
function measure(map, base, stride, expectHit) {
  for (let i = 0; i < LOOKUPS; i++) {
    const found = map.lookupPtr(base + i * stride, 0) !== 0;
    if (found !== expectHit) throw new Error(`key ${i}: expected ${expectHit ? 'a hit' : 'a miss'}`);
  }
  const rounds = 200;
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let r = 0; r < 8; r++) {
    const t0 = cpuNs();
    for (let k = 0; k < rounds; k++) {
      for (let i = 0; i < LOOKUPS; i++) sink += map.lookupPtr(base + i * stride, 0);
    }
    if (r > 0) best = Math.min(best, (cpuNs() - t0) / (rounds * LOOKUPS));
  }
  if (sink === -1) console.log(sink);
  return best;
}

console.log('LPM_TRIE lookupPtr: ns per lookup (million lookups/s), best of 7; update ns per insert');
console.log('family  prefixes      hit ns (M/s)     miss ns (M/s)   update ns');
for (const family of [4, 6]) {
  for (const count of [2, 100, 10000]) {
    const { map, hits, misses, stride, buildNs } = build(family, count);
    const h = measure(map, hits, stride, true);
    const m = measure(map, misses, stride, false);
    const cell = (ns) => `${ns.toFixed(1).padStart(7)} (${(1000 / ns).toFixed(1).padStart(5)})`;
    console.log(
      `IPv${family}    ${String(count).padStart(8)}  ${cell(h)}  ${cell(m)}  ${buildNs.toFixed(0).padStart(10)}`,
    );
  }
}
