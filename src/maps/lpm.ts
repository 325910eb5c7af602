// LPM_TRIE: longest-prefix match over `struct bpf_lpm_trie_key { u32 prefixlen; u8 data[]; }` keys
// (prefixlen in host byte order, data in network order). The same path-compressed binary trie as the
// kernel — real nodes and intermediate nodes (which have exactly two children) — so that updates,
// deletes and get_next_key (post-order: more specific prefixes before less specific ones) behave
// identically, including which key comes next. Values live in preallocated slots in linear memory.

import type { AddressSpace, Region } from '../vm/memory.js';
import { MapBase, type MapOptions } from './base.js';
import { Errno, type MapSpec, UpdateFlag } from './types.js';

interface LpmNode {
  prefixlen: number;
  data: Uint8Array;
  /** Intermediate node: no value, exactly two children. */
  im: boolean;
  child: [LpmNode | null, LpmNode | null];
  /** Value slot (-1 for intermediate nodes). */
  slot: number;
}

type Slot = { get(): LpmNode | null; set(n: LpmNode | null): void };

export class LpmTrieMap extends MapBase {
  readonly maxPrefixlen: number;
  private readonly dataSize: number;
  private root: LpmNode | null = null;
  private entries = 0;
  private readonly values: Region;
  private readonly freeSlots: number[] = [];

  constructor(space: AddressSpace, spec: MapSpec, opts: MapOptions) {
    super(space, spec, opts);
    this.dataSize = spec.keySize - 4;
    this.maxPrefixlen = this.dataSize * 8;
    this.values = this.own(
      space.allocate(this.valueStride * spec.maxEntries, 'map_value', `map ${spec.name} value`),
    );
    for (let s = spec.maxEntries - 1; s >= 0; s--) this.freeSlots.push(s);
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

  private valueAddr(node: LpmNode): number {
    return this.values.start + node.slot * this.valueStride;
  }

  lookupPtr(keyAddr: number, _cpu: number): number {
    const plen = this.keyPrefixlen(keyAddr);
    if (plen > this.maxPrefixlen) return 0;
    let found: LpmNode | null = null;
    for (let node = this.root; node; ) {
      const m = this.matchLen(node, keyAddr, plen);
      if (m === this.maxPrefixlen) {
        found = node;
        break;
      }
      if (m < node.prefixlen) break;
      if (!node.im) found = node;
      node = node.child[this.bit(keyAddr + 4, node.prefixlen)];
    }
    return found ? this.valueAddr(found) : 0;
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
      slot = { get: () => parent.child[b], set: (n) => (parent.child[b] = n) };
      node = slot.get();
    }
    return { slot, node, m, path };
  }

  private newNode(keyAddr: number, plen: number, valueAddr: number): LpmNode {
    const slot = this.freeSlots.pop()!;
    const node: LpmNode = {
      prefixlen: plen,
      data: this.space.read(keyAddr + 4, this.dataSize),
      im: false,
      child: [null, null],
      slot,
    };
    this.u8.copyWithin(this.valueAddr(node), valueAddr, valueAddr + this.spec.valueSize);
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
        node.data = this.space.read(keyAddr + 4, this.dataSize);
        this.u8.copyWithin(this.valueAddr(node), valueAddr, valueAddr + this.spec.valueSize);
        return 0;
      }
      const err = this.checkAdd(flags);
      if (err) return err;
      const fresh = this.newNode(keyAddr, plen, valueAddr);
      fresh.child = node.child;
      slot.set(fresh);
      return 0;
    }
    const err = this.checkAdd(flags);
    if (err) return err;
    const fresh = this.newNode(keyAddr, plen, valueAddr);
    if (m === plen) {
      // The new prefix covers the node: insert it as its parent.
      fresh.child[this.bit(node.data, m)] = node;
      slot.set(fresh);
      return 0;
    }
    const im: LpmNode = { prefixlen: m, data: node.data.slice(), im: true, child: [null, null], slot: -1 };
    if (this.bit(keyAddr + 4, m)) im.child = [node, fresh];
    else im.child = [fresh, node];
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
    if (node.child[0] && node.child[1]) {
      // Two children: the node stays as an intermediate one.
      node.im = true;
      node.slot = -1;
      return 0;
    }
    const parentSlot = path[path.length - 1];
    const parent = parentSlot?.get() ?? null;
    if (parent?.im && !node.child[0] && !node.child[1]) {
      // Remove the now pointless intermediate parent too, promoting the sibling.
      parentSlot!.set(parent.child[0] === node ? parent.child[1] : parent.child[0]);
      return 0;
    }
    trim.set(node.child[0] ?? node.child[1]);
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
        node = node.child[this.bit(keyAddr + 4, node.prefixlen)];
      }
      if (node && node.prefixlen === m && !node.im && node.prefixlen === plen) {
        let cur = stack.pop()!;
        searchRoot = null;
        while (stack.length > 0) {
          const parent = stack[stack.length - 1]!;
          if (parent.child[0] === cur && parent.child[1]) {
            searchRoot = parent.child[1];
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
      if (node.im) node = node.child[0];
      else {
        next = node;
        node = node.child[0] ?? node.child[1];
      }
    }
    if (!next) return -Errno.ENOENT;
    this.writeKey(next, outAddr);
    return 0;
  }
}
