// BPF iterators on the running kernel: iter/task and iter/bpf_map programs (test/fixtures/iter/iter.c)
// attached through BPF_LINK_CREATE (BPF_TRACE_ITER), walked through BPF_ITER_CREATE and through a pin in
// bpffs, their output checked against what this process knows (its pid, a map it made); then nothing left.
// Our verifier must accept the same programs.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCollection, readObject } from '../../../src/index.js';
import * as k from '../../../src/kernel/index.js';
import * as sys from '../../../src/kernel/syscall.js';
// The running kernel's BTF as the default target: iterator programs name their hook (bpf_iter_task) in it.
import '../../../src/node/core-target.js';
import { programAttachType } from '../../../src/spec/attach-types.js';
import type { Link } from '../../../src/spec/link.js';
import { kernelOracle } from '../../support/kernel.js';
import { type Ids, leftovers } from '../attach/support.js';

const ITER_O = new URL('../../fixtures/iter/iter.o', import.meta.url).pathname;
const oracle = kernelOracle();

const open: Link[] = [];
afterEach(() => {
  for (const l of open.splice(0)) {
    try {
      void l.close();
    } catch {
      /* closed by the test */
    }
  }
});
const keep = <L extends Link>(l: L): L => {
  open.push(l);
  return l;
};

describe('iterator programs in our verifier', () => {
  it('accepts iter/task, iter/bpf_map and iter/tcp (seq_printf, seq_write, nullable task/map)', () => {
    const spec = readObject(new Uint8Array(readFileSync(ITER_O)), { file: 'iter.o' });
    expect(spec.programs.map((p) => [p.name, p.type, programAttachType(p)])).toEqual([
      ['dump_task', 'tracing', 'trace_iter'],
      ['dump_map', 'tracing', 'trace_iter'],
      ['dump_tcp', 'tracing', 'trace_iter'],
    ]);
    for (const p of spec.programs)
      expect(() => loadCollection(spec, { backend: 'userspace', programs: [p.name] }).close()).not.toThrow();
  });

  it('auto-attach: iter sections give an iter target; a map-element iterator without a map is refused', () => {
    const prog = (section: string) => ({ fd: -1, name: 'p', spec: { section, type: 'tracing' } }) as never;
    expect(k.autoTarget(prog('iter/task'), { pid: 7 })).toEqual({ kind: 'iter', pid: 7 });
    expect(k.autoTarget(prog('iter/bpf_map'), { pid: 7 })).toEqual({ kind: 'iter' });
    expect(k.autoTarget(prog('iter/bpf_map_elem'), { map: 5 })).toEqual({ kind: 'iter', map: 5 });
    expect(() => k.autoTarget(prog('iter.s/bpf_map_elem'))).toThrow(/needs a map for iter\/bpf_map_elem/);
  });
});

describe('the iter command-line target form', () => {
  it('parses iter [map FD] [pid N | tid N] and refuses pid with tid', () => {
    expect(k.parseAttachTarget(['iter'])).toEqual({ kind: 'iter' });
    expect(k.parseAttachTarget(['iter', 'map', '7'])).toEqual({ kind: 'iter', map: 7 });
    expect(k.parseAttachTarget(['iter', 'pid', '42'])).toEqual({ kind: 'iter', pid: 42 });
    expect(k.parseAttachTarget(['iter', 'tid', '43'])).toEqual({ kind: 'iter', tid: 43 });
    expect(() => k.parseAttachTarget(['iter', 'pid', '1', 'tid', '2'])).toThrow(/pid or tid, not both/);
    expect(() => k.parseAttachTarget(['iter', 'map', 'x'])).toThrow(/map FD must be an integer/);
    expect(k.ATTACH_TARGET_FORMS).toContain('iter [map FD] [pid N | tid N]');
  });
});

