// The kernel's LRU (kernel/bpf/bpf_lru_list.c), so that LRU maps evict the same elements.
//
// Common LRU (the default): global active/inactive/free lists, per-CPU local free and pending lists, a
// reference bit set by program lookups. A CPU takes free nodes from its local list; when that is empty it
// flushes its pending nodes into the inactive list, rotates, grabs up to `targetFree` nodes from the global
// free list and, if it got fewer, evicts that many unreferenced nodes from the inactive tail in one go (so a
// full map of N entries on C CPUs loses clamp(N / C / 2, 1, 128) elements at once, as the kernel does).
//
// Per-CPU LRU (BPF_F_NO_COMMON_LRU): each CPU owns N / C nodes in its own active/inactive/free lists; a
// pop rotates that CPU's lists and, when its free list is empty, evicts up to 4 nodes (scanning 4).
//
// Nodes are created as the map fills, not up front (a map of 2^24 entries holding ten elements has at
// most one refill's worth, 128): a group's free list is its freed nodes, then as many never-used ones as
// its share of max_entries still allows, which behaves as the kernel's preallocated free list does (unused
// nodes are all alike). Every list is a circular doubly linked list through shared next/prev arrays,
// sentinels first (one per list), then the nodes; a slot number is its node's index minus the sentinels,
// in order of creation. The global lists form one group per CPU (per-CPU LRU) or a single group (common).

const LOCAL_FREE_TARGET = 128;
const PERCPU_FREE_TARGET = 4;
/** Nodes the arrays first make room for; they double from there up to max_entries. */
const INITIAL_NODES = 64;
/** Bytes of per-node state: next, prev, owner, group (i32) and type, ref (u8). */
export const LRU_NODE_BYTES = 18;

enum T {
  Active = 0,
  Inactive = 1,
  Free = 2,
  LocalFree = 3,
  LocalPending = 4,
}

export class LruLists {
  private next: Int32Array;
  private prev: Int32Array;
  private type: Uint8Array;
  private ref: Uint8Array;
  /** CPU whose local list holds a pending node (common LRU). */
  private owner: Int32Array;
  /** Group of the global lists a node belongs to (its CPU for the per-CPU LRU, else 0). */
  private group: Int32Array;
  /** Index of the first node: the sentinels come before it. */
  private readonly base: number;
  /** Nodes created so far. */
  private created = 0;
  /** Never-used nodes each group may still create (its share of max_entries). */
  private readonly unused: Int32Array;
  /** Active/inactive/free counts per group. */
  private readonly counts: Int32Array;
  private readonly nextInactiveRotation: Int32Array;
  private readonly groups: number;
  /** Nodes a rotation or shrink looks at (LOCAL_NR_SCANS 128, PERCPU_NR_SCANS 4). */
  private readonly nrScans: number;
  readonly targetFree: number;

