// The bpf() syscall layer against the real kernel: maps, program load (and rejection with the log),
// test runs, pins, BTF and info queries.

import { mkdtempSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AluOp, Class, insn, JmpOp, Mode, Size, Source } from '../../src/isa/index.js';
import * as k from '../../src/kernel/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);

const MOV64_K = Class.ALU64 | AluOp.MOV | Source.K;
const EXIT = Class.JMP | JmpOp.EXIT;
/** r0 = value; exit */
const ret = (value: number) => [insn(MOV64_K, 0, 0, 0, value), insn(EXIT)];

describe.skipIf(!oracle)('bpf() syscall layer', () => {
  it('creates a hash map and looks up, updates, iterates and deletes', () => {
    const fd = k.mapCreate({ type: 1, keySize: 4, valueSize: 8, maxEntries: 8, name: 'tsbpf-test' });
    try {
      expect(k.mapLookup(fd, u32(1), 8)).toBeUndefined();
      k.mapUpdate(fd, u32(1), u64(0x1122334455667788n));
      k.mapUpdate(fd, u32(2), u64(7n));
      expect(k.mapLookup(fd, u32(1), 8)).toEqual(u64(0x1122334455667788n));
      expect(() => k.mapUpdate(fd, u32(2), u64(8n), 1 /* NOEXIST */)).toThrow(/EEXIST/);
      const keys: number[] = [];
      for (let key = k.mapNextKey(fd, undefined, 4); key; key = k.mapNextKey(fd, key, 4)) {
        keys.push(new DataView(key.buffer).getUint32(0, true));
      }
      expect(keys.sort()).toEqual([1, 2]);
      expect(k.mapDelete(fd, u32(1))).toBe(true);
      expect(k.mapDelete(fd, u32(1))).toBe(false);
      const info = k.mapInfo(fd);
      expect(info).toMatchObject({ type: 1, keySize: 4, valueSize: 8, maxEntries: 8, name: 'tsbpf_test' });
    } finally {
      k.close(fd);
    }
  });

  it('loads an XDP program, reads its info and test-runs it on a packet', () => {
    const prog = k.progLoad({
      type: k.ProgType.XDP,
      insns: ret(2),
      license: 'GPL',
      name: 'ret2',
      logLevel: 1,
    });
    try {
      expect(prog.log).toMatch(/processed \d+ insns/);
      const info = k.progInfo(prog.fd);
      expect(info.type).toBe(k.ProgType.XDP);
      expect(info.name).toBe('ret2');
      expect(info.xlatedLength).toBe(16);
      const packet = new Uint8Array(64).map((_, i) => i);
      const run = k.progTestRun(prog.fd, { data: packet, repeat: 3 });
      expect(run.retval).toBe(2);
      expect(run.data).toEqual(packet);
    } finally {
      k.close(prog.fd);
    }
  });

  it('a program that writes the packet: data_out carries the change', () => {
    // r2 = *(u32 *)(r1 + 0) ; r3 = *(u32 *)(r1 + 4) ; r4 = r2 ; r4 += 8 ; if r4 > r3 goto +2
    // *(u64 *)(r2 + 0) = 0x55 ; r0 = 2 ; exit   (fall-through target: r0 = 1 ; exit)
    const insns = [
      insn(Class.LDX | Mode.MEM | Size.W, 2, 1, 0, 0),
      insn(Class.LDX | Mode.MEM | Size.W, 3, 1, 4, 0),
      insn(Class.ALU64 | AluOp.MOV | Source.X, 4, 2),
      insn(Class.ALU64 | AluOp.ADD | Source.K, 4, 0, 0, 8),
      insn(Class.JMP | JmpOp.JGT | Source.X, 4, 3, 3),
      insn(Class.ST | Mode.MEM | Size.DW, 2, 0, 0, 0x55),
      ...ret(2),
      ...ret(1),
    ];
    const prog = k.progLoad({ type: k.ProgType.XDP, insns, license: 'GPL', name: 'write' });
    try {
      const run = k.progTestRun(prog.fd, { data: new Uint8Array(32).fill(0xee) });
      expect(run.retval).toBe(2);
      expect(Array.from(run.data.subarray(0, 9))).toEqual([0x55, 0, 0, 0, 0, 0, 0, 0, 0xee]);
    } finally {
      k.close(prog.fd);
    }
  });

  it('passes ctx_in and reads ctx_out (tc program, __sk_buff.mark in and priority out)', () => {
    // r2 = *(u32 *)(r1 + 8) (mark) ; *(u32 *)(r1 + 32) = r2 (priority = mark) ; r0 = r2 ; exit
    const insns = [
      insn(Class.LDX | Mode.MEM | Size.W, 2, 1, 8),
      insn(Class.STX | Mode.MEM | Size.W, 1, 2, 32),
      insn(Class.ALU64 | AluOp.MOV | Source.X, 0, 2),
      insn(EXIT),
    ];
    const prog = k.progLoad({ type: k.ProgType.SCHED_CLS, insns, license: 'GPL', name: 'mark' });
    try {
      const ctx = new Uint8Array(192); // struct __sk_buff
      new DataView(ctx.buffer).setUint32(8, 1234, true);
      const run = k.progTestRun(prog.fd, { data: new Uint8Array(64), ctx, repeat: 2 });
      expect(run.retval).toBe(1234);
      expect(run.ctx).toHaveLength(192);
      expect(new DataView(run.ctx!.buffer).getUint32(32, true)).toBe(1234);
      expect(run.duration).toBeGreaterThanOrEqual(0);
    } finally {
      k.close(prog.fd);
    }
  });

  it('a program the kernel refuses gives VerifierRejectedError with the log', () => {
    // exit without setting r0
    const bad = () => k.progLoad({ type: k.ProgType.XDP, insns: [insn(EXIT)], license: 'GPL', name: 'bad' });
    expect(bad).toThrow(k.VerifierRejectedError);
    try {
      bad();
    } catch (e) {
      const err = e as k.VerifierRejectedError;
      expect(err.code).toBe('EACCES');
      expect(err.log).toMatch(/R0 !read_ok/);
      expect(err.message).toMatch(/BPF_PROG_LOAD: .*bad.*R0 !read_ok/);
    }
  });

  it('bad arguments give a KernelError naming the command and errno', () => {
    expect(() => k.mapCreate({ type: 2, keySize: 4, valueSize: 8, maxEntries: 0 })).toThrow(
      /BPF_MAP_CREATE: invalid argument \(EINVAL\)/,
    );
    expect(() => k.mapLookup(99999, u32(0), 8)).toThrow(/EBADF/);
    expect(() => k.close(99999)).toThrow(k.KernelError);
  });

  it('pins a map in bpffs and opens it again', () => {
    const dir = mkdtempSync('/sys/fs/bpf/tsbpf-test-');
    const fd = k.mapCreate({ type: 2, keySize: 4, valueSize: 4, maxEntries: 4, name: 'pinned' });
    try {
      k.mapUpdate(fd, u32(3), u32(0xabcd));
      k.objPin(fd, `${dir}/m`);
      const again = k.objGet(`${dir}/m`);
      expect(again).not.toBe(fd);
      expect(k.mapLookup(again, u32(3), 4)).toEqual(u32(0xabcd));
      k.close(again);
      expect(() => k.objGet(`${dir}/missing`)).toThrow(/ENOENT/);
    } finally {
      k.close(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads a minimal BTF blob and rejects a corrupt one with the kernel log', () => {
    // BTF header (24 bytes) + one type: INT "int" 32-bit signed, and the string section "\0int\0".
    const types = new Uint8Array(16);
    const tv = new DataView(types.buffer);
    tv.setUint32(0, 1, true); // name_off
    tv.setUint32(4, 0x01000000, true); // kind INT, vlen 0
    tv.setUint32(8, 4, true); // size
    tv.setUint32(12, (1 << 24) | 32, true); // encoding SIGNED, bits 32
    const strings = new TextEncoder().encode('\0int\0');
    const btf = new Uint8Array(24 + types.length + strings.length);
    const hv = new DataView(btf.buffer);
    hv.setUint16(0, 0xeb9f, true);
    hv.setUint8(2, 1);
    hv.setUint32(4, 24, true);
    hv.setUint32(8, 0, true);
    hv.setUint32(12, types.length, true);
    hv.setUint32(16, types.length, true);
    hv.setUint32(20, strings.length, true);
    btf.set(types, 24);
    btf.set(strings, 24 + types.length);
    const fd = k.btfLoad(btf);
    expect(fd).toBeGreaterThan(0);
    k.close(fd);
    hv.setUint16(0, 0x1234, true);
    expect(() => k.btfLoad(btf)).toThrow(/BPF_BTF_LOAD: invalid argument \(EINVAL\)/);
  });
});
