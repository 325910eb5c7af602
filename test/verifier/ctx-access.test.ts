// Context access rules of every program type and expected attach type, both directions, against the kernel:
// for each view of a context (xdp and xdp_devmap, cgroup_sock_addr per hook …) every aligned load and store of
// 1, 2, 4 and 8 bytes from just before offset 0 to 8 bytes past the end is tried as a three-instruction program, loaded
// into the kernel (BPF_PROG_LOAD with the expected attach type) and verified by us. The verdicts must be equal:
// a field the kernel lets a program read we must accept, one it refuses we must refuse.

import { afterAll, describe, expect, it } from 'vitest';
import type { Insn } from '../../src/isa/index.js';
import * as kernel from '../../src/kernel/index.js';
import { attachTypeNumber, PROGRAM_ATTACH_TYPES } from '../../src/spec/attach-types.js';
import { programTypeFor } from '../../src/spec/program-types.js';
import { verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/** BPF_F_SLEEPABLE: syscall programs must be sleepable. */
const SLEEPABLE = 1 << 4;

const SIZE_CODE: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const ins = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/** `r2 = 0; r3 = *(size *)(r1 + off)` or `*(size *)(r1 + off) = r2`; `r0 = ret; exit`. */
function probe(off: number, size: number, write: boolean, ret: number): Insn[] {
  const access = write
    ? ins(0x03 | 0x60 | SIZE_CODE[size]!, 1, 2, off, 0)
    : ins(0x01 | 0x60 | SIZE_CODE[size]!, 3, 1, off, 0);
  return [ins(0xb7, 2, 0, 0, 0), access, ins(0xb7, 0, 0, 0, ret), ins(0x95, 0, 0, 0, 0)];
}

/** Every view: a program type and, where the type has them, each expected attach type it accepts. lirc_mode2
 * is not here: this kernel is built without it (BPF_PROG_LOAD says EINVAL for the type). */
const PLAIN = [
  'socket_filter',
  'sched_cls',
  'sched_act',
  'perf_event',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'sock_ops',
  'sk_skb',
  'cgroup_device',
  'sk_msg',
  'raw_tracepoint',
  'raw_tracepoint_writable',
  'flow_dissector',
  'cgroup_sysctl',
  'syscall',
];
const WITH_ATTACH = [
  'kprobe',
  'xdp',
  'cgroup_skb',
  'cgroup_sock',
  'cgroup_sock_addr',
  'cgroup_sockopt',
  'sk_lookup',
  'netfilter',
  'sk_reuseport',
];
const VIEWS: [string, string | undefined][] = [
  ...PLAIN.map((t): [string, undefined] => [t, undefined]),
  ['kprobe', undefined],
  ...WITH_ATTACH.flatMap((t) => PROGRAM_ATTACH_TYPES[t]!.allowed.map((a): [string, string] => [t, a])),
];

function kernelAccepts(type: number, insns: Insn[], attachType: string | undefined, flags: number): boolean {
  try {
    const { fd } = kernel.progLoad({
      type,
      insns,
      license: 'GPL',
      expectedAttachType: attachType === undefined ? 0 : attachTypeNumber(attachType)!,
      flags,
      logLevel: 1,
      logSize: 16 * 1024,
    });
    kernel.close(fd);
    return true;
  } catch (e) {
    if (e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError) return false;
    throw e;
  }
}

describe.runIf(oracle)('context access of every program type agrees with the kernel', () => {
  afterAll(() => {});
  for (const [name, attachType] of VIEWS) {
    it(`${name}${attachType ? ` (${attachType})` : ''}`, () => {
      const t = programTypeFor(name, attachType)!;
      expect(t, name).toBeDefined();
      const ret = t.ret ? t.ret.max : 0;
      const flags = name === 'syscall' ? SLEEPABLE : 0;
      // The program without the access must load, or the probes below say nothing.
      const base = [ins(0xb7, 0, 0, 0, ret), ins(0x95, 0, 0, 0, 0)];
      expect(kernelAccepts(t.kernel, base, attachType, flags), `${name} loads at all`).toBe(true);
      expect(verify({ insns: base, type: name, attachType }, { logLevel: 1 }).log).toMatch(/^accepted/);
      const end = name === 'syscall' ? 64 : t.ctx.size + 8;
      const mismatches: string[] = [];
      let accepted = 0;
      let tried = 0;
      const kernelMatrix: string[] = [];
      for (const write of [false, true]) {
        for (const size of [1, 2, 4, 8]) {
          // Before the start too; syscall's buffer also at the largest offset an instruction holds.
          const offs = Array.from({ length: Math.ceil(end / size) + 1 }, (_, i) => (i - 1) * size);
          if (name === 'syscall') offs.push(0x8000 - size);
          for (const off of offs) {
            const insns = probe(off, size, write, ret);
            const k = kernelAccepts(t.kernel, insns, attachType, flags);
            const ours = verify({ insns, type: name, attachType }, { logLevel: 1 });
            tried++;
            if (k) accepted++;
            if (k) kernelMatrix.push(`${write ? 'w' : 'r'}${size}@${off}`);
            if (k !== ours.accepted) {
              mismatches.push(
                `${write ? 'write' : 'read'} ${size}@${off}: kernel ${k ? 'accepts' : 'refuses'}, we ${ours.accepted ? 'accept' : `refuse (${ours.diagnostics[0]?.message})`}`,
              );
            }
          }
        }
      }
      if (process.env.CTX_DUMP === name)
        console.log(`DUMP ${name}/${attachType}\n${kernelMatrix.join('\n')}`);
      expect(mismatches).toEqual([]);
      // Each view has something readable and something refused: the probes reach both answers.
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThan(tried);
    });
  }
});

describe.runIf(oracle)('return values of every program type agree with the kernel', () => {
  for (const [name, attachType] of VIEWS) {
    const t = programTypeFor(name, attachType)!;
    it(`${name}${attachType ? ` (${attachType})` : ''}: ${t.ret ? `[${t.ret.min}, ${t.ret.max}]` : 'any'}`, () => {
      const flags = name === 'syscall' ? SLEEPABLE : 0;
      const values = t.ret ? [t.ret.min - 1, t.ret.min, t.ret.max, t.ret.max + 1] : [-1, 0, 1, 2, 3, 4];
      const mismatches = values.flatMap((r) => {
        const insns = [ins(0xb7, 0, 0, 0, r), ins(0x95, 0, 0, 0, 0)];
        const k = kernelAccepts(t.kernel, insns, attachType, flags);
        const ours = verify({ insns, type: name, attachType }, { logLevel: 0 }).accepted;
        return k === ours
          ? []
          : [`return ${r}: kernel ${k ? 'accepts' : 'refuses'}, we ${ours ? 'accept' : 'refuse'}`];
      });
      expect(mismatches).toEqual([]);
    });
  }
});

describe.runIf(oracle)('flow_dissector: the flow_keys buffer agrees with the kernel', () => {
  const t = programTypeFor('flow_dissector')!;
  // r2 = ctx->flow_keys; <body>; r0 = 0; exit
  const prog = (body: Insn[]) => [
    ins(0x79, 2, 1, 144, 0),
    ...body,
    ins(0xb7, 0, 0, 0, 0),
    ins(0x95, 0, 0, 0, 0),
  ];
  const cases: [string, Insn[]][] = [
    ['read u8 at 55', [ins(0x71, 3, 2, 55, 0)]],
    ['read u8 at 56', [ins(0x71, 3, 2, 56, 0)]],
    ['read u64 at 48', [ins(0x79, 3, 2, 48, 0)]],
    ['read u32 at 2 (misaligned)', [ins(0x61, 3, 2, 2, 0)]],
    ['write u16 at 0', [ins(0xb7, 3, 0, 0, 5), ins(0x6b, 2, 3, 0, 0)]],
    ['write u32 at 54', [ins(0xb7, 3, 0, 0, 5), ins(0x63, 2, 3, 54, 0)]],
    ['read at -1', [ins(0x71, 3, 2, -1, 0)]],
    ['pointer + 8, read u32 at 44', [ins(0x07, 2, 0, 0, 8), ins(0x61, 3, 2, 44, 0)]],
    // r4 = ctx->data_end (a number to bound), r4 &= 7, r2 += r4, *(u8 *)(r2 + 0)
    [
      'variable offset 0..7, read u8',
      [ins(0x61, 4, 1, 80, 0), ins(0x57, 4, 0, 0, 7), ins(0x0f, 2, 4, 0, 0), ins(0x71, 3, 2, 0, 0)],
    ],
    ['store the keys pointer into the keys', [ins(0x7b, 2, 2, 16, 0)]],
    ['atomic add at 48', [ins(0xb7, 3, 0, 0, 1), ins(0xdb, 2, 3, 48, 0)]],
  ];
  it(`${cases.length} accesses`, () => {
    const mismatches = cases.flatMap(([name, body]) => {
      const insns = prog(body);
      const k = kernelAccepts(t.kernel, insns, undefined, 0);
      const ours = verify({ insns, type: 'flow_dissector' }, { logLevel: 1 });
      return k === ours.accepted
        ? []
        : [`${name}: kernel ${k}, ours ${ours.accepted} ${ours.diagnostics[0]?.message ?? ''}`];
    });
    expect(mismatches).toEqual([]);
  });
});

describe.runIf(oracle)(
  'sockets from the context: every load and store through them agrees with the kernel',
  () => {
    // [program type, attach type, offset of the socket field]
    const sockets: [string, string | undefined, number][] = [
      ['sk_lookup', 'sk_lookup', 0],
      ['cgroup_sockopt', 'cgroup_getsockopt', 0],
      ['cgroup_sock_addr', 'cgroup_inet4_connect', 64],
      ['cgroup_skb', 'cgroup_inet_ingress', 168],
      ['sk_msg', undefined, 72],
      ['sock_ops', undefined, 184],
      ['sk_reuseport', 'sk_reuseport_select_or_migrate', 40],
      ['sk_reuseport', 'sk_reuseport_select_or_migrate', 48],
    ];
    for (const [name, attachType, field] of sockets) {
      it(`${name}${attachType ? ` (${attachType})` : ''}: the socket at offset ${field}`, () => {
        const t = programTypeFor(name, attachType)!;
        const ret = t.ret ? t.ret.max : 0;
        const mismatches: string[] = [];
        let accepted = 0;
        for (const write of [false, true]) {
          for (const size of [1, 2, 4, 8]) {
            for (let off = -8; off < 88; off += size) {
              // r2 = ctx->sk; if r2 == 0 goto out; access; out: r0 = ret; exit
              const access = write
                ? ins(0x03 | 0x60 | SIZE_CODE[size]!, 2, 4, off, 0)
                : ins(0x01 | 0x60 | SIZE_CODE[size]!, 3, 2, off, 0);
              const insns = [
                ins(0xb7, 4, 0, 0, 0),
                ins(0x79, 2, 1, field, 0),
                ins(0x15, 2, 0, 1, 0),
                access,
                ins(0xb7, 0, 0, 0, ret),
                ins(0x95, 0, 0, 0, 0),
              ];
              const k = kernelAccepts(t.kernel, insns, attachType, 0);
              const ours = verify({ insns, type: name, attachType }, { logLevel: 1 });
              if (k) accepted++;
              if (k !== ours.accepted)
                mismatches.push(
                  `${write ? 'write' : 'read'} ${size}@${off}: kernel ${k ? 'accepts' : 'refuses'}, we ${ours.accepted ? 'accept' : `refuse (${ours.diagnostics[0]?.message})`}`,
                );
            }
          }
        }
        expect(mismatches).toEqual([]);
        expect(accepted).toBeGreaterThan(10);
      });
    }
  },
);

describe.runIf(oracle)('raw_tracepoint_writable: the tracepoint buffer agrees with the kernel', () => {
  const t = programTypeFor('raw_tracepoint_writable')!;
  // r2 = ctx->args[0] (the buffer); <body>; r0 = 0; exit
  const prog = (body: Insn[]) => [
    ins(0x79, 2, 1, 0, 0),
    ...body,
    ins(0xb7, 0, 0, 0, 0),
    ins(0x95, 0, 0, 0, 0),
  ];
  const cases: [string, Insn[]][] = [
    ['read u64 at 0', [ins(0x79, 3, 2, 0, 0)]],
    ['write u32 at 100', [ins(0xb7, 3, 0, 0, 5), ins(0x63, 2, 3, 100, 0)]],
    ['write u8 at 4001', [ins(0xb7, 3, 0, 0, 5), ins(0x73, 2, 3, 4001, 0)]],
    ['read at -8', [ins(0x79, 3, 2, -8, 0)]],
    ['pointer + 16, read u32 at 0', [ins(0x07, 2, 0, 0, 16), ins(0x61, 3, 2, 0, 0)]],
    [
      'variable offset 0..7, read u8',
      [ins(0x79, 4, 1, 8, 0), ins(0x57, 4, 0, 0, 7), ins(0x0f, 2, 4, 0, 0), ins(0x71, 3, 2, 0, 0)],
    ],
    ['atomic add at 8', [ins(0xb7, 3, 0, 0, 1), ins(0xdb, 2, 3, 8, 0)]],
    ['read u32 of args[0] (narrow)', [ins(0x61, 3, 1, 0, 0)]],
  ];
  it(`${cases.length} accesses`, () => {
    const mismatches = cases.flatMap(([name, body]) => {
      const insns = prog(body);
      const k = kernelAccepts(t.kernel, insns, undefined, 0);
      const ours = verify({ insns, type: 'raw_tracepoint_writable' }, { logLevel: 1 });
      return k === ours.accepted
        ? []
        : [`${name}: kernel ${k}, ours ${ours.accepted} ${ours.diagnostics[0]?.message ?? ''}`];
    });
    expect(mismatches).toEqual([]);
  });
});
