// struct_ops programs verified against the member they implement (src/verifier/btf-ctx.ts): arguments typed
// from the kernel's BTF member prototype (tcp_congestion_ops promotes `struct sock *` to `struct tcp_sock *`),
// the fields tcp_congestion_ops may write, a void member's program returning nothing, an int member's
// having to set R0, and the helpers the kernel gives it. Verdicts and reasons are the kernel's: each object
// is loaded by libbpf (bpftool prog loadall), which stops at the first program the kernel refuses.

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection, readObject } from '../../src/node/root.js';
import type { ObjectSpec } from '../../src/spec/object.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const path = (dir: string, file: string) => new URL(`../fixtures/${dir}/${file}`, import.meta.url).pathname;

/** tsbpf's verdict on each program of the object, each loaded alone in user space. */
function ours(dir: string, file: string): Map<string, string> {
  const spec = readObject(new Uint8Array(readFileSync(path(dir, file))), { file });
  const out = new Map<string, string>();
  for (const p of spec.programs) {
    try {
      loadCollection(spec, { programs: [p.name] }).close();
      out.set(p.name, 'accept');
    } catch (e) {
      out.set(p.name, `reject: ${(e as Error).message}`);
    }
  }
  return out;
}

/** libbpf's load: undefined when every program loaded, else the failing program and the log's reason. */
function kernel(dir: string, file: string): { program: string; reason: string } | undefined {
  const pins = `/sys/fs/bpf/tsbpf-structops-${process.pid}`;
  rmSync(pins, { recursive: true, force: true });
  try {
    execFileSync('bpftool', ['prog', 'loadall', path(dir, file), pins], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    const log = String((e as { stderr?: Buffer }).stderr ?? '').split('\n');
    const failed = log.map((l) => /prog '([^']+)': BPF program load failed/.exec(l)).find((m) => m);
    const end = log.findIndex((l) => l.includes('-- END PROG LOAD LOG --'));
    const reason = log
      .slice(0, end)
      .reverse()
      .find((l) => l.trim() && !/^(verification time|stack depth|processed \d+|\d+: )/.test(l));
    return { program: failed?.[1] ?? '?', reason: reason ?? '?' };
  } finally {
    rmSync(pins, { recursive: true, force: true });
  }
}

