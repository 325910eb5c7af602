// LPM_TRIE: longest-prefix match over `struct bpf_lpm_trie_key { u32 prefixlen; u8 data[]; }` keys
// (prefixlen in host byte order, data in network order). The same path-compressed binary trie as the
// kernel — real nodes and intermediate nodes (which have exactly two children) — so that updates,
// deletes and get_next_key (post-order: more specific prefixes before less specific ones) behave
// identically, including which key comes next. Values live in slots in linear memory, carved in 64 KiB
// chunks as the trie fills (the kernel allocates a node per element too).
//
// Lookups are what programs do per packet, so nodes also carry their prefix as masked big-endian 32-bit
// words (the first four: data up to 16 bytes, IPv4 and IPv6) and lookups compare whole words.

import type { AddressSpace, Region } from '../memory/address-space.js';
import { Errno } from '../spec/errno.js';
import { type MapSpec, UpdateFlag } from '../spec/maps.js';
import { MapBase, type MapOptions } from './base.js';

/** The mask of the first `bits` bits of a 32-bit word (bits clamped to 0..32), as an int32. */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  return bits >= 32 ? -1 : -1 << (32 - bits);
}

/** Big-endian int32 of the `avail` bytes at `addr` (zero past them), without reading past the key. */
function keyWord(u8: Uint8Array, dv: DataView, addr: number, avail: number): number {
  if (avail >= 4) return dv.getInt32(addr, false);
  let w = 0;
  for (let i = 0; i < 4; i++) w = (w << 8) | (i < avail ? u8[addr + i]! : 0);
  return w;
}

/** One class so every node has the same shape (lookups stay monomorphic). */
class LpmNode {
  prefixlen: number;
  data: Uint8Array;
  /** Intermediate node: no value, exactly two children. */
  im: boolean;
  left: LpmNode | null = null;
  right: LpmNode | null = null;
  /** Value slot (-1 for intermediate nodes). */
  slot: number;
  /** Address of the value (0 for intermediate nodes). */
  value: number;
  /** First four words of data, masked to the prefix, and the masks (int32). */
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  m0 = 0;
  m1 = 0;
  m2 = 0;
  m3 = 0;

  constructor(prefixlen: number, data: Uint8Array, im: boolean, slot: number, value: number) {
    this.prefixlen = prefixlen;
    this.data = data;
    this.im = im;
    this.slot = slot;
    this.value = value;
    this.setData(data);
  }

  setData(data: Uint8Array): void {
    this.data = data;
    const p = this.prefixlen;
    const word = (i: number): number => {
      let w = 0;
      for (let j = 0; j < 4; j++) w = (w << 8) | (data[i * 4 + j] ?? 0);
      return w;
    };
    this.m0 = wordMask(p);
    this.m1 = wordMask(p - 32);
    this.m2 = wordMask(p - 64);
    this.m3 = wordMask(p - 96);
    this.w0 = word(0) & this.m0;
    this.w1 = word(1) & this.m1;
    this.w2 = word(2) & this.m2;
    this.w3 = word(3) & this.m3;
  }

  child(b: number): LpmNode | null {
    return b ? this.right : this.left;
  }

  setChild(b: number, n: LpmNode | null): void {
    if (b) this.right = n;
    else this.left = n;
  }
}

type Slot = { get(): LpmNode | null; set(n: LpmNode | null): void };

