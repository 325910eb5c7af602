// USDT arguments as libbpf's <bpf/usdt.bpf.h> reads them: the x86-64 argument specs parsed into
// `struct __bpf_usdt_spec` (register offsets of every width, constants, memory at register + offset, the
// bad ones refused naming the argument), and on the kernel: usdt_args.o's BPF_USDT(on_args, a, b, c)
// attached to usdt_args_target.c's tsbpf_test:args (a register, a stack slot relative to %rsp and a
// constant) stores exactly the values the target passed, the argument count and the attach's cookie, and
// nothing (program, maps, spec ids) is left after close.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setGlobal } from '../../../src/index.js';
import * as k from '../../../src/kernel/index.js';
import { attachProgram } from '../../../src/kernel/links/target.js';
import { usdtLocations } from '../../../src/kernel/links/usdt.js';
import { encodeUsdtSpec, parseUsdtArg, parseUsdtArgs } from '../../../src/kernel/links/usdt-args.js';
import { readObjectFile } from '../../../src/node/index.js';
import { kernelOracle } from '../../support/kernel.js';
import { exists } from '../attach/support.js';

const oracle = kernelOracle();
const HERE = new URL('./', import.meta.url).pathname;

describe('USDT argument specs (x86-64)', () => {
  it('registers of every width map to their pt_regs offset', () => {
    const off = (r: string) => parseUsdtArg(`8@%${r}`, 't').regOffset;
    // struct pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss.
    for (const r of ['rax', 'eax', 'ax', 'al']) expect(off(r)).toBe(80);
    for (const r of ['rdi', 'edi', 'di', 'dil']) expect(off(r)).toBe(112);
    for (const r of ['rsp', 'esp', 'sp', 'spl']) expect(off(r)).toBe(152);
    for (const r of ['rbp', 'ebp', 'bp', 'bpl']) expect(off(r)).toBe(32);
    for (const r of ['r12', 'r12d', 'r12w', 'r12b']) expect(off(r)).toBe(24);
    expect(off('r8')).toBe(72);
    expect(off('r15')).toBe(0);
    expect(off('rip')).toBe(128);
  });

  it('the three kinds, sizes and signs', () => {
    expect(parseUsdtArg('-4@%eax', 't')).toEqual({
      kind: 'reg',
      size: 4,
      signed: true,
      value: 0n,
      regOffset: 80,
    });
    expect(parseUsdtArg('8@-16(%rbp)', 't')).toEqual({
      kind: 'deref',
      size: 8,
      signed: false,
      value: 2n ** 64n - 16n,
      regOffset: 32,
    });
    expect(parseUsdtArg('2@(%rsi)', 't')).toMatchObject({ kind: 'deref', value: 0n, regOffset: 104 });
    expect(parseUsdtArg('4@$5', 't')).toEqual({
      kind: 'const',
      size: 4,
      signed: false,
      value: 5n,
      regOffset: -1,
    });
    expect(parseUsdtArg('-1@$-3', 't').value).toBe(2n ** 64n - 3n);
    expect(parseUsdtArg('8@$0x10', 't').value).toBe(16n);
    expect(parseUsdtArgs('', 't')).toEqual([]);
    expect(parseUsdtArgs(' -4@%edi  8@%rax ', 't').map((a) => a.regOffset)).toEqual([112, 80]);
  });

  it('what cannot be read is refused, naming the argument', () => {
    expect(() => parseUsdtArgs('4@%eax 4@%xmm0', 'usdt p:n')).toThrow(
      'usdt p:n argument 2: unknown x86-64 register %xmm0',
    );
    expect(() => parseUsdtArg('3@%eax', 'a')).toThrow("a: argument '3@%eax' has size 3 (1, 2, 4 or 8)");
    expect(() => parseUsdtArg('%eax', 'a')).toThrow("a: argument '%eax' is not SIZE@OPERAND");
    expect(() => parseUsdtArg('8@foo(%rip)', 'a')).toThrow(/operand is not \$CONST, %REG or OFFSET\(%REG\)/);
    expect(() => parseUsdtArg('8@(%rax,%rbx,4)', 'a')).toThrow(/operand is not/);
    expect(() => parseUsdtArg('4@$x', 'a')).toThrow(/constant is not a number/);
    expect(() => parseUsdtArgs(Array(13).fill('8@%rax').join(' '), 'a')).toThrow(
      /13 arguments, .* at most 12/,
    );
  });

  it('struct __bpf_usdt_spec bytes: 16 per argument, cookie at 192, count at 200', () => {
    const b = encodeUsdtSpec(parseUsdtArgs('-4@%eax 8@-16(%rbp) 2@$7', 't'), 0x1122n);
    const v = new DataView(b.buffer);
    expect(b.length).toBe(208);
    // arg 0: register, reg_off 80, signed, shift 32.
    expect([v.getUint32(8, true), v.getInt16(12, true), v.getUint8(14), v.getUint8(15)]).toEqual([
      1, 80, 1, 32,
    ]);
    // arg 1: memory, offset -16, reg_off 32, unsigned, shift 0.
    expect(v.getBigInt64(16, true)).toBe(-16n);
    expect([v.getUint32(24, true), v.getInt16(28, true), v.getUint8(30), v.getUint8(31)]).toEqual([
      2, 32, 0, 0,
    ]);
    // arg 2: constant 7, shift 48.
    expect([v.getBigUint64(32, true), v.getUint32(40, true), v.getUint8(47)]).toEqual([7n, 0, 48]);
    expect(v.getBigUint64(192, true)).toBe(0x1122n);
    expect(v.getInt16(200, true)).toBe(3);
  });
});

