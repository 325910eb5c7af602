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
// Nodes are slot numbers; every list is a circular doubly linked list through shared next/prev arrays,
// with one sentinel per list after the N nodes. The global lists form one group per CPU (per-CPU LRU) or
// a single group (common LRU).

const LOCAL_FREE_TARGET = 128;
const PERCPU_FREE_TARGET = 4;

enum T {
  Active = 0,
  Inactive = 1,
  Free = 2,
  LocalFree = 3,
  LocalPending = 4,
}

export class LruLists {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly type: Uint8Array;
  private readonly ref: Uint8Array;
  /** CPU whose local list holds a pending node (common LRU). */
  private readonly owner: Int32Array;
  /** Group of the global lists a node belongs to (its CPU for the per-CPU LRU, else 0). */
  private readonly group: Int32Array;
  /** Whether a node is on some list yet (all start on a free list). */
  private readonly linked: Uint8Array;
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
    const total = n + 3 * this.groups + 2 * cpus;
    this.next = new Int32Array(total);
    this.prev = new Int32Array(total);
    for (let i = n; i < total; i++) {
      this.next[i] = i;
      this.prev[i] = i;
    }
    this.type = new Uint8Array(n);
    this.ref = new Uint8Array(n);
    this.owner = new Int32Array(n);
    this.group = new Int32Array(n);
    this.linked = new Uint8Array(n);
    this.counts = new Int32Array(3 * this.groups);
    const perGroup = Math.max(1, Math.floor(n / this.groups));
    for (let s = 0; s < n; s++) {
      this.group[s] = Math.min(this.groups - 1, Math.floor(s / perGroup));
      this.moveTo(s, T.Free, this.head(T.Free, this.group[s]!));
    }
    this.nextInactiveRotation = new Int32Array(this.groups);
    for (let g = 0; g < this.groups; g++) this.nextInactiveRotation[g] = this.head(T.Inactive, g);
    this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(n / cpus / 2)));
  }

  /** Sentinel of group g's global list t, or of CPU g's local list t. */
  private head(t: T, g = 0): number {
    if (t <= T.Free) return this.n + 3 * g + t;
    return this.n + 3 * this.groups + 2 * g + (t - T.LocalFree);
  }

  private unlink(s: number): void {
    this.next[this.prev[s]!] = this.next[s]!;
    this.prev[this.next[s]!] = this.prev[s]!;
  }

  /** Put node s at the head of list `h` (a sentinel), recording its type and keeping group counts. */
  private moveTo(s: number, t: T, h: number): void {
    const g = this.group[s]!;
    if (this.linked[s]) {
      if (this.type[s]! <= T.Free) this.counts[3 * g + this.type[s]!]!--;
      this.unlink(s);
    } else this.linked[s] = 1;
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

  setRef(s: number): void {
    this.ref[s] = 1;
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
        evict(s);
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
    evict(s);
    this.toFree(s, to, t);
  }

  private toFree(s: number, to: number, t: T): void {
    this.leaving(s);
    this.ref[s] = 0;
    this.moveTo(s, t, to);
  }

  /** A free node for CPU `cpu` (evicting through `evict` when needed), or -1. */
  pop(cpu: number, evict: (s: number) => void): number {
    if (this.perCpu) return this.popPerCpu(cpu, evict);
    const free = this.head(T.LocalFree, cpu);
    if (this.next[free] === free) this.refill(cpu, evict);
    const s = this.next[free]!;
    if (s === free) return -1;
    this.ref[s] = 0;
    this.owner[s] = cpu;
    // New nodes wait on the CPU's pending list until its next refill.
    this.moveTo(s, T.LocalPending, this.head(T.LocalPending, cpu));
    return s;
  }

  private popPerCpu(cpu: number, evict: (s: number) => void): number {
    const g = cpu % this.groups;
    this.rotate(g);
    const free = this.head(T.Free, g);
    if (this.next[free] === free) this.shrink(PERCPU_FREE_TARGET, g, free, T.Free, evict);
    const s = this.next[free]!;
    if (s === free) return -1;
    this.move(s, T.Inactive);
    return s;
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
    while (got < this.targetFree && this.next[globalFree] !== globalFree) {
      this.toFree(this.next[globalFree]!, to, T.LocalFree);
      got++;
    }
    if (got < this.targetFree) this.shrink(this.targetFree - got, 0, to, T.LocalFree, evict);
  }

  /** Give back a node (deleted or replaced element, or a failed update's node). */
  pushFree(s: number): void {
    if (this.type[s] === T.LocalPending) {
      this.ref[s] = 0;
      this.moveTo(s, T.LocalFree, this.head(T.LocalFree, this.owner[s]!));
      return;
    }
    this.move(s, T.Free);
  }
}