describe.skipIf(!oracle)('iterators on the kernel', () => {
  let obj: k.KernelObject;
  const ids: Ids = { prog: [], map: [], link: [] };
  let mine = -1;
  let mineId = 0;
  beforeAll(() => {
    obj = k.loadKernelObject(ITER_O);
    ids.prog = [...obj.programs.values()].map((p) => k.progInfo(p.fd).id);
    ids.map = [...obj.maps.values()].map((m) => k.mapInfo(m.fd).id);
    mine = sys.mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 1, name: 'h14_iter_mine' });
    mineId = k.mapInfo(mine).id;
    ids.map.push(mineId);
  });
  afterAll(async () => {
    if (mine >= 0) sys.close(mine);
    obj?.close();
    expect(await leftovers(ids)).toEqual([]);
  });

  it('iter/task lists this process: a line "PID node"', () => {
    const link: k.IterLink = keep(obj.program('dump_task').attach({ kind: 'iter' }));
    ids.link.push(link.id);
    expect(link.info()).toEqual({ kind: 'iter', program: 'dump_task', target: 'task', backend: 'kernel' });
    const lines = link.read().split('\n');
    expect(lines).toContain(`${process.pid} node`);
    // Every task once per thread: more lines than this process has threads, all "NUMBER COMM".
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((l) => l && !/^\d+ \S/.test(l))).toEqual([]);
    // Each read is a fresh walk.
    expect(link.read().split('\n')).toContain(`${process.pid} node`);
    link.close();
  });

  it('iter/task narrowed to this pid (auto-attach with { pid }) lists only its threads', () => {
    const link = keep(obj.program('dump_task').attach({ pid: process.pid })) as k.IterLink;
    ids.link.push(link.id);
    const lines = link.read().split('\n').filter(Boolean);
    expect(lines).toContain(`${process.pid} node`);
    expect(lines.every((l) => l.startsWith(`${process.pid} `))).toBe(true);
    link.close();
  });

  it('iter/bpf_map lists a map this process made and its own, then "end" (seq_write)', () => {
    const link = keep(obj.program('dump_map').attach()) as k.IterLink;
    ids.link.push(link.id);
    const bytes = link.readBytes();
    const text = new TextDecoder().decode(bytes);
    const lines = text.split('\n');
    expect(lines).toContain(`${mineId} h14_iter_mine`);
    expect(lines).toContain(`${k.mapInfo(obj.map('iter_marker').fd).id} iter_marker`);
    expect(text.endsWith('end\n')).toBe(true);
    link.close();
  });

  it('iter/tcp lists a TCP port this process listens on', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const link = keep(obj.program('dump_tcp').attach()) as k.IterLink;
      ids.link.push(link.id);
      expect(link.read().split('\n')).toContain(`tcp ${port}`);
      link.close();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a pinned iterator link is a file in bpffs that cat walks', () => {
    const path = `/sys/fs/bpf/tsbpf_iter_test_${process.pid}`;
    const link: k.IterLink = keep(obj.program('dump_task').attach({ kind: 'iter' }));
    ids.link.push(link.id);
    try {
      link.pin(path);
      link.close();
      expect(readFileSync(path, 'utf8').split('\n')).toContain(`${process.pid} node`);
      expect(execFileSync('cat', [path]).toString().split('\n')).toContain(`${process.pid} node`);
    } finally {
      rmSync(path, { force: true });
    }
    expect(existsSync(path)).toBe(false);
  });

  it('the kernel refusing an iterator target (a task iterator given both tid and pid) is one clear error', () => {
    expect(() =>
      obj.program('dump_task').attach({ kind: 'iter', tid: process.pid, pid: process.pid }),
    ).toThrow(/BPF_LINK_CREATE.*invalid argument.*iterator task, program dump_task/);
  });

  it('a program that is not an iterator is refused before the kernel is asked', () => {
    const fake = { fd: -1, name: 'tp', spec: { section: 'tracepoint/a/b', type: 'tracepoint' } };
    expect(() => k.attachIter(fake as never)).toThrow(
      /program tp \(section tracepoint\/a\/b\) is not an iterator/,
    );
  });
});
