// struct_ops through tsbpf's kernel back end (src/kernel/struct-ops.ts), the kernel as the oracle: the corpus'
// tcp_cc.o (a .struct_ops map: registered by the map update) and cc_link.o (.struct_ops.link: registered by
// BPF_LINK_CREATE) are loaded by our loader, registered, and used — the name appears in
// tcp_available_congestion_control, a TCP connection on loopback in a fresh network namespace set to it
// (cc-conn.py, setsockopt TCP_CONGESTION) moves its data, and the programs run (run_cnt with
// kernel.bpf_stats_enabled; cc_link.o's own counters in .bss). After close nothing is left: the name, the
// programs, the maps and the link are gone from the kernel.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KernelObject, loadKernelObject } from '../../src/kernel/index.js';
import * as sys from '../../src/kernel/syscall.js';
import { loadCollection, readObject } from '../../src/node/root.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const path = (dir: string, file: string) => new URL(`../fixtures/${dir}/${file}`, import.meta.url).pathname;
const CONN = new URL('./cc-conn.py', import.meta.url).pathname;
const AVAILABLE = '/proc/sys/net/ipv4/tcp_available_congestion_control';
const STATS = '/proc/sys/kernel/bpf_stats_enabled';

const available = () => readFileSync(AVAILABLE, 'utf8').trim().split(/\s+/);
/** bpftool's JSON answer as a list (`show` lists; `show id N` gives one object). */
function bpftoolJson(args: string[]): Record<string, unknown>[] {
  const v = JSON.parse(execFileSync('bpftool', [...args, '--json'], { encoding: 'utf8' }));
  return Array.isArray(v) ? v : [v];
}
const ids = (what: 'prog' | 'map' | 'link') =>
  new Set(bpftoolJson([what, 'show']).map((x) => x.id as number));

/** The kernel ids of what an object holds (its programs and maps), to check they are gone after close. */
function heldIds(obj: KernelObject): { prog: number[]; map: number[] } {
  return {
    prog: [...obj.programs.values()].map((p) => sys.progInfo(p.fd).id),
    map: [...obj.maps.values()].map((m) => sys.mapInfo(m.fd).id),
  };
}

/** None of `held`'s programs, maps and links exists any more (polled: freed after an RCU grace period). */
async function allGone(held: { prog: number[]; map: number[]; link?: number }): Promise<string[]> {
  const left = () => {
    const [p, m, l] = [ids('prog'), ids('map'), ids('link')];
    return [
      ...held.prog.filter((id) => p.has(id)).map((id) => `prog ${id}`),
      ...held.map.filter((id) => m.has(id)).map((id) => `map ${id}`),
      ...(held.link !== undefined && l.has(held.link) ? [`link ${held.link}`] : []),
    ];
  };
  await eventually(() => left().length === 0);
  return left();
}

/** Waits (bounded: 5 s) until `done()`; the kernel frees struct_ops objects after an RCU grace period. */
async function eventually(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return done();
}

