// The CLI on real objects (issue 16): `--program NAME` loads and verifies that program alone, on every
// command that loads an object; without it a command that needs one program and finds several says so
// (and takes the first, as before).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/net/pcap.js';
import { kernelVersionOf } from '../../src/node/externs.js';
import { kernelOracle } from '../support/kernel.js';
import { tsbpf, tsbpfIn } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-objects-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CAPTURE = 'examples/xdp/iperf.pcap';
const MULTI = 'test/fixtures/cli/multi_prog.o';
const PROGRAMS = 'xdp_count (xdp), xdp_unchecked (xdp), tc_mark (tc)';

/** A 14-byte Ethernet header (IPv4), the data_in of prog run. */
const packet = join(dir, 'packet.bin');
writeFileSync(packet, Uint8Array.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 8, 0]));

describe('--program NAME', () => {
  it('xdp: runs the named program alone, though a sibling is refused by the verifier', () => {
    const r = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--program', 'xdp_count', '--json', '--dump-maps']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.program).toBe('xdp_count');
    expect(out.verdicts.PASS).toBe(255);
    expect(out.maps.seen[0].formatted).toEqual({ key: 0, value: 255 });
  });

  it('xdp: without --program, of two XDP programs the first runs, with a note naming both', () => {
    const r = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).program).toBe('xdp_count');
    expect(r.stderr).toBe(
      `tsbpf: note: ${MULTI} has 2 XDP programs (xdp_count (xdp), xdp_unchecked (xdp)): using xdp_count, the first (choose with --program NAME)\n`,
    );
  });

  it('a program put in a program array by --map-set is a tail-call target, not the entry', () => {
    const r = tsbpf([
      'xdp',
      'examples/xdp/tail_call.o',
      '-r',
      CAPTURE,
      '--map-set',
      'jt',
      '06000000=xdp_on_tcp',
      '--map-set',
      'jt',
      '11000000=xdp_on_udp',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).program).toBe('xdp_dispatch');
  });

  it('the refused sibling, asked for, is refused with the reason', () => {
    const r = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--program', 'xdp_unchecked']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/program xdp_unchecked rejected by the verifier at insn 1: .*past the end/);
  });

  it('an unknown name lists the programs there are; a section of two programs asks for the function', () => {
    const unknown = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--program', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`tsbpf: ${MULTI}: no program or section 'nope' (programs: ${PROGRAMS})\n`);
    const section = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--program', 'xdp']);
    expect(section.code).toBe(2);
    expect(section.stderr).toMatch(
      /section xdp holds 2 programs \(xdp_count, xdp_unchecked\): give --program/,
    );
    const wrongType = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--program', 'tc']);
    expect(wrongType.code).toBe(1);
    expect(wrongType.stderr).toMatch(/program tc_mark \(section tc\) is sched_cls, not xdp/);
  });

  it('--section, the older spelling, still works; the two naming different programs is a usage error', () => {
    const r = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--section', 'xdp_count', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).program).toBe('xdp_count');
    const both = tsbpf(['xdp', MULTI, '-r', CAPTURE, '--section', 'xdp_count', '--program', 'tc']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--program tc and --section xdp_count name different programs/);
  });

  it('prog run: the named program alone; without --program the first, with a note', () => {
    const r = tsbpf(['prog', 'run', MULTI, 'data_in', packet, '--program', 'xdp_count']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Return value: 2, duration: \d+ns\n$/);
    const none = tsbpf(['prog', 'run', MULTI, 'data_in', packet]);
    expect(none.code).toBe(0);
    expect(none.stderr).toBe(
      `tsbpf: note: ${MULTI} has 3 programs (${PROGRAMS}): using xdp_count, the first (choose with --program NAME)\n`,
    );
  });

  it('verify: --program verifies only that program (a section name works too)', () => {
    const r = tsbpf(['verify', MULTI, '--program', 'tc', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.programs.map((p: { name: string }) => p.name)).toEqual(['tc_mark']);
    const all = tsbpf(['verify', MULTI, '--json']);
    expect(all.code).toBe(1);
    expect(JSON.parse(all.stdout).programs.map((p: { accepted: boolean }) => p.accepted)).toEqual([
      true,
      false,
      true,
    ]);
  });

  it('trace events: --program picks the probe; --prog still works', () => {
    for (const flag of ['--program', '--prog']) {
      const r = tsbpf([
        'trace',
        'events',
        MULTI,
        '--fn',
        'package.json#f',
        flag,
        'nope',
        '--',
        'node',
        'x.js',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no program or section 'nope' \(programs: xdp_count/);
    }
    const none = tsbpf(['trace', 'events', MULTI, '--fn', 'package.json#f', '--', 'node', 'x.js']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no kprobe program in the object \(programs: xdp_count/);
  });

  it.skipIf(!kernelOracle())(
    'the kernel refuses the same sibling, so a whole-object load fails there too',
    () => {
      const pin = `/sys/fs/bpf/tsbpf_multi_${process.pid}`;
      let log = '';
      try {
        execFileSync('bpftool', ['prog', 'loadall', MULTI, pin], { stdio: 'pipe' });
      } catch (e) {
        log = String((e as { stderr?: Buffer }).stderr);
      } finally {
        rmSync(pin, { recursive: true, force: true });
      }
      expect(log).toMatch(/invalid access to packet/);
    },
  );
});

const SIZED = 'test/fixtures/cli/sized_maps.o';

describe('--map-size MAP=N and --cpus N', () => {
  it('a map declared with 0 entries (not a perf array) asks for its size by name', () => {
    const r = tsbpf(['xdp', SIZED, '-r', CAPTURE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tsbpf: map allowed has max_entries 0 (its loader sizes it): give --map-size allowed=N\n',
    );
  });

  it('sized, it runs: per-CPU values and perf rings follow --cpus, the perf array gets one slot per CPU', () => {
    const events = join(dir, 'events.jsonl');
    const r = tsbpf([
      'xdp',
      SIZED,
      '-r',
      CAPTURE,
      '--map-size',
      'allowed=16',
      '--map-set',
      'allowed',
      '56000000=01000000',
      '--cpus',
      '3',
      '--events',
      events,
      '--json',
      '--dump-maps',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const len86 = readCapture(readFileSync(CAPTURE)).packets.filter((p) => p.data.length === 86).length;
    expect(len86).toBeGreaterThan(0);
    expect(out.verdicts.PASS).toBe(len86);
    expect(out.verdicts.DROP).toBe(255 - len86);
    expect(out.maps.packets[0].formatted).toEqual({ key: 0, value: [255, 0, 0] });
    expect(out.events).toBe(255);
    expect(readFileSync(events, 'utf8').trim().split('\n')).toHaveLength(255);
    expect(out.maps.allowed).toEqual([
      { key: '56000000', value: '01000000', formatted: { key: 86, value: 1 } },
    ]);
  });

  it("--cpus defaults to this machine's CPU count (map dump, prog run)", () => {
    const r = tsbpf(['map', 'dump', SIZED, 'packets', '--map-size', 'allowed=1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].values).toHaveLength(availableParallelism());
    const run = tsbpf(['prog', 'run', SIZED, 'data_in', packet, '--map-size', 'allowed=1', '--cpus', '2']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Return value: 1, duration/);
  });

  it('bad sizes are usage errors naming the option and the map', () => {
    const cases: [string[], string][] = [
      [['--map-size', 'nope=3'], "--map-size: no map 'nope' (maps: packets, events, allowed)"],
      [['--map-size', 'allowed=x'], "--map-size allowed: 'x' is not a size from 1 to 4294967295"],
      [['--map-size', 'allowed=0'], "--map-size allowed: '0' is not a size from 1 to 4294967295"],
      [['--map-size', 'allowed'], "--map-size 'allowed': expected MAP=N"],
      [['--cpus', '0'], "--cpus: '0' is not a CPU count from 1 to 8192"],
    ];
    for (const [flags, message] of cases) {
      const r = tsbpf(['xdp', SIZED, '-r', CAPTURE, ...flags]);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toBe(`tsbpf: ${message}\n`);
    }
  });

  it.skipIf(!kernelOracle())('libbpf refuses the same object for the same map (bpftool prog load)', () => {
    const pin = `/sys/fs/bpf/tsbpf_sized_${process.pid}`;
    let log = '';
    try {
      execFileSync('bpftool', ['prog', 'load', SIZED, pin], { stdio: 'pipe' });
    } catch (e) {
      log = String((e as { stderr?: Buffer }).stderr);
    } finally {
      rmSync(pin, { force: true });
    }
    expect(log).toMatch(/map 'allowed': failed to create/);
  });
});

const TYPED = 'test/fixtures/cli/typed_sections.o';

describe('prog run --type T and --map-set', () => {
  const data = join(dir, 'p60.bin');
  writeFileSync(
    data,
    Uint8Array.from({ length: 60 }, (_, i) => (i * 7) & 0xff),
  );

  it('a program in a section libbpf gives no type needs --type, and runs as that type', () => {
    const none = tsbpf(['prog', 'run', TYPED, 'data_in', data]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      `tsbpf: ${TYPED}: program classify (section from-netdev) has no program type tsbpf knows: give --type (e.g. classifier, socket, xdp)\n`,
    );
    // A tc program sees the whole frame (skb->len 60); a socket filter sees it from the network header.
    const tc = tsbpf(['prog', 'run', TYPED, 'data_in', data, '--type', 'classifier', '--json']);
    expect(tc.stderr).toBe('');
    expect(JSON.parse(tc.stdout).retval).toBe(60);
    const socket = tsbpf(['prog', 'run', TYPED, 'data_in', data, '--type', 'socket', '--json']);
    expect(JSON.parse(socket.stdout).retval).toBe(46);
    const bad = tsbpf(['prog', 'run', TYPED, 'data_in', data, '--type', 'clasifier']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--type: unknown program type 'clasifier' \(did you mean classifier/);
  });

  it('--map-set fills a map before the run, after the keywords or before another option', () => {
    for (const args of [
      ['data_in', data, '--type', 'tc', '--map-set', 'cfg', '00000000=05000000', '--json'],
      ['data_in', data, '--map-set', 'cfg', '00000000=05000000', '--type', 'tc', '--json'],
    ]) {
      const r = tsbpf(['prog', 'run', TYPED, ...args]);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(JSON.parse(r.stdout).retval).toBe(65);
    }
    const r = tsbpf(['prog', 'run', TYPED, 'data_in', data, '--type', 'tc', '--map-set', 'nope', '00=01']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--map-set: no map 'nope' \(maps: cfg\)/);
  });

  it.skipIf(!kernelOracle())('the kernel returns the same for the same type and map contents', () => {
    const pin = `/sys/fs/bpf/tsbpf_typed_${process.pid}`;
    const maps = `${pin}_maps`;
    try {
      execFileSync('bpftool', ['prog', 'load', TYPED, pin, 'type', 'classifier', 'pinmaps', maps]);
      execFileSync('bpftool', [
        'map',
        'update',
        'pinned',
        `${maps}/cfg`,
        'key',
        '0',
        '0',
        '0',
        '0',
        'value',
        '5',
        '0',
        '0',
        '0',
      ]);
      const kernel = execFileSync('bpftool', ['prog', 'run', 'pinned', pin, 'data_in', data], {
        encoding: 'utf8',
      });
      const retval = Number(/Return value: (\d+)/.exec(kernel)?.[1]);
      const ours = tsbpf([
        'prog',
        'run',
        TYPED,
        'data_in',
        data,
        '--type',
        'classifier',
        '--map-set',
        'cfg',
        '00000000=05000000',
        '--json',
      ]);
      expect(JSON.parse(ours.stdout).retval).toBe(retval);
      expect(retval).toBe(65);
    } finally {
      rmSync(pin, { force: true });
      rmSync(maps, { recursive: true, force: true });
    }
  });
});

describe('legacy maps sections on the command line', () => {
  it('an ovs-style object (static maps, 40-byte records) runs, each reference on its own map', () => {
    const r = tsbpf(['xdp', 'test/fixtures/elf/legacy_static.o', '-r', CAPTURE, '--json', '--dump-maps']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    // Each packet length seen once passes (the flow is created), again drops.
    const lengths = new Set(readCapture(readFileSync(CAPTURE)).packets.map((p) => p.data.length));
    expect(out.verdicts.PASS).toBe(lengths.size);
    expect(out.verdicts.DROP).toBe(255 - lengths.size);
    expect(out.maps.flows).toHaveLength(lengths.size);
    const hits = out.maps.hits.reduce(
      (n: number, e: { value: string }) => n + Number(`0x${e.value.slice(0, 2)}`),
      0,
    );
    expect(hits).toBe(255);
  });
});

describe('calls to libc memory functions on the command line', () => {
  const LIBC = 'test/fixtures/cli/libc_calls.o';
  it('the object is refused in one line naming the function and the fix', () => {
    const r = tsbpf(['xdp', LIBC, '-r', CAPTURE]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /instruction 6: call to extern function memset: .*__builtin_memset.* \(program zero_buffer\)/,
    );
  });

  it('--program loads a sibling without such calls, with a note', () => {
    const r = tsbpf(['xdp', LIBC, '-r', CAPTURE, '--program', 'no_calls', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).verdicts.PASS).toBe(255);
    expect(r.stderr).toMatch(/^tsbpf: note: .*call to extern function memset.*; loading no_calls alone\n$/);
    const run = tsbpf(['run', LIBC, '--program', 'no_calls']);
    expect(run.stdout).toBe('r0 = 2 (0x2)\n');
    expect(run.stderr).toMatch(/note: .*memset.*; loading no_calls alone/);
    const v = tsbpf(['verify', LIBC, '--program', 'no_calls']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^no_calls: accepted/);
  });
});

describe('__kconfig externs on the command line', () => {
  it.skipIf(!kernelOracle())(
    "prog run fills them from the running kernel's config: the kernel's result",
    () => {
      const obj = 'test/fixtures/cli/kconfig.o';
      const data = join(dir, 'z64.bin');
      writeFileSync(data, new Uint8Array(64));
      const pin = `/sys/fs/bpf/tsbpf_kcli_${process.pid}`;
      try {
        execFileSync('bpftool', ['prog', 'loadall', obj, pin], { stdio: 'pipe' });
        const run = execFileSync(
          'bpftool',
          ['prog', 'run', 'pinned', `${pin}/kconfig_values`, 'data_in', data],
          {
            encoding: 'utf8',
          },
        );
        const ours = tsbpf(['prog', 'run', obj, 'data_in', data, '--json']);
        expect(ours.stderr).toBe('');
        expect(JSON.parse(ours.stdout).retval).toBe(Number(/Return value: (\d+)/.exec(run)![1]));
      } finally {
        rmSync(pin, { recursive: true, force: true });
      }
    },
  );

  it('a strong extern the config lacks is one line naming it', () => {
    const r = tsbpf(['verify', 'test/fixtures/cli/kconfig_missing.o']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /extern CONFIG_TSBPF_NOT_AN_OPTION \(__kconfig\): not in the kernel config; declare it __weak to take 0\n$/,
    );
  });
});

describe('trace events on a real-style probe object', () => {
  const cwd = 'test/fixtures/trace';
  const obj = '../cli/probe_kconfig.o';

  it('--program loads the probe alone (its sibling calls memset) with its __kconfig value filled', async () => {
    const r = await tsbpfIn(cwd, [
      'trace',
      'events',
      obj,
      '--fn',
      'lib.mjs#add',
      '--program',
      'on_call',
      '--json',
      '--',
      'node',
      'main.mjs',
      '3',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events).toHaveLength(3);
    const version = kernelVersionOf(release())!;
    const hex = Buffer.alloc(8);
    hex.writeBigUInt64LE(BigInt(version));
    for (const e of events) expect(e.data).toBe(hex.toString('hex'));
    expect(r.stderr).toMatch(
      /note: .*call to extern function memset.*\(program clears\).*loading on_call alone/,
    );
  });

  it('without --program the object is refused in one line naming the memset call', async () => {
    const r = await tsbpfIn(cwd, [
      'trace',
      'events',
      obj,
      '--fn',
      'lib.mjs#add',
      '--',
      'node',
      'main.mjs',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tsbpf: .*call to extern function memset: .*\(program clears\)/);
  });
});