/** Per fixture: the program the kernel refuses, its reason, ours, and the programs both accept. */
const CASES: [string, string, { program: string; kernel: RegExp; ours: RegExp } | undefined, string[]][] = [
  ['corpus', 'tcp_cc.o', undefined, ['reno_init', 'reno_ssthresh', 'reno_cong_avoid', 'reno_undo_cwnd']],
  // bpf_ktime_get_coarse_ns: a tcp_congestion_ops helper beyond the base set.
  ['struct-ops', 'cc_helpers.o', undefined, ['hp_init', 'hp_release', 'hp_ssthresh', 'hp_undo', 'hp_avoid']],
  [
    'struct-ops',
    'reject_ret.o',
    // An int member must set R0; the void member init (loaded before it) may exit without.
    { program: 'noret_ssthresh', kernel: /^R0 !read_ok$/, ours: /R0 is read before it is written/ },
    ['noret_init', 'noret_undo', 'noret_avoid'],
  ],
  [
    'struct-ops',
    'reject_license.o',
    {
      program: 'li_ssthresh',
      kernel: /^struct ops programs must have a GPL compatible license$/,
      ours: /struct_ops programs must have a GPL-compatible licence \(this one's is 'Proprietary'\)/,
    },
    [],
  ],
  [
    'struct-ops',
    'reject_write.o',
    {
      program: 'wr_ssthresh',
      kernel: /^no write support to tcp_sock at off 1672$/,
      ours: /no write support to tcp_sock at off 1672/,
    },
    ['wr_undo', 'wr_avoid'],
  ],
  [
    'struct-ops',
    'reject_arg.o',
    {
      program: 'arg_ssthresh',
      kernel: /^invalid bpf_context access off=8 size=8$/,
      ours: /tcp_congestion_ops\.ssthresh has 1 argument slot \(arg1 does not exist\)/,
    },
    ['arg_undo', 'arg_avoid'],
  ],
  [
    'struct-ops',
    'reject_helper.o',
    {
      program: 'hl_ssthresh',
      kernel: /^program of this type cannot use helper bpf_get_retval#186$/,
      ours: /struct_ops programs cannot call helper get_retval \(#186\)/,
    },
    ['hl_undo', 'hl_avoid'],
  ],
];

describe('struct_ops verdicts', () => {
  it.each(CASES)('%s/%s: tsbpf refuses what the kernel refuses, for its reason', (dir, file, bad, good) => {
    const v = ours(dir, file);
    for (const name of good) expect(v.get(name), name).toBe('accept');
    if (bad) expect(v.get(bad.program)).toMatch(bad.ours);
    if (!oracle) return;
    const k = kernel(dir, file);
    if (!bad) expect(k).toBeUndefined();
    else {
      expect(k?.program).toBe(bad.program);
      expect(k?.reason.trim()).toMatch(bad.kernel);
    }
  });
});

/** Every program of each fixture loaded alone through tsbpf's kernel back end: the kernel verifier's verdict. */
function kernelEach(dir: string, file: string): Map<string, string> {
  const spec = readObject(new Uint8Array(readFileSync(path(dir, file))), { file });
  const out = new Map<string, string>();
  for (const p of spec.programs) {
    try {
      loadCollection(spec, { backend: 'kernel', programs: [p.name] }).close();
      out.set(p.name, 'accept');
    } catch (e) {
      out.set(p.name, `reject: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

// libbpf (bpftool's 1.1) stops at the first refusal and knows neither .struct_ops.link nor struct_ops.s/:
// here each program goes to the kernel alone, with the attach_btf_id, member index and flags our loader gives.
describe.skipIf(!oracle)('struct_ops verdicts, program by program, against the kernel', () => {
  it.each([
    ['corpus', 'tcp_cc.o'],
    ['struct-ops', 'cc_link.o'],
    ['struct-ops', 'cc_helpers.o'],
    ['struct-ops', 'sleepable.o'],
    ['struct-ops', 'reject_ret.o'],
    ['struct-ops', 'reject_license.o'],
    ['struct-ops', 'reject_write.o'],
    ['struct-ops', 'reject_arg.o'],
    ['struct-ops', 'reject_helper.o'],
  ])('%s/%s: every program accepted or refused as the kernel does', (dir, file) => {
    const k = kernelEach(dir, file);
    const v = ours(dir, file);
    const verdict = (x: string | undefined) => (x === 'accept' ? 'accept' : 'reject');
    expect(k.size).toBeGreaterThan(0);
    for (const [name, kv] of k) expect(`${name}: ${verdict(v.get(name))}`).toBe(`${name}: ${verdict(kv)}`);
  });
});

/** One hand-built struct_ops program implementing `target`: `r0 = 2; exit`, or `exit` alone. */
function handBuilt(target: string, setR0: boolean): ObjectSpec {
  const insns = [
    ...(setR0 ? [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 }] : []),
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  const p = {
    name: 'hand',
    section: 'struct_ops/hand',
    type: 'struct_ops',
    attachTo: target,
    insns,
    license: 'GPL',
  };
  return { programs: [p], maps: [], license: 'GPL' };
}

// Which struct.member a program may implement: a struct the kernel registered as a struct_ops type, a
// function-pointer member, and not one the struct keeps for itself (tcp_congestion_ops.get_info).
describe('struct_ops targets', () => {
  it.each([
    ['tcp_congestion_ops.ssthresh', true, 'accept'],
    ['tcp_congestion_ops.init', false, 'accept'],
    ['tcp_congestion_ops.ssthresh', false, /R0 is read before it is written/],
    ['tcp_congestion_ops.get_info', true, /does not let BPF implement tcp_congestion_ops\.get_info/],
    ['tcp_congestion_ops.name', true, /is not a function/],
    ['file_operations.read', true, /file_operations is not a struct_ops type of this kernel/],
    ['tsbpf_ops.op', true, /the kernel's BTF has no struct tsbpf_ops with a member op/],
  ])('%s (R0 set: %s): %s, as the kernel', (target, setR0, want) => {
    const spec = handBuilt(target, setR0);
    let v = 'accept';
    try {
      loadCollection(spec).close();
    } catch (e) {
      v = (e as Error).message;
    }
    if (want === 'accept') expect(v).toBe('accept');
    else expect(v).toMatch(want);
    if (!oracle) return;
    let k = 'accept';
    try {
      loadCollection(spec, { backend: 'kernel' }).close();
    } catch (e) {
      k = (e as Error).message;
    }
    expect(k === 'accept').toBe(want === 'accept');
  });
});
