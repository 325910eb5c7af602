// Tracing attachments on the running kernel: attach, trigger from this process, see the count, detach,
// and nothing left (checked through the kernel).

import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../../src/kernel/index.js';
import type { Link } from '../../../src/spec/link.js';
import { kernelOracle } from '../../support/kernel.js';
import {
  ATTACH_O,
  buildProbeTarget,
  callGetpgid,
  count,
  ensureTracefs,
  exists,
  type Ids,
  leftovers,
  loadFixture,
  Slot,
  targetThisProcess,
} from './support.js';

const oracle = kernelOracle();

// Links a failing test left open are closed after it, so one failure does not leave programs attached.
const open: Link[] = [];
afterEach(() => {
  for (const l of open.splice(0)) {
    try {
      void l.close();
    } catch {
      /* already closed by the test */
    }
  }
});
/** Note a link for the safety net, and return it. */
const keep = <L extends Link>(l: L): L => {
  open.push(l);
  return l;
};

describe.skipIf(!oracle)('tracepoints and raw tracepoints', () => {
  let obj: k.KernelObject;
  let ids: Ids;
  beforeAll(() => {
    ensureTracefs();
    ({ obj, ids } = loadFixture(['tp_getpgid', 'raw_sys_enter']));
    targetThisProcess(obj);
  });
  afterAll(async () => {
    obj?.close();
    expect(await leftovers(ids)).toEqual([]);
  });

  it('tracepoint syscalls/sys_enter_getpgid counts each call while attached, none after close', () => {
    const link = keep(
      obj
        .program('tp_getpgid')
        .attach({ kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_getpgid' }),
    );
    ids.link.push((link as k.BpfLink).id);
    expect(link.info()).toEqual({
      kind: 'tracepoint',
      program: 'tp_getpgid',
      target: 'syscalls/sys_enter_getpgid',
      backend: 'kernel',
    });
    callGetpgid(25);
    expect(count(obj, Slot.TP)).toBe(25n);
    link.close();
    callGetpgid(5);
    expect(count(obj, Slot.TP)).toBe(25n);
  });

  it('detach() of a perf link (which BPF_LINK_DETACH cannot detach) releases it', () => {
    const before = count(obj, Slot.TP);
    const link = keep(obj.program('tp_getpgid').attach());
    callGetpgid(3);
    link.detach();
    callGetpgid(4);
    expect(count(obj, Slot.TP) - before).toBe(3n);
    link.close();
  });

  it('raw tracepoint sys_enter counts the same calls', () => {
    const before = count(obj, Slot.RAW_TP);
    const link = keep(obj.program('raw_sys_enter').attach());
    ids.link.push((link as k.BpfLink).id);
    expect(link.info().target).toBe('sys_enter');
    callGetpgid(17);
    expect(count(obj, Slot.RAW_TP) - before).toBe(17n);
    link.close();
    callGetpgid(3);
    expect(count(obj, Slot.RAW_TP) - before).toBe(17n);
  });
});

describe.skipIf(!oracle)('tracepoints the older way, and pinned links', () => {
  it('tracepoint through PERF_EVENT_IOC_SET_BPF (kernels before perf links) counts the same; it cannot be pinned', async () => {
    ensureTracefs();
    const { obj, ids } = loadFixture(['tp_getpgid']);
    try {
      targetThisProcess(obj);
      const link = keep(
        obj
          .program('tp_getpgid')
          .attach({ kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_getpgid', ioctl: true }),
      );
      expect(link).toBeInstanceOf(k.HookLink);
      callGetpgid(11);
      expect(count(obj, Slot.TP)).toBe(11n);
      expect(() => link.pin('/sys/fs/bpf/none')).toThrow(/cannot be pinned/);
      link.close();
      callGetpgid(2);
      expect(count(obj, Slot.TP)).toBe(11n);
    } finally {
      obj.close();
    }
    expect(await leftovers(ids)).toEqual([]);
  });

  it('a pinned link outlives every fd this process had; removing the pin detaches it', async () => {
    ensureTracefs();
    const dir = `/sys/fs/bpf/tsbpf-attach-${process.pid}`;
    mkdirSync(dir);
    const { obj, ids } = loadFixture(['tp_getpgid']);
    let linkId = 0;
    try {
      targetThisProcess(obj);
      obj.maps.get('counts')!.pin(`${dir}/counts`);
      const link = keep(obj.program('tp_getpgid').attach() as k.BpfLink);
      linkId = link.id;
      ids.link.push(linkId);
      link.pin(`${dir}/link`);
      link.close();
      obj.close();
      // No fd of ours refers to the link, its program or its maps now: only the pins keep them.
      expect(exists('link', linkId)).toBe(true);
      callGetpgid(4);
      const value = JSON.parse(
        execFileSync('bpftool', [
          '-j',
          'map',
          'lookup',
          'pinned',
          `${dir}/counts`,
          'key',
          '0',
          '0',
          '0',
          '0',
        ]).toString(),
      ) as { value: string[] };
      expect(Number.parseInt(value.value[0]!, 16)).toBe(4);
      const again = k.openPinnedLink(`${dir}/link`);
      expect(again.id).toBe(linkId);
      expect(again.programId).toBe(ids.prog[0]);
      again.close(); // our fd only: the pin stays
      expect(execFileSync('bpftool', ['link', 'show', 'pinned', `${dir}/link`]).toString()).toMatch(
        new RegExp(`^${linkId}: `),
      );
    } finally {
      obj.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await leftovers(ids)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

describe.skipIf(!oracle)('a link pinned by another process', () => {
  const DIST = new URL('../../../dist/kernel/index.js', import.meta.url).pathname;

  it('outlives the process that made it: still attached and counting after it exited; removing the pins ends it', async () => {
    expect(existsSync(DIST), `${DIST} is missing: run \`npm run build\` first`).toBe(true);
    ensureTracefs();
    const dir = `/sys/fs/bpf/tsbpf-attach-child-${process.pid}`;
    mkdirSync(dir);
    try {
      // The child loads the fixture, counts this (the parent) process's getpgid calls, pins the link and
      // the counts map, and exits without closing anything.
      const script = `
        const k = await import(${JSON.stringify(DIST)});
        const obj = k.loadKernelObject(${JSON.stringify(ATTACH_O)}, { programs: ['tp_getpgid'] });
        obj.setGlobal('target_tgid', ${process.pid});
        obj.maps.get('counts').pin(${JSON.stringify(`${dir}/counts`)});
        const link = obj.program('tp_getpgid').attach();
        link.pin(${JSON.stringify(`${dir}/link`)});
        console.log(JSON.stringify({
          link: link.id,
          prog: [k.progInfo(obj.program('tp_getpgid').fd).id],
          map: [...obj.maps.values()].map((m) => k.mapInfo(m.fd).id),
        }));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script]).toString();
      const made = JSON.parse(out) as { link: number; prog: number[]; map: number[] };
      expect(exists('link', made.link)).toBe(true);
      callGetpgid(6);
      const value = JSON.parse(
        execFileSync('bpftool', [
          '-j',
          'map',
          'lookup',
          'pinned',
          `${dir}/counts`,
          'key',
          '0',
          '0',
          '0',
          '0',
        ]).toString(),
      ) as { value: string[] };
      expect(Number.parseInt(value.value[0]!, 16)).toBe(6);
      rmSync(dir, { recursive: true, force: true });
      expect(await leftovers({ link: [made.link], prog: made.prog, map: made.map })).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!oracle)('uprobes and uretprobes', () => {
  let obj: k.KernelObject;
  let ids: Ids;
  let dir: string;
  let binary: string;
  beforeAll(() => {
    dir = mkdtempSync(`${tmpdir()}/tsbpf-uprobe-`);
    binary = buildProbeTarget(dir);
    ({ obj, ids } = loadFixture(['on_call', 'on_return', 'on_multi']));
  });
  afterAll(async () => {
    obj?.close();
    rmSync(dir, { recursive: true, force: true });
    expect(await leftovers(ids)).toEqual([]);
  });
  const delta = (slot: number, f: () => void) => {
    const before = count(obj, slot);
    f();
    return count(obj, slot) - before;
  };
  const track = (l: Link) => {
    keep(l);
    ids.link.push((l as k.BpfLink).id);
    return l;
  };

  it('finds a function in a binary where nm does (address, and file offset from the section)', () => {
    const nm = execFileSync('nm', [binary]).toString();
    const addr = BigInt(`0x${/^([0-9a-f]+) T tsbpf_probe_target$/m.exec(nm)![1]}`);
    const sym = k.symbolOffset(binary, 'tsbpf_probe_target');
    expect(sym.address).toBe(addr);
    // readelf: the .text section's address and offset give the file offset.
    const text = /\.text\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(
      execFileSync('readelf', ['-SW', binary]).toString(),
    )!;
    expect(sym.fileOffset).toBe(Number(addr - BigInt(`0x${text[1]}`)) + Number.parseInt(text[2]!, 16));
    expect(() => k.symbolOffset(binary, 'no_such_function')).toThrow(
      /probe_target: no function no_such_function/,
    );
  });

  it('uprobe and uretprobe by path and symbol count each call of a child process, none after close', () => {
    const call = track(
      obj.program('on_call').attach({ kind: 'uprobe', binary, symbol: 'tsbpf_probe_target' }),
    );
    const ret = track(
      obj
        .program('on_return')
        .attach({ kind: 'uprobe', binary, symbol: 'tsbpf_probe_target', retprobe: true }),
    );
    expect(call.info()).toMatchObject({ kind: 'uprobe', target: `${binary}:tsbpf_probe_target` });
    expect(ret.info().kind).toBe('uretprobe');
    const calls = delta(Slot.UPROBE, () => execFileSync(binary, ['7']));
    expect(calls).toBe(7n);
    expect(count(obj, Slot.URETPROBE)).toBe(7n);
    call.close();
    ret.close();
    expect(delta(Slot.UPROBE, () => execFileSync(binary, ['3']))).toBe(0n);
  });

  it('uprobe by file offset, and from the section name (uprobe/PATH:SYMBOL)', () => {
    const off = k.symbolOffset(binary, 'tsbpf_probe_target').fileOffset;
    const byOffset = track(obj.program('on_call').attach({ kind: 'uprobe', binary, offset: off }));
    expect(delta(Slot.UPROBE, () => execFileSync(binary, ['4']))).toBe(4n);
    byOffset.close();
    // The same program as if its section were uprobe/PATH:SYMBOL (libbpf's auto-attach form).
    const p = obj.program('on_call');
    const named = {
      fd: p.fd,
      name: p.name,
      spec: { ...p.spec, section: `uprobe/${binary}:tsbpf_probe_target` },
    };
    const auto = track(k.attachProgram(named, k.autoTarget(named)));
    expect(delta(Slot.UPROBE, () => execFileSync(binary, ['5']))).toBe(5n);
    auto.close();
  });

  it('uprobe on a shared library this process maps (libc.so.6:getpgid), for this process only', () => {
    const link = track(
      obj
        .program('on_call')
        .attach({ kind: 'uprobe', binary: 'libc.so.6', symbol: 'getpgid', pid: process.pid }),
    );
    expect(link.info().target).toMatch(/\/libc\.so\.6:getpgid$/);
    expect(delta(Slot.UPROBE, () => callGetpgid(9))).toBe(9n);
    link.close();
    expect(delta(Slot.UPROBE, () => callGetpgid(2))).toBe(0n);
  });

  it("uprobe on Node's own binary (uv_loadavg, called by os.loadavg)", () => {
    const link = track(
      obj
        .program('on_call')
        .attach({ kind: 'uprobe', binary: process.execPath, symbol: 'uv_loadavg', pid: process.pid }),
    );
    expect(
      delta(Slot.UPROBE, () => {
        for (let i = 0; i < 6; i++) loadavg();
      }),
    ).toBe(6n);
    link.close();
  });

  it('uprobe.multi: one link over named functions, over a pattern, and as a return probe', () => {
    const p = obj.program('on_multi');
    const named = track(p.attach({ kind: 'uprobe_multi', binary, symbols: ['tsbpf_probe_target', 'main'] }));
    expect(named.info()).toMatchObject({ kind: 'uprobe.multi', target: `${binary}:tsbpf_probe_target,main` });
    // main once, tsbpf_probe_target 6 times
    expect(delta(Slot.UPROBE_MULTI, () => execFileSync(binary, ['6']))).toBe(7n);
    named.close();
    expect(k.matchingSymbols(binary, 'tsbpf_probe_*').map((s) => s.name)).toEqual(['tsbpf_probe_target']);
    const pattern = track(p.attach({ binary, symbol: 'tsbpf_probe_*' })); // SEC("uprobe.multi") + options
    expect(delta(Slot.UPROBE_MULTI, () => execFileSync(binary, ['3']))).toBe(3n);
    pattern.close();
    const ret = track(p.attach({ kind: 'uprobe_multi', binary, symbols: 'main', retprobe: true }));
    expect(ret.info().kind).toBe('uretprobe.multi');
    expect(delta(Slot.UPROBE_MULTI, () => execFileSync(binary, ['3']))).toBe(1n);
    ret.close();
    expect(delta(Slot.UPROBE_MULTI, () => execFileSync(binary, ['3']))).toBe(0n);
    expect(() => p.attach({ kind: 'uprobe_multi', binary, symbols: 'nothing_*' })).toThrow(
      /no function matches nothing_\*/,
    );
  });

  it('names what is missing: no symbol, no binary, a stripped name', () => {
    const p = obj.program('on_call');
    expect(() => p.attach()).toThrow(
      /program on_call \(section uprobe\): cannot attach automatically: needs a binary and a function/,
    );
    expect(() => p.attach({ kind: 'uprobe', binary })).toThrow(/needs a symbol or an offset/);
    expect(() => p.attach({ kind: 'uprobe', binary: 'libtsbpf-none.so.1', symbol: 'f' })).toThrow(
      /library libtsbpf-none\.so\.1 is not mapped/,
    );
  });
});

describe.skipIf(!oracle)('perf events and kprobes', () => {
  let obj: k.KernelObject;
  let ids: Ids;
  beforeAll(() => {
    ({ obj, ids } = loadFixture(['on_sample', 'kp_open', 'krp_open', 'kp_multi']));
    targetThisProcess(obj);
  });
  afterAll(async () => {
    obj?.close();
    expect(await leftovers(ids)).toEqual([]);
  });

  it('perf_event: cpu-clock sampling on every CPU runs the program, and stops when closed', async () => {
    const link = keep(obj.program('on_sample').attach({ cpu: 'all', frequency: 1000 }));
    expect(link.info()).toMatchObject({ kind: 'perf_event', target: 'cpu-clock on all CPUs' });
    const end = Date.now() + 150;
    while (Date.now() < end) {
      /* keep this CPU busy */
    }
    await new Promise((r) => setTimeout(r, 50));
    const sampled = count(obj, Slot.PERF);
    expect(sampled).toBeGreaterThan(10n);
    link.close();
    await new Promise((r) => setTimeout(r, 50));
    const after = count(obj, Slot.PERF);
    await new Promise((r) => setTimeout(r, 100));
    expect(count(obj, Slot.PERF)).toBe(after);
  });

  it('perf_event on one CPU through the explicit target; a missing CPU is named', () => {
    const link = keep(
      obj.program('on_sample').attach({ kind: 'perf_event', cpu: 0, event: 'task-clock', period: 100000 }),
    );
    ids.link.push((link as k.BpfLink).id);
    expect(link.info().target).toBe('task-clock on CPU 0');
    link.close();
    expect(() => obj.program('on_sample').attach()).toThrow(
      /program on_sample \(section perf_event\): cannot attach automatically: needs a CPU to sample on/,
    );
    expect(() => obj.program('on_sample').attach({ kind: 'perf_event', cpu: 0, event: 'bogus' })).toThrow(
      /unknown perf event bogus/,
    );
  });

  it('kprobe and kretprobe from their sections: attach, trigger, count — or not runnable here', (ctx) => {
    if (!existsSync('/sys/bus/event_source/devices/kprobe')) {
      // This kernel has no kprobes: the attach fails with one line naming what is missing.
      for (const name of ['kp_open', 'krp_open']) {
        expect(() => obj.program(name).attach()).toThrow(
          /^perf_event_open: this kernel has no kprobes \(no \/sys\/bus\/event_source\/devices\/kprobe: built without CONFIG_KPROBES\)$/,
        );
        expect(() => obj.program(name).attach()).toThrow(k.KernelFeatureError);
      }
      ctx.skip('not runnable here: this kernel has no kprobes (CONFIG_KPROBES unset)');
    }
    const links = [keep(obj.program('kp_open').attach()), keep(obj.program('krp_open').attach())];
    for (let i = 0; i < 5; i++) closeSync(openSync('/dev/null', 'r'));
    expect(count(obj, Slot.KPROBE)).toBeGreaterThanOrEqual(5n);
    expect(count(obj, Slot.KRETPROBE)).toBeGreaterThanOrEqual(5n);
    for (const l of links) l.close();
  });

  it('kprobe.multi from its section: attach, trigger, count — or not runnable here', (ctx) => {
    let link: Link;
    try {
      link = keep(obj.program('kp_multi').attach());
    } catch (e) {
      // This kernel has no fprobe: one line naming it.
      expect(e).toBeInstanceOf(k.KernelFeatureError);
      expect((e as Error).message).toBe(
        'BPF_LINK_CREATE: this kernel cannot attach kprobe.multi programs: no fprobe (built without CONFIG_FPROBE)',
      );
      ctx.skip(`not runnable here: ${(e as Error).message}`);
    }
    for (let i = 0; i < 5; i++) closeSync(openSync('/dev/null', 'r'));
    expect(count(obj, Slot.KPROBE_MULTI)).toBeGreaterThanOrEqual(5n);
    link!.close();
  });
});

describe.skipIf(!oracle)('trampolines: fentry, fexit, lsm', () => {
  it('attach, trigger, count — or not runnable here, with the reason', async (ctx) => {
    await import('../../../src/node/core-target.js'); // vmlinux BTF for the attach targets
    let obj: k.KernelObject;
    try {
      obj = k.loadKernelObject(new URL('../../fixtures/attach/tracing.o', import.meta.url).pathname);
    } catch (e) {
      // This kernel refuses the programs themselves (EPERM to root): the error says why, in one line.
      expect(e).toBeInstanceOf(k.KernelFeatureError);
      expect((e as Error).message).toBe(
        'BPF_PROG_LOAD: this kernel cannot load fentry programs: no BPF trampolines (program fentry_open; the kernel refuses it to root with EPERM)',
      );
      ctx.skip(`not runnable here: ${(e as Error).message}`);
    }
    const ids = { prog: [...obj!.programs.values()].map((p) => k.progInfo(p.fd).id), map: [], link: [] };
    try {
      obj!.setGlobal('target_tgid', process.pid);
      let links: Link[];
      try {
        links = obj!.attachAll().map(keep);
      } catch (e) {
        expect(e).toBeInstanceOf(k.KernelFeatureError);
        expect((e as Error).message).toMatch(/this kernel cannot attach fentry programs: no BPF trampolines/);
        ctx.skip(`not runnable here: ${(e as Error).message}`);
      }
      for (let i = 0; i < 5; i++) closeSync(openSync('/dev/null', 'r'));
      const key = (n: number) => new Uint8Array([n, 0, 0, 0]);
      for (const slot of [0, 1, 2])
        expect(
          new DataView(obj!.map('counts').lookup(key(slot))!.buffer).getBigUint64(0, true),
        ).toBeGreaterThanOrEqual(5n);
      for (const l of links!) l.close();
    } finally {
      obj!.close();
      expect(await leftovers(ids)).toEqual([]);
    }
  });
});