/** Longest-prefix-match trie maps (lpm_trie). */
export class LpmTrieMap extends MapBase {
  readonly maxPrefixlen: number;
  private readonly dataSize: number;
  private root: LpmNode | null = null;
  private entries = 0;
  /** Value slots given back by deletes; new slots are numbered on from `fresh`. */
  private readonly freeSlots: number[] = [];
  private fresh = 0;
  private readonly chunks: Region[] = [];
  private readonly chunkSlots: number;

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.dataSize = spec.keySize - 4;
    this.maxPrefixlen = this.dataSize * 8;
    this.chunkSlots = Math.min(spec.maxEntries, Math.max(1, Math.floor(65536 / this.valueStride)));
  }

  /** Address of value slot s (its chunk allocated on first use). */
  private slotAddr(s: number): number {
    const chunk = Math.floor(s / this.chunkSlots);
    let region = this.chunks[chunk];
    if (!region) {
      const n = Math.min(this.chunkSlots, this.spec.maxEntries - chunk * this.chunkSlots);
      region = this.own(
        this.space.allocate(n * this.valueStride, 'map_value', `map ${this.spec.name} value`),
      );
      this.chunks[chunk] = region;
    }
    return region.start + (s - chunk * this.chunkSlots) * this.valueStride;
  }

  get size(): number {
    return this.entries;
  }

  private keyPrefixlen(keyAddr: number): number {
    return this.dv.getUint32(keyAddr, true);
  }

  private bit(data: Uint8Array | number, index: number): number {
    const byte = typeof data === 'number' ? this.u8[data + (index >> 3)]! : data[index >> 3]!;
    return (byte >> (7 - (index & 7))) & 1;
  }

  /** Number of leading bits node and key share, up to the shorter prefix. */
  private matchLen(node: LpmNode, keyAddr: number, keyPrefixlen: number): number {
    const limit = Math.min(node.prefixlen, keyPrefixlen);
    const b = this.u8;
    const data = keyAddr + 4;
    let n = 0;
    for (let i = 0; n < limit && i < this.dataSize; i++) {
      const diff = node.data[i]! ^ b[data + i]!;
      if (diff === 0) {
        n += 8;
        continue;
      }
      n += Math.clz32(diff) - 24;
      break;
    }
    return Math.min(n, limit);
  }

  // The kernel's walk: stop at the first node whose prefix the key does not cover (its prefixlen is
  // longer than the key's, or the bits differ); the last real node passed is the match. A node of the
  // full length that matches ends the walk (it has no children).
  lookupPtr(keyAddr: number, _cpu: number): number {
    const u8 = this.u8;
    const dv = this.dv;
    const plen = dv.getUint32(keyAddr, true);
    const max = this.maxPrefixlen;
    if (plen > max) return 0;
    const size = this.dataSize;
    if (size > 16) return this.lookupBytes(keyAddr, plen);
    const d = keyAddr + 4;
    const k0 = keyWord(u8, dv, d, size);
    let found = 0;
    let node = this.root;
    if (size <= 4) {
      while (node !== null) {
        const np = node.prefixlen;
        if (np > plen || (k0 & node.m0) !== node.w0) break;
        if (!node.im) found = node.value;
        if (np === max) break;
        node = (k0 >>> (31 - np)) & 1 ? node.right : node.left;
      }
      return found;
    }
    const k1 = keyWord(u8, dv, d + 4, size - 4);
    const k2 = size > 8 ? keyWord(u8, dv, d + 8, size - 8) : 0;
    const k3 = size > 12 ? keyWord(u8, dv, d + 12, size - 12) : 0;
    while (node !== null) {
      const np = node.prefixlen;
      if (
        np > plen ||
        (k0 & node.m0) !== node.w0 ||
        (k1 & node.m1) !== node.w1 ||
        (k2 & node.m2) !== node.w2 ||
        (k3 & node.m3) !== node.w3
      ) {
        break;
      }
      if (!node.im) found = node.value;
      if (np === max) break;
      const w = np < 64 ? (np < 32 ? k0 : k1) : np < 96 ? k2 : k3;
      node = (w >>> (31 - (np & 31))) & 1 ? node.right : node.left;
    }
    return found;
  }

  /** Lookup for data over 16 bytes, bit by bit as the kernel does. */
  private lookupBytes(keyAddr: number, plen: number): number {
    let found = 0;
    for (let node = this.root; node; ) {
      const m = this.matchLen(node, keyAddr, plen);
      if (m === this.maxPrefixlen) return node.value;
      if (m < node.prefixlen) break;
      if (!node.im) found = node.value;
      node = node.child(this.bit(keyAddr + 4, node.prefixlen));
    }
    return found;
  }

  /** Walk to the slot where the key belongs: stops at a mismatch or at the node with the same prefixlen. */
  private walk(keyAddr: number, plen: number): { slot: Slot; node: LpmNode | null; m: number; path: Slot[] } {
    const rootSlot: Slot = { get: () => this.root, set: (n) => (this.root = n) };
    let slot = rootSlot;
    const path: Slot[] = [];
    let m = 0;
    let node = slot.get();
    while (node) {
      m = this.matchLen(node, keyAddr, plen);
      if (node.prefixlen !== m || node.prefixlen === plen) break;
      const parent = node;
      const b = this.bit(keyAddr + 4, node.prefixlen);
      path.push(slot);
      slot = { get: () => parent.child(b), set: (n) => parent.setChild(b, n) };
      node = slot.get();
    }
    return { slot, node, m, path };
  }

  private newNode(keyAddr: number, plen: number, valueAddr: number): LpmNode {
    // checkAdd keeps entries <= max_entries, so a slot is free or still unused.
    const slot = this.freeSlots.pop() ?? this.fresh++;
    const value = this.slotAddr(slot);
    const node = new LpmNode(plen, this.space.read(keyAddr + 4, this.dataSize), false, slot, value);
    this.u8.copyWithin(value, valueAddr, valueAddr + this.spec.valueSize);
    return node;
  }

  /** Count a new element: -ENOENT for BPF_EXIST, -ENOSPC when full, else 0. */
  private checkAdd(flags: number): number {
    if (flags === UpdateFlag.EXIST) return -Errno.ENOENT;
    if (this.entries >= this.spec.maxEntries) return -Errno.ENOSPC;
    this.entries++;
    return 0;
  }

  updatePtr(keyAddr: number, valueAddr: number, flags: number, _cpu: number): number {
    if (flags > UpdateFlag.EXIST) return -Errno.EINVAL;
    const plen = this.keyPrefixlen(keyAddr);
    if (plen > this.maxPrefixlen) return -Errno.EINVAL;
    const { slot, node, m } = this.walk(keyAddr, plen);
    if (!node) {
      const err = this.checkAdd(flags);
      if (err) return err;
      slot.set(this.newNode(keyAddr, plen, valueAddr));
      return 0;
    }
    if (node.prefixlen === m) {
      if (!node.im) {
        if (flags === UpdateFlag.NOEXIST) return -Errno.EEXIST;
        // Replace the value in place (the kernel swaps in a new node holding the same key).
        node.setData(this.space.read(keyAddr + 4, this.dataSize));
        this.u8.copyWithin(node.value, valueAddr, valueAddr + this.spec.valueSize);
        return 0;
      }
      const err = this.checkAdd(flags);
      if (err) return err;
      const fresh = this.newNode(keyAddr, plen, valueAddr);
      fresh.left = node.left;
      fresh.right = node.right;
      slot.set(fresh);
      return 0;
    }
    const err = this.checkAdd(flags);
    if (err) return err;
    const fresh = this.newNode(keyAddr, plen, valueAddr);
    if (m === plen) {
      // The new prefix covers the node: insert it as its parent.
      fresh.setChild(this.bit(node.data, m), node);
      slot.set(fresh);
      return 0;
    }
    const im = new LpmNode(m, node.data.slice(), true, -1, 0);
    if (this.bit(keyAddr + 4, m)) {
      im.left = node;
      im.right = fresh;
    } else {
      im.left = fresh;
      im.right = node;
    }
    slot.set(im);
    return 0;
  }

  deletePtr(keyAddr: number): number {
    const plen = this.keyPrefixlen(keyAddr);
    if (plen > this.maxPrefixlen) return -Errno.EINVAL;
    const { slot: trim, node, m, path } = this.walk(keyAddr, plen);
    if (!node || node.prefixlen !== plen || node.prefixlen !== m || node.im) return -Errno.ENOENT;
    this.entries--;
    this.freeSlots.push(node.slot);
    if (node.left && node.right) {
      // Two children: the node stays as an intermediate one.
      node.im = true;
      node.slot = -1;
      node.value = 0;
      return 0;
    }
    const parentSlot = path[path.length - 1];
    const parent = parentSlot?.get() ?? null;
    if (parent?.im && !node.left && !node.right) {
      // Remove the now pointless intermediate parent too, promoting the sibling.
      parentSlot!.set(parent.left === node ? parent.right : parent.left);
      return 0;
    }
    trim.set(node.left ?? node.right);
    return 0;
  }

  private writeKey(node: LpmNode, outAddr: number): void {
    this.dv.setUint32(outAddr, node.prefixlen, true);
    this.space.write(outAddr + 4, node.data);
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    if (!this.root) return -Errno.ENOENT;
    let searchRoot: LpmNode | null = this.root;
    const plen = keyAddr === 0 ? this.maxPrefixlen + 1 : this.keyPrefixlen(keyAddr);
    if (plen <= this.maxPrefixlen) {
      // Find the exact node for the key, remembering the path; then the next one in post-order.
      const stack: LpmNode[] = [];
      let node: LpmNode | null = this.root;
      let m = 0;
      while (node) {
        stack.push(node);
        m = this.matchLen(node, keyAddr, plen);
        if (node.prefixlen !== m || node.prefixlen === plen) break;
        node = node.child(this.bit(keyAddr + 4, node.prefixlen));
      }
      if (node && node.prefixlen === m && !node.im && node.prefixlen === plen) {
        let cur = stack.pop()!;
        searchRoot = null;
        while (stack.length > 0) {
          const parent = stack[stack.length - 1]!;
          if (parent.left === cur && parent.right) {
            searchRoot = parent.right;
            break;
          }
          if (!parent.im) {
            this.writeKey(parent, outAddr);
            return 0;
          }
          cur = stack.pop()!;
        }
        if (!searchRoot) return -Errno.ENOENT;
      }
    }
    // The leftmost real node under searchRoot, descending left first.
    let next: LpmNode | null = null;
    for (let node: LpmNode | null = searchRoot; node; ) {
      if (node.im) node = node.left;
      else {
        next = node;
        node = node.left ?? node.right;
      }
    }
    if (!next) return -Errno.ENOENT;
    this.writeKey(next, outAddr);
    return 0;
  }
}