  /** `perCpu`: BPF_F_NO_COMMON_LRU (n must then be a multiple of cpus, as the kernel rounds it). */
  constructor(
    private readonly n: number,
    cpus: number,
    private readonly perCpu = false,
  ) {
    this.groups = perCpu ? cpus : 1;
    this.nrScans = perCpu ? PERCPU_FREE_TARGET : LOCAL_FREE_TARGET;
    this.base = 3 * this.groups + 2 * cpus;
    const room = this.base + Math.min(n, INITIAL_NODES);
    this.next = new Int32Array(room);
    this.prev = new Int32Array(room);
    for (let i = 0; i < this.base; i++) {
      this.next[i] = i;
      this.prev[i] = i;
    }
    this.type = new Uint8Array(room);
    this.ref = new Uint8Array(room);
    this.owner = new Int32Array(room);
    this.group = new Int32Array(room);
    this.unused = new Int32Array(this.groups).fill(Math.floor(n / this.groups));
    this.unused[this.groups - 1]! += n % this.groups;
    this.counts = new Int32Array(3 * this.groups);
    this.nextInactiveRotation = new Int32Array(this.groups);
    for (let g = 0; g < this.groups; g++) this.nextInactiveRotation[g] = this.head(T.Inactive, g);
    this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(n / cpus / 2)));
  }

  /** Sentinel of group g's global list t, or of CPU g's local list t. */
  private head(t: T, g = 0): number {
    if (t <= T.Free) return 3 * g + t;
    return 3 * this.groups + 2 * g + (t - T.LocalFree);
  }

  /**
   * The first node of group g's free list: a freed node, else a new one while the group has unused
   * nodes left; the list's sentinel when neither.
   */
  private firstFree(g: number): number {
    const h = this.head(T.Free, g);
    if (this.next[h] !== h || this.unused[g] === 0) return this.next[h]!;
    const s = this.base + this.created++;
    if (s >= this.next.length) this.grow();
    this.unused[g]!--;
    this.group[s] = g;
    this.type[s] = T.Free;
    this.counts[3 * g + T.Free]!++;
    this.next[s] = h;
    this.prev[s] = h;
    this.next[h] = s;
    this.prev[h] = s;
    return s;
  }

  /** Double the node arrays (up to n nodes). */
  private grow(): void {
    const room = this.base + Math.min(this.n, 2 * (this.next.length - this.base));
    const bigger = <A extends Int32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(room);
      b.set(a);
      return b;
    };
    this.next = bigger(this.next, (k) => new Int32Array(k));
    this.prev = bigger(this.prev, (k) => new Int32Array(k));
    this.owner = bigger(this.owner, (k) => new Int32Array(k));
    this.group = bigger(this.group, (k) => new Int32Array(k));
    this.type = bigger(this.type, (k) => new Uint8Array(k));
    this.ref = bigger(this.ref, (k) => new Uint8Array(k));
  }

  private unlink(s: number): void {
    this.next[this.prev[s]!] = this.next[s]!;
    this.prev[this.next[s]!] = this.prev[s]!;
  }

  /** Put node s at the head of list `h` (a sentinel), recording its type and keeping group counts. */
  private moveTo(s: number, t: T, h: number): void {
    const g = this.group[s]!;
    if (this.type[s]! <= T.Free) this.counts[3 * g + this.type[s]!]!--;
    this.unlink(s);
    this.type[s] = t;
    if (t <= T.Free) this.counts[3 * g + t]!++;
    this.next[s] = this.next[h]!;
    this.prev[s] = h;
    this.prev[this.next[h]!] = s;
    this.next[h] = s;
  }

  /** Keep the inactive rotation cursor valid when node s leaves its place. */
  private leaving(s: number): void {
    const g = this.group[s]!;
    if (s === this.nextInactiveRotation[g]) this.nextInactiveRotation[g] = this.prev[s]!;
  }

  /** Move to a global list of the node's group, clearing the reference bit (__bpf_lru_node_move). */
  private move(s: number, t: T.Active | T.Inactive | T.Free): void {
    this.ref[s] = 0;
    this.leaving(s);
    this.moveTo(s, t, this.head(t, this.group[s]!));
  }

  /** A program looked up the element in slot `slot`. */
  setRef(slot: number): void {
    this.ref[slot + this.base] = 1;
  }

  private rotate(g: number): void {
    if (this.counts[3 * g + T.Inactive]! < this.counts[3 * g + T.Active]!) this.rotateActive(g);
    this.rotateInactive(g);
  }

  private rotateActive(g: number): void {
    const h = this.head(T.Active, g);
    const first = this.next[h]!;
    let i = 0;
    for (let s = this.prev[h]!; s !== h; ) {
      const p = this.prev[s]!;
      this.move(s, this.ref[s] ? T.Active : T.Inactive);
      if (++i === this.nrScans || s === first) break;
      s = p;
    }
  }

  private rotateInactive(g: number): void {
    const h = this.head(T.Inactive, g);
    if (this.next[h] === h) return;
    let last = this.next[this.nextInactiveRotation[g]!]!;
    if (last === h) last = this.next[last]!;
    let cur = this.nextInactiveRotation[g]!;
    let nxt = h;
    let i = 0;
    while (i < this.nrScans) {
      if (cur === h) {
        cur = this.prev[cur]!;
        continue;
      }
      nxt = this.prev[cur]!;
      if (this.ref[cur]) this.move(cur, T.Active);
      if (cur === last) break;
      cur = nxt;
      i++;
    }
    this.nextInactiveRotation[g] = nxt;
  }

  /** Evict up to `target` nodes of group g into list `to` (type t); `evict` removes a node from the map. */
  private shrink(target: number, g: number, to: number, t: T, evict: (s: number) => void): void {
    const inactive = this.head(T.Inactive, g);
    let shrunk = 0;
    let i = 0;
    for (let s = this.prev[inactive]!; s !== inactive; ) {
      const p = this.prev[s]!;
      if (this.ref[s]) this.move(s, T.Active);
      else {
        evict(s - this.base);
        this.toFree(s, to, t);
        if (++shrunk === target) break;
      }
      if (++i === this.nrScans) break;
      s = p;
    }
    if (shrunk > 0) return;
    // Nothing unreferenced: force out the tail, ignoring reference bits.
    const h = this.next[inactive] !== inactive ? inactive : this.head(T.Active, g);
    const s = this.prev[h]!;
    if (s === h) return;
    evict(s - this.base);
    this.toFree(s, to, t);
  }

  private toFree(s: number, to: number, t: T): void {
    this.leaving(s);
    this.ref[s] = 0;
    this.moveTo(s, t, to);
  }

  /** The slot of a free node for CPU `cpu` (evicting slots through `evict` when needed), or -1. */
  pop(cpu: number, evict: (slot: number) => void): number {
    if (this.perCpu) return this.popPerCpu(cpu, evict);
    const free = this.head(T.LocalFree, cpu);
    if (this.next[free] === free) this.refill(cpu, evict);
    const s = this.next[free]!;
    if (s === free) return -1;
    this.ref[s] = 0;
    this.owner[s] = cpu;
    // New nodes wait on the CPU's pending list until its next refill.
    this.moveTo(s, T.LocalPending, this.head(T.LocalPending, cpu));
    return s - this.base;
  }

  private popPerCpu(cpu: number, evict: (s: number) => void): number {
    const g = cpu % this.groups;
    this.rotate(g);
    const free = this.head(T.Free, g);
    if (this.firstFree(g) === free) this.shrink(PERCPU_FREE_TARGET, g, free, T.Free, evict);
    const s = this.next[free]!;
    if (s === free) return -1;
    this.move(s, T.Inactive);
    return s - this.base;
  }

  private refill(cpu: number, evict: (s: number) => void): void {
    // Flush pending nodes, oldest first, into the global lists.
    const pending = this.head(T.LocalPending, cpu);
    for (let s = this.prev[pending]!; s !== pending; ) {
      const p = this.prev[s]!;
      const t = this.ref[s] ? T.Active : T.Inactive;
      this.ref[s] = 0;
      this.moveTo(s, t, this.head(t));
      s = p;
    }
    this.rotate(0);
    const globalFree = this.head(T.Free);
    const to = this.head(T.LocalFree, cpu);
    let got = 0;
    while (got < this.targetFree) {
      const s = this.firstFree(0);
      if (s === globalFree) break;
      this.toFree(s, to, T.LocalFree);
      got++;
    }
    if (got < this.targetFree) this.shrink(this.targetFree - got, 0, to, T.LocalFree, evict);
  }

  /** Give back a slot's node (deleted or replaced element, or a failed update's node). */
  pushFree(slot: number): void {
    const s = slot + this.base;
    if (this.type[s] === T.LocalPending) {
      this.ref[s] = 0;
      this.moveTo(s, T.LocalFree, this.head(T.LocalFree, this.owner[s]!));
      return;
    }
    this.move(s, T.Free);
  }
}
