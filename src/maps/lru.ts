// The kernel's "common" LRU (kernel/bpf/bpf_lru_list.c), so that LRU maps evict the same elements:
// global active/inactive/free lists, per-CPU local free and pending lists, a reference bit set by program
// lookups. A CPU takes free nodes from its local list; when that is empty it flushes its pending nodes
// into the inactive list, rotates, grabs up to `targetFree` nodes from the global free list and, if it got
// fewer, evicts that many unreferenced nodes from the inactive tail in one go (so a full map of N
// entries on C CPUs loses clamp(N / C / 2, 1, 128) elements at once, as the kernel does).
//
// Nodes are slot numbers; every list is a circular doubly linked list through shared next/prev arrays,
// with one sentinel per list after the N nodes.

const LOCAL_FREE_TARGET = 128;
const NR_SCANS = LOCAL_FREE_TARGET;

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
  private readonly owner: Int32Array;
  /** Whether a node is on some list yet (all start on the global free list). */
  private readonly linked: Uint8Array;
  private readonly counts = [0, 0, 0];
  private nextInactiveRotation: number;
  readonly targetFree: number;

  constructor(
    private readonly n: number,
    cpus: number,
  ) {
    const total = n + 3 + 2 * cpus;
    this.next = new Int32Array(total);
    this.prev = new Int32Array(total);
    for (let i = n; i < total; i++) {
      this.next[i] = i;
      this.prev[i] = i;
    }
    this.type = new Uint8Array(n);
    this.ref = new Uint8Array(n);
    this.owner = new Int32Array(n);
    this.linked = new Uint8Array(n);
    for (let s = 0; s < n; s++) this.moveTo(s, T.Free, this.head(T.Free));
    this.nextInactiveRotation = this.head(T.Inactive);
    this.targetFree = Math.min(LOCAL_FREE_TARGET, Math.max(1, Math.floor(n / cpus / 2)));
  }

  /** Sentinel of a global list, or of CPU `cpu`'s local list. */
  private head(t: T, cpu = 0): number {
    if (t <= T.Free) return this.n + t;
    return this.n + 3 + 2 * cpu + (t - T.LocalFree);
  }

  private unlink(s: number): void {
    this.next[this.prev[s]!] = this.next[s]!;
    this.prev[this.next[s]!] = this.prev[s]!;
  }

  /** Put node s at the head of list `h` (a sentinel), recording its type and keeping global counts. */
  private moveTo(s: number, t: T, h: number): void {
    if (this.linked[s]) {
      if (this.type[s]! <= T.Free) this.counts[this.type[s]!]!--;
      this.unlink(s);
    } else this.linked[s] = 1;
    this.type[s] = t;
    if (t <= T.Free) this.counts[t]!++;
    this.next[s] = this.next[h]!;
    this.prev[s] = h;
    this.prev[this.next[h]!] = s;
    this.next[h] = s;
  }

  /** Move within/between active and inactive, clearing the reference bit (__bpf_lru_node_move). */
  private move(s: number, t: T.Active | T.Inactive): void {
    this.ref[s] = 0;
    if (s === this.nextInactiveRotation) this.nextInactiveRotation = this.prev[s]!;
    this.moveTo(s, t, this.head(t));
  }

  setRef(s: number): void {
    this.ref[s] = 1;
  }

  private rotateActive(): void {
    const h = this.head(T.Active);
    const first = this.next[h]!;
    let i = 0;
    for (let s = this.prev[h]!; s !== h; ) {
      const p = this.prev[s]!;
      this.move(s, this.ref[s] ? T.Active : T.Inactive);
      if (++i === NR_SCANS || s === first) break;
      s = p;
    }
  }

  private rotateInactive(): void {
    const h = this.head(T.Inactive);
    if (this.next[h] === h) return;
    let last = this.next[this.nextInactiveRotation]!;
    if (last === h) last = this.next[last]!;
    let cur = this.nextInactiveRotation;
    let nxt = h;
    let i = 0;
    while (i < NR_SCANS) {
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
    this.nextInactiveRotation = nxt;
  }

  /** Evict up to `target` nodes into CPU `cpu`'s local free list; `evict` removes a node from the map. */
  private shrink(target: number, cpu: number, evict: (s: number) => void): void {
    const inactive = this.head(T.Inactive);
    const to = this.head(T.LocalFree, cpu);
    let shrunk = 0;
    let i = 0;
    for (let s = this.prev[inactive]!; s !== inactive; ) {
      const p = this.prev[s]!;
      if (this.ref[s]) this.move(s, T.Active);
      else {
        evict(s);
        this.toLocalFree(s, to);
        if (++shrunk === target) break;
      }
      if (++i === NR_SCANS) break;
      s = p;
    }
    if (shrunk > 0) return;
    // Nothing unreferenced: force out the tail, ignoring reference bits.
    const h = this.next[inactive] !== inactive ? inactive : this.head(T.Active);
    const s = this.prev[h]!;
    if (s === h) return;
    evict(s);
    this.toLocalFree(s, to);
  }

  private toLocalFree(s: number, to: number): void {
    if (s === this.nextInactiveRotation) this.nextInactiveRotation = this.prev[s]!;
    this.ref[s] = 0;
    this.moveTo(s, T.LocalFree, to);
  }

  /** A free node for CPU `cpu` (evicting through `evict` when needed), or -1. It becomes pending. */
  pop(cpu: number, evict: (s: number) => void): number {
    const free = this.head(T.LocalFree, cpu);
    if (this.next[free] === free) this.refill(cpu, evict);
    const s = this.next[free]!;
    if (s === free) return -1;
    this.ref[s] = 0;
    this.owner[s] = cpu;
    this.moveTo(s, T.LocalPending, this.head(T.LocalPending, cpu));
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
    if (this.counts[T.Inactive]! < this.counts[T.Active]!) this.rotateActive();
    this.rotateInactive();
    const globalFree = this.head(T.Free);
    const to = this.head(T.LocalFree, cpu);
    let got = 0;
    while (got < this.targetFree && this.next[globalFree] !== globalFree) {
      this.toLocalFree(this.next[globalFree]!, to);
      got++;
    }
    if (got < this.targetFree) this.shrink(this.targetFree - got, cpu, evict);
  }

  /** Give back a node (deleted or replaced element, or a failed update's node). */
  pushFree(s: number): void {
    if (this.type[s] === T.LocalPending) {
      this.ref[s] = 0;
      this.moveTo(s, T.LocalFree, this.head(T.LocalFree, this.owner[s]!));
      return;
    }
    if (s === this.nextInactiveRotation) this.nextInactiveRotation = this.prev[s]!;
    this.moveTo(s, T.Free, this.head(T.Free));
  }
}
