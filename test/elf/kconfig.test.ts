// __kconfig and __ksym externs (issue 16): a `.kconfig` map laid out and filled as libbpf does, weak
// externs 0, a strong one without a value an error naming it; untyped ksyms get their kallsyms address.
// Kernel oracle: libbpf's .kconfig map (bpftool map dump) holds the same bytes, and the program returns
// the same in the kernel and in both engines.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { PseudoLddw } from '../../src/isa/opcodes.js';
import * as k from '../../src/kernel/index.js';
import { hostExternValues, kernelVersionOf, parseKernelConfig } from '../../src/node/externs.js';
import { kernelOracle } from '../support/kernel.js';

const bytes = (name: string) => new Uint8Array(readFileSync(`test/fixtures/cli/${name}`));
const KCONFIG = bytes('kconfig.o');

const config: Record<string, string> = {
  CONFIG_BPF_SYSCALL: 'y',
  CONFIG_IPV6: 'm',
  CONFIG_HZ: '1000',
  CONFIG_ILLEGAL_POINTER_VALUE: '0xdead000000000000',
  CONFIG_LOCALVERSION: '"-a-very-long-local-version"',
};
const values = { kconfig: (n: string) => config[n], kernelVersion: () => kernelVersionOf('5.15.300-x') };

describe('__kconfig externs', () => {
  it("lay out as libbpf does (alignment, size, name) and hold the config's values", () => {
    const spec = readObject(KCONFIG, { file: 'kconfig.o', externs: values });
    const m = spec.maps.find((x) => x.name === '.kconfig')!;
    expect(m).toMatchObject({ valueSize: 42, maxEntries: 1, keySize: 4, readonly: true });
    const v = m.contents![0]!.value;
    const dv = new DataView(v.buffer, v.byteOffset);
    expect(dv.getBigUint64(0, true)).toBe(0xdead000000000000n); // CONFIG_ILLEGAL_POINTER_VALUE
    expect(dv.getInt32(8, true)).toBe(1000); // CONFIG_HZ
    expect(dv.getUint32(12, true)).toBe(2); // CONFIG_IPV6 = m: TRI_MODULE
    expect(dv.getUint32(16, true)).toBe(0); // CONFIG_TSBPF_NOT_A_NUMBER: weak, 0
    expect(dv.getUint32(20, true)).toBe((5 << 16) | (15 << 8) | 255); // LINUX_KERNEL_VERSION, patch capped
    expect([v[24], v[25]]).toEqual([1, 0]); // CONFIG_BPF_SYSCALL, CONFIG_TSBPF_NOT_AN_OPTION (weak)
    // A string longer than the array is cut, keeping the NUL.
    expect(new TextDecoder().decode(v.subarray(26, 42))).toBe('-a-very-long-lo\0');
    // References are (map, offset) pairs into it.
    const refs = spec.programs[0]!.insns.filter((i) => i.code === 0x18 && i.src === PseudoLddw.MAP_VALUE);
    expect(refs.length).toBeGreaterThanOrEqual(7);
    for (const r of refs) expect(spec.maps[r.imm]!.name).toBe('.kconfig');
  });

  it('a strong extern without a value is an error naming it; a bad value names the extern', () => {
    expect(() => readObject(bytes('kconfig_missing.o'), { file: 'm.o', externs: values })).toThrow(
      'm.o: section .kconfig: extern CONFIG_TSBPF_NOT_AN_OPTION (__kconfig): not in the kernel config; declare it __weak to take 0',
    );
    expect(() => readObject(KCONFIG, { file: 'k.o', externs: {} })).toThrow(
      /extern CONFIG_ILLEGAL_POINTER_VALUE \(__kconfig\): not in the kernel config \(no kernel config was given\)/,
    );
    const bad = (over: Record<string, string>) => () =>
      readObject(KCONFIG, {
        file: 'k.o',
        externs: { ...values, kconfig: (n: string) => ({ ...config, ...over })[n] },
      });
    expect(bad({ CONFIG_BPF_SYSCALL: 'm' })).toThrow(
      /CONFIG_BPF_SYSCALL \(__kconfig\): value 'm' is not a bool/,
    );
    expect(bad({ CONFIG_HZ: 'y' })).toThrow(/CONFIG_HZ \(__kconfig\): value 'y' is not an integer/);
    expect(bad({ CONFIG_HZ: '0x100000000' })).toThrow(/does not fit in 4 byte/);
    expect(bad({ CONFIG_LOCALVERSION: 'abc' })).toThrow(/value abc is not a string/);
  });

  it('reads config files and releases as the kernel writes them', () => {
    const c = parseKernelConfig(
      'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_D=0x10\n#comment\n',
    );
    expect([...c]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_B', 'n'],
      ['CONFIG_C', '"x y"'],
      ['CONFIG_D', '0x10'],
    ]);
    expect(kernelVersionOf('6.18.44-fc-v1300')).toBe(0x06122c);
    expect(kernelVersionOf('6.1')).toBe(0x060100);
    expect(kernelVersionOf('weird')).toBeUndefined();
  });
});

