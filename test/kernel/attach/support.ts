// Shared by the attach tests: the fixture object (one program per attach family, each counting into its
// own slot of `counts`), reading a slot, triggering a syscall from this very process, and checking through
// the kernel (bpftool) that nothing a test created is left: programs, maps, links, pins.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { nativeLibc } from '../../../src/kernel/ffi.js';
import * as k from '../../../src/kernel/index.js';

export const ATTACH_O = new URL('../../fixtures/attach/attach.o', import.meta.url).pathname;

/** Slots of `counts` (enum slot in attach.c). */
export const Slot = {
  TP: 0,
  RAW_TP: 1,
  UPROBE: 2,
  URETPROBE: 3,
  PERF: 4,
  TCX_IN: 5,
  TCX_OUT: 6,
  CG_CONNECT4: 7,
  CG_SKB_EGRESS: 8,
  CG_SOCK_CREATE: 9,
  CG_SETSOCKOPT: 10,
  CG_SYSCTL: 11,
  CG_DEV: 12,
  SOCKET: 13,
  SK_LOOKUP: 14,
  SK_MSG: 15,
  SK_SKB: 16,
  NETFILTER: 17,
  KPROBE: 18,
  KRETPROBE: 19,
  UPROBE_MULTI: 21,
  KPROBE_MULTI: 22,
} as const;

/** The kernel ids of what a loaded object holds, to check afterwards that all of it is gone. */
export interface Ids {
  prog: number[];
  map: number[];
  link: number[];
}

/** Load the fixture (only `programs` when given) and note the ids of its programs and maps. */
export function loadFixture(programs?: string[]): { obj: k.KernelObject; ids: Ids } {
  const obj = k.loadKernelObject(ATTACH_O, programs ? { programs } : {});
  const ids: Ids = {
    prog: [...obj.programs.values()].map((p) => k.progInfo(p.fd).id),
    map: [...obj.maps.values()].map((m) => k.mapInfo(m.fd).id),
    link: [],
  };
  return { obj, ids };
}

/** A slot of the fixture's `counts`. */
export function count(obj: k.KernelObject, slot: number): bigint {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, slot, true);
  const v = obj.map('counts').lookup(key)!;
  return new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
}

/** Count only this process's events in the tracing programs. */
export function targetThisProcess(obj: k.KernelObject): void {
  obj.setGlobal('target_tgid', process.pid);
}

let getpgid: ((pid: number) => number) | undefined;

/** Call getpgid(2) `n` times from this process (the tracepoint fixtures count exactly these). */
export function callGetpgid(n: number): void {
  getpgid ??= nativeLibc().libc.func('int getpgid(int pid)') as (pid: number) => number;
  for (let i = 0; i < n; i++) getpgid(0);
}

/** Whether the kernel has the program, map or link with this id now. */
export function exists(kind: 'prog' | 'map' | 'link', id: number): boolean {
  return spawnSync('bpftool', [kind, 'show', 'id', String(id)], { stdio: 'pipe' }).status === 0;
}

/**
 * Wait (up to 5 s: the kernel frees programs and maps after an RCU grace period) until none of `ids`
 * exists; return those still there.
 */
export async function leftovers(ids: Ids): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const left = (['prog', 'map', 'link'] as const).flatMap((kind) =>
      ids[kind].filter((id) => exists(kind, id)).map((id) => `${kind} ${id}`),
    );
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Link ids bpftool lists now. */
export function linkIds(): number[] {
  const out = execFileSync('bpftool', ['-j', 'link', 'list'], { stdio: 'pipe' }).toString();
  return (JSON.parse(out || '[]') as { id: number }[]).map((l) => l.id);
}

/** Mount tracefs where the kernel expects it (the tracepoint tests need it; CI machines may lack it). */
export function ensureTracefs(): void {
  if (existsSync('/sys/kernel/tracing/events')) return;
  execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing'], { stdio: 'pipe' });
}

/** Build test/fixtures/attach/probe_target.c into `dir` with the machine's C compiler; returns its path. */
export function buildProbeTarget(dir: string): string {
  const src = new URL('../../fixtures/attach/probe_target.c', import.meta.url).pathname;
  const out = `${dir}/probe_target`;
  execFileSync('cc', ['-O1', '-g', '-o', out, src], { stdio: 'pipe' });
  return out;
}