/** One connection in a fresh network namespace using congestion control `cc`: what it reports and moved. */
function connect(cc: string, bytes: number): { cc: string; received: number } {
  const ns = `tsbpf-so-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const out = execFileSync('ip', ['netns', 'exec', ns, 'python3', CONN, cc, String(bytes)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return JSON.parse(out);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

describe.skipIf(!oracle)('struct_ops through the kernel back end', () => {
  let stats = '0';
  beforeAll(() => {
    stats = readFileSync(STATS, 'utf8').trim();
    writeFileSync(STATS, '1');
  });
  afterAll(() => writeFileSync(STATS, stats));

  it('every program of tcp_cc.o loads as libbpf loads it (attach_btf_id, member index)', () => {
    const spec = readObject(new Uint8Array(readFileSync(path('corpus', 'tcp_cc.o'))), { file: 'tcp_cc.o' });
    for (const p of spec.programs) loadCollection(spec, { backend: 'kernel', programs: [p.name] }).close();
  });

  it('tcp_cc.o (.struct_ops): registered by the map update, used by a connection, gone after close', async () => {
    const obj = loadKernelObject(path('corpus', 'tcp_cc.o'));
    const held = heldIds(obj);
    const progIds = held.prog;
    const link = obj.attachStructOps('corpus_reno');
    try {
      expect(link.linkFd).toBeUndefined();
      expect(available()).toContain('corpus_reno');
      const r = connect('corpus_reno', 8 << 20);
      expect(r).toEqual({ cc: 'corpus_reno', received: 8 << 20 });
      // init runs once per connection; ssthresh/cong_avoid as the window grows (run_cnt of each program).
      const runs = Object.fromEntries(
        progIds.map((id) => {
          const [p] = bpftoolJson(['prog', 'show', 'id', String(id)]);
          return [p!.name as string, (p!.run_cnt as number | undefined) ?? 0];
        }),
      );
      console.log(`[struct_ops] tcp_cc.o over one 8 MiB connection: run_cnt ${JSON.stringify(runs)}`);
      expect(runs.reno_init).toBeGreaterThanOrEqual(1);
      expect(runs.reno_cong_avoid).toBeGreaterThan(0);
    } finally {
      link.close();
      obj.close();
    }
    expect(available()).not.toContain('corpus_reno');
    expect(await allGone(held)).toEqual([]);
  });

  it('cc_link.o (.struct_ops.link): registered by a BPF link, its own counters count the calls', async () => {
    const obj = loadKernelObject(path('struct-ops', 'cc_link.o'));
    const link = obj.attachStructOps('tsbpf_lk');
    const held = { ...heldIds(obj), link: linkId(link.linkFd!) };
    try {
      expect(link.linkFd).toBeGreaterThan(0);
      expect(link.info()).toMatchObject({ kind: 'struct_ops', target: 'tcp_congestion_ops tsbpf_lk' });
      const [l] = bpftoolJson(['link', 'show', 'id', String(held.link)]);
      expect(l?.type).toBe('struct_ops');
      expect(available()).toContain('tsbpf_lk');
      expect(connect('tsbpf_lk', 4 << 20)).toEqual({ cc: 'tsbpf_lk', received: 4 << 20 });
      const bss = obj.typedMap('.bss').get(0) as Record<string, bigint>;
      console.log(
        `[struct_ops] cc_link.o over one 4 MiB connection: ${JSON.stringify(bss, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
      );
      expect(bss.calls_init).toBeGreaterThanOrEqual(1n);
      expect(bss.calls_cong_avoid).toBeGreaterThan(0n);
    } finally {
      link.close();
      obj.close();
    }
    expect(available()).not.toContain('tsbpf_lk');
    expect(await allGone(held)).toEqual([]);
  });

  it('shared.o: two maps sharing programs register side by side, each with its name', async () => {
    const obj = loadKernelObject(path('struct-ops', 'shared.o'));
    const held = heldIds(obj);
    const links = [obj.attachStructOps('tsbpf_sh1'), obj.attachStructOps('tsbpf_sh2')];
    try {
      expect(available()).toEqual(expect.arrayContaining(['tsbpf_sh1', 'tsbpf_sh2']));
      expect(connect('tsbpf_sh2', 1 << 20)).toEqual({ cc: 'tsbpf_sh2', received: 1 << 20 });
      links[0]!.close();
      expect(available()).not.toContain('tsbpf_sh1');
      expect(available()).toContain('tsbpf_sh2');
    } finally {
      for (const l of links) l.close();
      obj.close();
    }
    expect(available()).not.toContain('tsbpf_sh2');
    expect(await allGone(held)).toEqual([]);
  });

  it('closing the object unregisters what its map update registered, the Link left open', async () => {
    const obj = loadKernelObject(path('corpus', 'tcp_cc.o'));
    const held = heldIds(obj);
    obj.attachStructOps('corpus_reno');
    expect(available()).toContain('corpus_reno');
    obj.close();
    expect(available()).not.toContain('corpus_reno');
    expect(await allGone(held)).toEqual([]);
  });

  it('a struct the kernel has no struct_ops type for fails the load naming the map', () => {
    expect(() => loadKernelObject(path('struct-ops', 'unknown_struct.o'))).toThrow(
      'struct_ops map tsbpf_unknown: the kernel has no struct_ops type tsbpf_ops (no struct bpf_struct_ops_tsbpf_ops in its BTF)',
    );
  });
});

/** The kernel's id of the link behind `fd` (bpftool lists links by id). */
function linkId(fd: number): number {
  const fdinfo = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  return Number(/link_id:\s*(\d+)/.exec(fdinfo)?.[1] ?? -1);
}
