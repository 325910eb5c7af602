// USDT: usdt_target.c (a hand-written .note.stapsdt, the layout <sys/sdt.h> emits; that header is not on
// this machine) built with cc. The notes we read must be what readelf -n reads (location, semaphore,
// provider, name, argument spec); attaching usdt_count.o's program to tsbpf_test:tick — by the target
// union, by the section-name grammar and by the command-line words — must raise the semaphore while
// attached (the program's code behind `if (semaphore)` runs: the kernel's ref_ctr_offset), count exactly
// the N hits, see the argument register, and leave nothing behind after close.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setGlobal } from '../../../src/index.js';
import * as k from '../../../src/kernel/index.js';
import { parseAttachTarget } from '../../../src/kernel/links/parse.js';
import { attachProgram, autoTarget } from '../../../src/kernel/links/target.js';
import { usdtLocations } from '../../../src/kernel/links/usdt.js';
import { readObjectFile } from '../../../src/node/index.js';
import { kernelOracle } from '../../support/kernel.js';
import { exists } from '../attach/support.js';

const oracle = kernelOracle();
const HERE = new URL('./', import.meta.url).pathname;
let dir = '';
let bin = '';

beforeAll(() => {
  dir = mkdtempSync('/tmp/tsbpf-usdt-');
  bin = `${dir}/usdt_target`;
  const cc = spawnSync('cc', ['-O2', '-o', bin, `${HERE}usdt_target.c`], { encoding: 'utf8' });
  expect(cc.status, cc.stderr).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('USDT notes', () => {
  it('usdtLocations reads what readelf -n reads', () => {
    const text = spawnSync('readelf', ['-n', bin], { encoding: 'utf8' }).stdout;
    const m =
      /Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: (0x[0-9a-f]+)\s+Arguments: (.*)/.exec(
        text,
      );
    expect(m, text).not.toBeNull();
    const sections = spawnSync('readelf', ['-SW', bin], { encoding: 'utf8' }).stdout;
    // .probes: the semaphore's section; its file offset minus its address moves the semaphore to the file.
    const probes = /\.probes\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(sections)!;
    const semOffset = Number(BigInt(m![4]!) - BigInt(`0x${probes[1]}`) + BigInt(`0x${probes[2]}`));
    const locs = usdtLocations(bin);
    expect(locs).toHaveLength(1);
    expect(locs[0]).toMatchObject({
      provider: m![1],
      name: m![2],
      address: BigInt(m![3]!),
      semaphoreOffset: semOffset,
      args: m![5]!.trim(),
    });
    // The nop at the location: the text segment of a cc-built PIE maps file offset = address.
    expect(locs[0]!.fileOffset).toBeGreaterThan(0);
    expect(usdtLocations('/bin/true')).toEqual([]);
  });

  it('the target grammar: section usdt/BIN:PROVIDER:NAME and command words usdt BIN:PROVIDER:NAME', () => {
    expect(parseAttachTarget(['usdt', '/x/y:prov:probe', 'pid', '9'])).toEqual({
      kind: 'usdt',
      binary: '/x/y',
      provider: 'prov',
      name: 'probe',
      pid: 9,
    });
    expect(() => parseAttachTarget(['usdt', '/x/y:probe'])).toThrow(/usdt wants BINARY:PROVIDER:NAME/);
    const prog = {
      fd: -1,
      name: 'p',
      spec: { name: 'p', section: 'usdt/libc.so.6:libc:setjmp', type: 'kprobe', insns: [], license: '' },
    };
    expect(autoTarget(prog)).toEqual({
      kind: 'usdt',
      binary: 'libc.so.6',
      provider: 'libc',
      name: 'setjmp',
      pid: undefined,
    });
  });
});

describe.skipIf(!oracle)('USDT on the kernel', () => {
  it('attached: the semaphore is raised, N hits counted with the argument, nothing left after close', async () => {
    for (const how of ['target', 'words'] as const) {
      const child = spawn(bin, ['50'], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      const spec = readObjectFile(`${HERE}usdt_count.o`);
      setGlobal(spec, 'target_tgid', child.pid!);
      const obj = k.loadKernelObject(spec);
      const progId = k.progInfo(obj.program('on_tick').fd).id;
      const mapIds = [...obj.maps.values()].map((m) => k.mapInfo(m.fd).id);
      const target =
        how === 'target'
          ? { kind: 'usdt' as const, binary: bin, provider: 'tsbpf_test', name: 'tick' }
          : parseAttachTarget(['usdt', `${bin}:tsbpf_test:tick`]);
      const link = attachProgram(obj.program('on_tick'), target);
      try {
        child.stdin!.end('g');
        expect(await exited).toBe(0);
        expect(out).toBe('fired 50 semaphore 1\n');
        expect(BigInt(obj.getGlobal('hits') as number)).toBe(50n);
        // The last pass's argument (i = 49) was in the register the spec names.
        expect(usdtLocations(bin)[0]!.args).toBe('-4@%eax');
        expect(BigInt(obj.getGlobal('last_rax') as number) & 0xffffffffn).toBe(49n);
      } finally {
        link.close();
        obj.close();
      }
      const deadline = Date.now() + 5000;
      const left = () => [
        ...(exists('prog', progId) ? [progId] : []),
        ...mapIds.filter((id) => exists('map', id)),
      ];
      while (left().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(left()).toEqual([]);
    }
    // Not attached: the semaphore stays 0 and the guarded probe never runs.
    const child = spawnSync(bin, ['50'], { input: 'g', encoding: 'utf8' });
    expect(child.stdout).toBe('fired 0 semaphore 0\n');
  });

  it('a probe the binary lacks: one error naming the probes it has', () => {
    const obj = k.loadKernelObject(`${HERE}usdt_count.o`);
    try {
      expect(() =>
        attachProgram(obj.program('on_tick'), {
          kind: 'usdt',
          binary: bin,
          provider: 'tsbpf_test',
          name: 'nope',
        }),
      ).toThrow(/has no USDT probe tsbpf_test:nope \(probes: tsbpf_test:tick\)/);
    } finally {
      obj.close();
    }
  });
});