describe.skipIf(!oracle)('USDT arguments on the kernel', () => {
  let dir = '';
  let bin = '';
  beforeAll(() => {
    dir = mkdtempSync('/tmp/tsbpf-usdt-args-');
    bin = `${dir}/usdt_args_target`;
    const cc = spawnSync('cc', ['-O2', '-o', bin, `${HERE}usdt_args_target.c`], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('BPF_USDT reads a register, a stack slot and a constant the target passed', async () => {
    // The three kinds are in the note as cc wrote it (the register and the %rsp offset are cc's choice).
    const loc = usdtLocations(bin).find((l) => l.name === 'args')!;
    expect(loc.args).toMatch(/^-4@%\w+ 8@-?\d*\(%r[sb]p\) -2@\$-7$/);
    const a = -123456;
    const b = 0x1234_5678_9abcn;
    const child = spawn(bin, [String(a), String(b)], { stdio: ['pipe', 'inherit', 'inherit'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const spec = readObjectFile(`${HERE}usdt_args.o`);
    setGlobal(spec, 'target_tgid', child.pid!);
    const obj = k.loadKernelObject(spec);
    const progId = k.progInfo(obj.program('on_args').fd).id;
    const mapIds = [...obj.maps.values()].map((m) => k.mapInfo(m.fd).id);
    const link = attachProgram(obj.program('on_args'), {
      kind: 'usdt',
      binary: bin,
      provider: 'tsbpf_test',
      name: 'args',
      cookie: 0xfeedn,
    });
    try {
      child.stdin!.end('g');
      expect(await exited).toBe(0);
      const seen = obj.maps.get('seen')!;
      const at = (i: number) => {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, i, true);
        return new DataView(k.mapLookup(seen.fd, key, 8)!.buffer).getBigInt64(0, true);
      };
      expect([at(0), at(1), at(2), at(3), at(4)]).toEqual([BigInt(a), b, -7n, 3n, 0xfeedn]);
      // The spec map holds the one spec (id 0, the uprobe's cookie).
      const specs = obj.maps.get('__bpf_usdt_specs')!;
      const entry = k.mapLookup(specs.fd, new Uint8Array(4), 208)!;
      expect(new DataView(entry.buffer).getInt16(200, true)).toBe(3);
    } finally {
      link.close();
      obj.close();
      if (child.exitCode === null) child.kill();
    }
    const deadline = Date.now() + 5000;
    const left = () => [
      ...(exists('prog', progId) ? [progId] : []),
      ...mapIds.filter((id) => exists('map', id)),
    ];
    while (left().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(left()).toEqual([]);
  });

  it('attaches sharing the spec map take free ids, given back on close', () => {
    const obj = k.loadKernelObject(`${HERE}usdt_args.o`);
    const specs = obj.maps.get('__bpf_usdt_specs')!;
    const cookieAt = (id: number) => {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, id, true);
      return new DataView(k.mapLookup(specs.fd, key, 208)!.buffer).getBigUint64(192, true);
    };
    const attach = (cookie: bigint) =>
      attachProgram(obj.program('on_args'), {
        kind: 'usdt',
        binary: bin,
        provider: 'tsbpf_test',
        name: 'args',
        cookie,
      });
    const links = [attach(1n), attach(2n)];
    try {
      expect([cookieAt(0), cookieAt(1)]).toEqual([1n, 2n]);
      links.shift()!.close();
      links.push(attach(3n));
      // id 0 was free again; id 1 still the second attach's.
      expect([cookieAt(0), cookieAt(1)]).toEqual([3n, 2n]);
    } finally {
      for (const l of links) l.close();
      obj.close();
    }
  });
});
