// The block graph laid out as classic BPF: blocks in reverse post-order (so every jump goes forward),
// each as its statements and one conditional jump; a block whose two sides go to one place jumps with `ja`,
// or not at all when that place comes next.
//
// A conditional jump reaches at most 255 instructions ahead. A farther target is reached through a `ja`
// (a trampoline) placed between blocks within reach, as late as possible so that the jumps after it to
// the same target share it (a long or-chain jumps to the accept from every test: one trampoline per 255
// instructions instead of one per test, as libpcap lays it out). Trampolines move the code after them,
// so positions are recomputed until every jump reaches; after SHARED_ROUNDS rounds, a jump still out of
// reach gets a trampoline of its own right after it, which always reaches. Each round is linear in the
// program, which is at most FILTER_LIMITS.program instructions long.

import { C, type SockFilter, stmt } from '../insn.js';
import { type Node, reversePostorder } from './blocks.js';

const REACH = 255;
const SHARED_ROUNDS = 32;

/** Instructions the laid-out graph takes, not counting trampolines. */
export function instructionCount(root: Node): number {
  const order = reversePostorder(root);
  let n = 0;
  order.forEach((node, i) => {
    if (node.kind === 'ret') n++;
    else n += node.stmts.length + (node.jt === node.jf && order[i + 1] === node.jt ? 0 : 1);
  });
  return n;
}

export function layout(root: Node): SockFilter[] {
  const order = reversePostorder(root);
  const count = order.length;
  const index = new Map<Node, number>();
  order.forEach((n, i) => void index.set(n, i));
  /** Trampolines placed after each node: their targets. */
  const after: Node[][] = order.map(() => []);
  const start = new Int32Array(count + 1);
  const jumpAt = new Int32Array(count);
  /** Position of each trampoline, by target: ascending. */
  let tramps = new Map<Node, number[]>();
  const falls = (i: number) => {
    const n = order[i] as Node;
    return n.kind === 'block' && n.jt === n.jf && order[i + 1] === n.jt && (after[i] as Node[]).length === 0;
  };
  const place = () => {
    tramps = new Map();
    let pc = 0;
    for (let i = 0; i < count; i++) {
      const n = order[i] as Node;
      start[i] = pc;
      if (n.kind === 'ret') pc++;
      else {
        pc += n.stmts.length;
        jumpAt[i] = pc;
        if (!falls(i)) pc++;
      }
      for (const t of after[i] as Node[]) {
        const list = tramps.get(t);
        if (list) list.push(pc);
        else tramps.set(t, [pc]);
        pc++;
      }
    }
    start[count] = pc;
  };
  /** A trampoline to `t` in (from, from + REACH], or undefined. */
  const trampolineTo = (t: Node, from: number): number | undefined => {
    const list = tramps.get(t);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as number) <= from) lo = mid + 1;
      else hi = mid;
    }
    const p = list[lo];
    return p !== undefined && p - from - 1 <= REACH ? p : undefined;
  };
  for (let round = 0; ; round++) {
    place();
    let added = false;
    for (let i = 0; i < count; i++) {
      const n = order[i] as Node;
      if (n.kind !== 'block' || n.jt === n.jf) continue;
      const from = jumpAt[i] as number;
      for (const t of [n.jt, n.jf]) {
        if ((start[index.get(t) as number] as number) - from - 1 <= REACH) continue;
        if (trampolineTo(t, from) !== undefined) continue;
        added = true;
        if (round >= SHARED_ROUNDS) {
          (after[i] as Node[]).push(t);
          continue;
        }
        // The last node boundary within reach (the end of node b and its trampolines).
        let b = i;
        while (b + 1 < count && (start[b + 2] as number) - from - 1 <= REACH) b++;
        (after[b] as Node[]).push(t);
        // Jumps after this one to the same target may share it (positions are settled next round).
        const list = tramps.get(t) ?? [];
        list.push(start[b + 1] as number);
        list.sort((x, y) => x - y);
        tramps.set(t, list);
      }
    }
    if (!added) break;
  }
  const prog: SockFilter[] = [];
  const at = (n: Node) => start[index.get(n) as number] as number;
  for (let i = 0; i < count; i++) {
    const n = order[i] as Node;
    if (n.kind === 'ret') prog.push(stmt(C.RET | C.K, n.k));
    else {
      for (const s of n.stmts) prog.push({ ...s });
      const j = prog.length;
      if (n.jt === n.jf) {
        if (!falls(i)) prog.push(stmt(C.JMP | C.JA, at(n.jt) - j - 1));
      } else {
        const reach = (t: Node) => (at(t) - j - 1 <= REACH ? at(t) : (trampolineTo(t, j) as number));
        prog.push({ code: n.code, jt: reach(n.jt) - j - 1, jf: reach(n.jf) - j - 1, k: n.k });
      }
    }
    for (const t of after[i] as Node[]) prog.push(stmt(C.JMP | C.JA, at(t) - prog.length - 1));
  }
  return prog;
}