describe('__ksym externs', () => {
  it('an untyped ksym is its kallsyms address, a weak unknown one 0', () => {
    const spec = readObject(bytes('ksym.o'), {
      file: 'ksym.o',
      externs: { ksym: (n) => (n === '_text' ? 0xffffffff81000000n : undefined) },
    });
    const lddw = spec.programs[0]!.insns.filter((i) => i.code === 0x18);
    const at = (k: number) =>
      BigInt.asUintN(32, BigInt(lddw[k]!.imm)) |
      (BigInt.asUintN(
        32,
        BigInt(spec.programs[0]!.insns[spec.programs[0]!.insns.indexOf(lddw[k]!) + 1]!.imm),
      ) <<
        32n);
    expect(lddw.map((i) => i.src)).toEqual([0, 0]);
    expect([at(0), at(1)].sort()).toEqual([0n, 0xffffffff81000000n]);
    expect(() => readObject(bytes('ksym.o'), { file: 'ksym.o', externs: {} })).toThrow(
      /extern _text \(__ksym\): no such kernel symbol \(no symbol table was given\)/,
    );
  });

  it.skipIf(process.platform !== 'linux')(
    "the host's values come from /proc/kallsyms, by default under Node",
    () => {
      const line = readFileSync('/proc/kallsyms', 'latin1')
        .split('\n')
        .find((l) => / _text$/.test(l));
      expect(line).toBeDefined();
      const address = BigInt(`0x${line!.split(' ')[0]}`);
      expect(hostExternValues().ksym!('_text')).toBe(address);
      // Importing src/node/externs.ts made them readObject's default.
      const spec = readObject(bytes('ksym.o'), { file: 'ksym.o' });
      const insns = spec.programs[0]!.insns;
      const imms = insns.flatMap((i, k) =>
        i.code === 0x18
          ? [BigInt.asUintN(32, BigInt(i.imm)) | (BigInt.asUintN(32, BigInt(insns[k + 1]!.imm)) << 32n)]
          : [],
      );
      expect(imms.sort()).toEqual([0n, address].sort());
    },
  );
});

describe.skipIf(!kernelOracle())('the kernel and libbpf agree', () => {
  it("libbpf's .kconfig map holds our bytes, and the program returns the same everywhere", () => {
    const pin = `/sys/fs/bpf/tsbpf_kconfig_${process.pid}`;
    const maps = `${pin}_maps`;
    const data = join(tmpdir(), `tsbpf-kconfig-${process.pid}.bin`);
    writeFileSync(data, new Uint8Array(64));
    try {
      execFileSync('bpftool', ['prog', 'loadall', 'test/fixtures/cli/kconfig.o', pin, 'pinmaps', maps], {
        stdio: 'pipe',
      });
      const dump = JSON.parse(
        execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', `${maps}/kconfig_kconfig`], {
          encoding: 'utf8',
        }),
      );
      const theirs = Uint8Array.from(dump[0].value.map((x: string) => Number(x)));
      const spec = readObject(KCONFIG, { file: 'kconfig.o', externs: hostExternValues() });
      expect(Array.from(spec.maps.find((m) => m.name === '.kconfig')!.contents![0]!.value)).toEqual(
        Array.from(theirs),
      );
      const run = execFileSync(
        'bpftool',
        ['prog', 'run', 'pinned', `${pin}/kconfig_values`, 'data_in', data],
        { encoding: 'utf8' },
      );
      const retval = Number(/Return value: (\d+)/.exec(run)![1]);
      const obj = loadObject(spec);
      for (const engine of ['interp', 'jit'] as const)
        expect(obj.program().run({ dataIn: new Uint8Array(64), engine }).retval, engine).toBe(retval);
      // Our .kconfig map and relocations, loaded into the kernel by our back end.
      const kernel = k.loadKernelObject(spec);
      try {
        expect(kernel.program().run({ dataIn: new Uint8Array(64) }).retval).toBe(retval);
      } finally {
        kernel.close();
      }
    } finally {
      rmSync(pin, { recursive: true, force: true });
      rmSync(maps, { recursive: true, force: true });
      rmSync(data, { force: true });
    }
  });

  it('LINUX_HAS_SYSCALL_WRAPPER and LINUX_HAS_BPF_COOKIE, which libbpf computes, hold what libbpf gives', () => {
    for (const name of ['newer_attach.o', 'usdt_probe.o']) {
      const file = `test/fixtures/corpus/${name}`;
      const pin = `/sys/fs/bpf/tsbpf_kvirt_${process.pid}`;
      const maps = `${pin}_maps`;
      try {
        execFileSync('bpftool', ['prog', 'loadall', file, pin, 'pinmaps', maps], { stdio: 'pipe' });
        const pinned = readdirSync(maps).find((f) => f.endsWith('kconfig'))!;
        const dump = JSON.parse(
          execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', `${maps}/${pinned}`], { encoding: 'utf8' }),
        );
        const theirs = dump[0].value.map((x: string) => Number(x));
        const spec = readObject(new Uint8Array(readFileSync(file)), {
          file: name,
          externs: hostExternValues(),
        });
        const ours = Array.from(spec.maps.find((m) => m.name === '.kconfig')!.contents![0]!.value);
        expect(ours, name).toEqual(theirs);
      } finally {
        rmSync(pin, { recursive: true, force: true });
        rmSync(maps, { recursive: true, force: true });
      }
    }
  });

  it('libbpf refuses a strong extern the config lacks, as we do', () => {
    let log = '';
    try {
      execFileSync(
        'bpftool',
        ['prog', 'loadall', 'test/fixtures/cli/kconfig_missing.o', `/sys/fs/bpf/tsbpf_kcm_${process.pid}`],
        { stdio: 'pipe' },
      );
    } catch (e) {
      log = String((e as { stderr?: Buffer }).stderr);
    } finally {
      rmSync(`/sys/fs/bpf/tsbpf_kcm_${process.pid}`, { recursive: true, force: true });
    }
    expect(log).toMatch(/extern 'CONFIG_TSBPF_NOT_AN_OPTION' \(strong\): not resolved/);
  });
});
