// `tsbpf prog load|attach|detach` and `tsbpf link detach` on the running kernel: the attach fixture's
// tracepoint program (counts getpgid calls of one process, `target_tgid` in .bss set with --map-set) is
// loaded and pinned, attached with a pinned link, triggered from this process, its count read with
// `map dump`, detached; then attached without --pin (held until SIGINT/SIGTERM). After each case the
// kernel has none of the ids left (checked by bpftool).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsbpf } from '../../cli/run-cli.js';
import { kernelOracle } from '../../support/kernel.js';
import { ATTACH_O, callGetpgid, ensureTracefs, exists } from '../attach/support.js';

const oracle = kernelOracle();
const BASE = `/sys/fs/bpf/tsbpf-progcli-${process.pid}`;
const PROG = `${BASE}/prog`;
const MAPS = `${BASE}/maps`;
const LINK = `${BASE}/link`;
const TP = 'syscalls/sys_enter_getpgid';

function ok(args: string[]): string {
  const r = tsbpf(args);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(0);
  return r.stdout;
}

function fails(args: string[], code: number, line: RegExp): void {
  const r = tsbpf(args);
  expect(r.stdout, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(code);
  expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
  expect(r.stderr).toMatch(line);
}

/** .bss of attach.o holds target_tgid alone: 4 bytes, little-endian. */
function tgidHex(pid: number): string {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, pid, true);
  return Buffer.from(b).toString('hex');
}

/** Slot 0 (TP) of counts through `map dump --json`. */
function tpCount(): number {
  const rows = JSON.parse(ok(['map', 'dump', 'pinned', `${MAPS}/counts`, '--json'])) as {
    formatted: { key: number; value: number };
  }[];
  return rows.find((r) => r.formatted.key === 0)!.formatted.value;
}

/** Wait (the kernel frees ids after an RCU grace period) until none of `ids` of `kind` exists. */
async function gone(kind: 'prog' | 'map' | 'link', ids: number[]): Promise<void> {
  const deadline = Date.now() + 5000;
  while (ids.some((id) => exists(kind, id)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect(
    ids.filter((id) => exists(kind, id)),
    `${kind} ids left`,
  ).toEqual([]);
}

describe.skipIf(!oracle)('tsbpf prog load / attach / detach on the kernel', () => {
  let progId = 0;
  let mapIds: number[] = [];

  beforeAll(() => {
    ensureTracefs();
    rmSync(BASE, { recursive: true, force: true });
    ok(['link', 'list']); // the CLI is built and the kernel answers
    mkdirSync(BASE);
    const line = ok([
      'prog',
      'load',
      ATTACH_O,
      PROG,
      '--program',
      'tp_getpgid',
      '--map-set',
      '.bss',
      `00000000=${tgidHex(process.pid)}`,
      '--pinmaps',
      MAPS,
    ]);
    const m = /^loaded tp_getpgid \(prog id (\d+)\) pinned at (\S+)\n$/.exec(line);
    expect(m, line).not.toBeNull();
    progId = Number(m![1]);
    const shown = JSON.parse(ok(['prog', 'show', 'pinned', PROG, '--json'])) as { map_ids: number[] };
    mapIds = shown.map_ids;
    expect(mapIds.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    rmSync(BASE, { recursive: true, force: true });
    await gone('prog', [progId]);
    await gone('map', mapIds);
  });

  it('attach --pin: the link outlives the command and counts; link detach pinned removes it', async () => {
    const out = ok(['prog', 'attach', 'pinned', PROG, 'tracepoint', TP, '--pin', LINK]);
    const m = new RegExp(
      `^attached tp_getpgid \\(prog id ${progId}\\) to tracepoint ${TP}: link id (\\d+), pinned at ${LINK}\\n$`,
    ).exec(out);
    expect(m, out).not.toBeNull();
    const linkId = Number(m![1]);
    const before = tpCount();
    callGetpgid(7);
    expect(tpCount() - before).toBe(7);
    // A perf-event link has no BPF_LINK_DETACH: by id it cannot be undone while pinned; prog detach says so.
    fails(
      ['link', 'detach', 'id', String(linkId)],
      1,
      /^tsbpf: link id \d+: the kernel cannot detach a perf_event link/,
    );
    fails(['prog', 'detach', 'pinned', PROG], 1, new RegExp(`cannot detach link ${linkId} \\(perf_event\\)`));
    expect(ok(['link', 'detach', 'pinned', LINK])).toBe(
      `link id ${linkId} (perf_event, prog id ${progId}) detached, pin ${LINK} removed\n`,
    );
    expect(existsSync(LINK)).toBe(false);
    await gone('link', [linkId]);
    const after = tpCount();
    callGetpgid(5);
    expect(tpCount()).toBe(after);
    expect(ok(['prog', 'detach', 'id', String(progId)])).toBe(`prog id ${progId}: no links\n`);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`attach without --pin holds the link until ${signal}, then detaches and exits 0`, async () => {
      const child = spawn(process.execPath, [
        'bin/tsbpf.js',
        'prog',
        'attach',
        'id',
        String(progId),
        'tp',
        TP,
      ]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const deadline = Date.now() + 20_000;
      while (!stdout.includes('\n') && Date.now() < deadline && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 20));
      const m =
        /^attached tp_getpgid \(prog id \d+\) to tp syscalls\/sys_enter_getpgid: link id (\d+); detaching on SIGINT or SIGTERM\n/.exec(
          stdout,
        );
      expect(m, stdout + stderr).not.toBeNull();
      const linkId = Number(m![1]);
      const before = tpCount();
      callGetpgid(4);
      expect(tpCount() - before).toBe(4);
      child.kill(signal);
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
      expect(stdout.split('\n')[1]).toBe(`${signal}: detached`);
      await gone('link', [linkId]);
      const after = tpCount();
      callGetpgid(3);
      expect(tpCount()).toBe(after);
    });
  }

  it('bad input: one line, usage errors exit 2, kernel refusals exit 1', () => {
    fails(
      ['prog', 'attach', 'pinned', PROG, 'tracepoint', 'nope'],
      2,
      /^tsbpf: prog attach: .*tracepoint wants CATEGORY\/NAME, got nope$/m,
    );
    fails(['prog', 'attach', 'pinned', PROG, 'bogus'], 2, /unknown target bogus/);
    fails(
      ['prog', 'attach', 'name', 'x', 'tp', TP],
      2,
      /^tsbpf: prog attach: expected 'id N' or 'pinned PATH'/,
    );
    fails(
      ['prog', 'attach', 'pinned', PROG, 'tp', 'no_such/tracepoint'],
      1,
      /no tracepoint no_such\/tracepoint/,
    );
    fails(['prog', 'attach', 'pinned', `${BASE}/absent`, 'tp', TP], 1, /no such file/);
    fails(['link', 'detach', 'id', '4294967295'], 1, /^tsbpf: link id 4294967295: no such object$/m);
    fails(['prog', 'load', ATTACH_O, `${BASE}/p2`, '--program', 'nothere'], 2, /nothere/);
    expect(existsSync(`${BASE}/p2`)).toBe(false);
  });
});
