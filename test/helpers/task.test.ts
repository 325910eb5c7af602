// The modelled task_struct: its layout from a BTF (the running kernel's gives the default layout), and the
// fixture test/fixtures/helpers/task.c, which follows task_struct and cred pointers with probe_read_kernel at
// offsets taken from the kernel's BTF, run by the kernel (BPF_PROG_TEST_RUN of a raw tracepoint: the current
// task is this process) and by both engines on a task model of this process: the same values.

import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../../src/btf/index.js';
import { setGlobal } from '../../src/collection/globals.js';
import { loadCollection } from '../../src/collection/load.js';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { ENGINES } from '../../src/engine/runner.js';
import { DEFAULT_TASK_LAYOUT, taskLayout } from '../../src/helpers/task-model.js';
import type { TaskLayout } from '../../src/helpers/types.js';
import '../../src/kernel/register.js';
import type { KernelProgram } from '../../src/kernel/index.js';
import type { ObjectSpec } from '../../src/spec/object.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const VMLINUX = '/sys/kernel/btf/vmlinux';
const FIXTURE = join(__dirname, '../fixtures/helpers/task.o');
/** The kernel the default layout was taken from. */
const REFERENCE_RELEASE = '6.18.44';

const kernelLayout = (): TaskLayout => taskLayout(parseBtf(readFileSync(VMLINUX)))!;

describe('task_struct layout', () => {
  it.runIf(existsSync(VMLINUX))("the running kernel's BTF gives every modelled field", () => {
    const l = kernelLayout();
    expect(Object.keys(l.task).sort()).toEqual(Object.keys(DEFAULT_TASK_LAYOUT.task).sort());
    expect(Object.keys(l.cred).sort()).toEqual(Object.keys(DEFAULT_TASK_LAYOUT.cred).sort());
    expect(l.task.comm?.size).toBe(16);
    if (release().startsWith(REFERENCE_RELEASE)) expect(l).toEqual(DEFAULT_TASK_LAYOUT);
    else console.log(`[task layout] kernel ${release()} is not ${REFERENCE_RELEASE}: default not compared`);
  });
});

interface Seen {
  pid: number;
  tgid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  same: number[];
  comm: string;
  currentComm: string;
}

function decode(v: Uint8Array): Seen {
  const d = new DataView(v.buffer, v.byteOffset);
  const u = (i: number) => d.getUint32(4 * i, true);
  const text = (at: number) => {
    const b = Buffer.from(v.subarray(at, at + 16));
    return b.subarray(0, b.indexOf(0)).toString('latin1');
  };
  return {
    pid: u(0),
    tgid: u(1),
    ppid: u(2),
    uid: u(3),
    gid: u(4),
    euid: u(5),
    same: [u(6), u(7)],
    comm: text(32),
    currentComm: text(48),
  };
}

function fixture(layout: TaskLayout, useBtf: boolean): ObjectSpec {
  const spec = readObject(readFileSync(FIXTURE));
  const set = (name: string, v: number | undefined) => setGlobal(spec, name, v ?? 0);
  set('pid_off', layout.task.pid?.offset);
  set('tgid_off', layout.task.tgid?.offset);
  set('comm_off', layout.task.comm?.offset);
  set('parent_off', layout.task.real_parent?.offset);
  set('cred_off', layout.task.cred?.offset);
  set('uid_off', layout.cred.uid?.offset);
  set('gid_off', layout.cred.gid?.offset);
  set('euid_off', layout.cred.euid?.offset);
  set('use_btf', useBtf ? 1 : 0);
  return spec;
}

const comm = () => readFileSync('/proc/self/comm', 'latin1').trim();

describe.runIf(oracle)('the current task through probe_read_kernel: the kernel and both engines', () => {
  it.each([false, true])('get_current_task (the _btf form: %s)', (useBtf) => {
    const layout = kernelLayout();
    const k = loadCollection(fixture(layout, useBtf), { backend: 'kernel' });
    let kernel: Seen;
    try {
      // A raw tracepoint's test run takes its arguments in, and gives no ctx out and no repeat.
      const r = (k.program('read_task') as KernelProgram).run({
        dataIn: new Uint8Array(0),
        ctxIn: new Uint8Array(16),
        ctxOutSize: 0,
        repeat: 0,
      });
      expect(r.retval).toBe(1);
      kernel = decode(k.map('out').lookup(new Uint8Array(4))!);
    } finally {
      k.close();
    }
    // The kernel's current task is this process's main thread.
    expect(kernel).toEqual({
      pid: process.pid,
      tgid: process.pid,
      ppid: process.ppid,
      uid: process.getuid!(),
      gid: process.getgid!(),
      euid: process.geteuid!(),
      same: [1, 1],
      comm: comm(),
      currentComm: comm(),
    });
    for (const engine of ENGINES) {
      const obj = loadObject(fixture(layout, useBtf), {
        runtimeOptions: {
          task: {
            pid: process.pid,
            tgid: process.pid,
            ppid: process.ppid,
            uid: process.getuid!(),
            gid: process.getgid!(),
            comm: comm(),
            layout,
          },
        },
      });
      const ctx = obj.runtime.space.allocate(16, 'ctx', 'raw_tp args', false).start;
      expect(obj.program('read_task').runner(engine).run(ctx, { ctx, programType: 'raw_tracepoint' })).toBe(
        1n,
      );
      expect(decode(obj.map('out').lookup(new Uint8Array(4))!), engine).toEqual(kernel);
    }
  });
});

describe('the default layout without a kernel', () => {
  it.each(ENGINES)('%s: the model at the default offsets', (engine) => {
    const obj = loadObject(fixture(DEFAULT_TASK_LAYOUT, false), {
      runtimeOptions: {
        task: { pid: 7, tgid: 5, ppid: 3, uid: 1000, gid: 100, comm: 'a-long-command-name' },
      },
    });
    const ctx = obj.runtime.space.allocate(16, 'ctx', 'raw_tp args', false).start;
    expect(obj.program('read_task').runner(engine).run(ctx, { ctx, programType: 'raw_tracepoint' })).toBe(1n);
    expect(decode(obj.map('out').lookup(new Uint8Array(4))!)).toEqual({
      pid: 7,
      tgid: 5,
      ppid: 3,
      uid: 1000,
      gid: 100,
      euid: 1000,
      same: [1, 1],
      comm: 'a-long-command-',
      currentComm: 'a-long-command-',
    });
  });
});
