// Live inspection against bpftool on the running kernel: test/fixtures/inspect/inspect_maps.o is loaded by
// bpftool (`prog load … pinmaps`) and by our `prog loadall`; `tsbpf prog show|list`, `map show|list|dump`
// and `link list` must print bpftool's `-j` fields with bpftool's values, element updates made by one
// tool must be what the other reads, and bad selectors are one line with docs/cli.md's exit codes. Every
// pin is removed after and the objects are gone from the kernel (checked by id).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKernelObject, objPin } from '../../../src/kernel/index.js';
import { linkDetails, objectIds } from '../../../src/kernel/inspect.js';
import { tsbpf } from '../../cli/run-cli.js';
import { kernelOracle } from '../../support/kernel.js';

const oracle = kernelOracle();
const FIXTURE = new URL('../../fixtures/inspect/inspect_maps.o', import.meta.url).pathname;
const BASE = `/sys/fs/bpf/tsbpf-inspect-${process.pid}`;
const PROG = `${BASE}/prog`;
const MAPS = `${BASE}/maps`;
const OURS = `${BASE}/ours`;
const PKT = `/tmp/tsbpf-inspect-${process.pid}.pkt`;

/** struct stats bytes: counters, the label "hi" (bpftool prints a char array as a string only when it is
 * printable ASCII ending in a NUL, the project's formatter whenever it is UTF-8: so a printable label), ints. */
const SLOT_VALUE = [
  ...Array.from({ length: 16 }, (_, i) => i + 1),
  ...[0x68, 0x69, 0, 0, 0, 0, 0, 0],
  ...[0xfe, 0xff, 0xff, 0xff, 9, 0, 0, 0],
];

const bpftool = (...args: string[]): unknown =>
  JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }));

function ok(args: string[]): string {
  const r = tsbpf(args);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code, args.join(' ')).toBe(0);
  return r.stdout;
}

const json = (args: string[]): unknown => JSON.parse(ok([...args, '--json']));

/** The fields `ours` and bpftool's `theirs` both have, from theirs (bpftool adds `pids`; we give none). */
function shared(ours: Record<string, unknown>, theirs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(ours).map((k) => [k, theirs[k]]));
}

describe.skipIf(!oracle)('tsbpf prog|map|link on the kernel, against bpftool', () => {
  let progId = 0;
  let mapIds: number[] = [];

  beforeAll(() => {
    rmSync(BASE, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', BASE]);
    execFileSync('bpftool', ['prog', 'load', FIXTURE, PROG, 'pinmaps', MAPS]);
    const p = bpftool('prog', 'show', 'pinned', PROG) as { id: number; map_ids: number[] };
    progId = p.id;
    mapIds = p.map_ids;
  });

  afterAll(() => {
    rmSync(BASE, { recursive: true, force: true });
    // Unpinned and unreferenced, bpftool's objects are freed (the kernel frees ids after an RCU period).
    const deadline = Date.now() + 5000;
    while (objectIds('prog').includes(progId) && Date.now() < deadline) execFileSync('sleep', ['0.05']);
    expect(objectIds('prog')).not.toContain(progId);
    const maps = () => objectIds('map').filter((id) => mapIds.includes(id));
    while (maps().length && Date.now() < deadline) execFileSync('sleep', ['0.05']);
    expect(maps()).toEqual([]);
  });

  it('prog show id N / pinned P --json: every field bpftool -j gives, with its value', () => {
    const theirs = bpftool('prog', 'show', 'id', String(progId)) as Record<string, unknown>;
    for (const sel of [
      ['id', String(progId)],
      ['pinned', PROG],
    ]) {
      const ours = json(['prog', 'show', ...sel]) as Record<string, unknown>;
      // Only bpftool's process list (pids) is left out; loaded_at is whole seconds computed from two clocks.
      expect(Object.keys(ours).sort()).toEqual(
        Object.keys(theirs)
          .filter((k) => k !== 'pids')
          .sort(),
      );
      expect(Math.abs((ours.loaded_at as number) - (theirs.loaded_at as number))).toBeLessThanOrEqual(1);
      expect({ ...ours, loaded_at: 0 }).toEqual({ ...shared(ours, theirs), loaded_at: 0 });
    }
    const text = ok(['prog', 'show', 'id', String(progId)]);
    expect(text).toContain(`${progId}: xdp  name count  tag ${theirs.tag}  gpl\n`);
    expect(text).toContain(`map_ids ${mapIds.join(',')}\n\tbtf_id ${theirs.btf_id}\n`);
  });

  it('prog list and map list --json: every program and map bpftool lists, the same fields', () => {
    const ours = json(['prog', 'list']) as Record<string, unknown>[];
    const theirs = bpftool('prog', 'show') as Record<string, unknown>[];
    const mine = ours.find((p) => p.id === progId)!;
    expect(mine).toBeDefined();
    // Programs come and go while the others test; every one of ours that bpftool also saw agrees with it.
    const byId = new Map(theirs.map((p) => [p.id, p]));
    let compared = 0;
    for (const p of ours) {
      const t = byId.get(p.id);
      if (!t) continue;
      compared++;
      expect({ ...p, loaded_at: 0 }).toEqual({ ...shared(p, t), loaded_at: 0 });
    }
    expect(compared).toBeGreaterThan(0);
    const maps = json(['map', 'list']) as Record<string, unknown>[];
    const theirMaps = new Map((bpftool('map', 'show') as Record<string, unknown>[]).map((m) => [m.id, m]));
    for (const id of mapIds) {
      const m = maps.find((x) => x.id === id)!;
      expect(m).toEqual(shared(m, theirMaps.get(id) as Record<string, unknown>));
    }
  });

  it('map show: the fields and values of bpftool -j, by id and by pin', () => {
    for (const name of ['flows', 'slots', 'hits']) {
      const theirs = bpftool('map', 'show', 'pinned', `${MAPS}/${name}`) as Record<string, unknown>;
      const ours = json(['map', 'show', 'pinned', `${MAPS}/${name}`]) as Record<string, unknown>;
      expect(ours).toEqual(shared(ours, theirs));
      expect(Object.keys(ours).sort()).toEqual(
        Object.keys(theirs)
          .filter((k) => k !== 'pids')
          .sort(),
      );
      expect(json(['map', 'show', 'id', String(theirs.id)])).toEqual(ours);
    }
  });

  it("map dump --json equals bpftool's for a BTF-typed hash map, an array and a per-CPU array", () => {
    const flows = `${MAPS}/flows`;
    const hex = (...b: number[]) => b.map((x) => x.toString(16).padStart(2, '0'));
    execFileSync('bpftool', [
      'map', 'update', 'pinned', flows,
      'key', 'hex', ...hex(1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 4, 0, 17, 0, 0, 0),
      'value', 'hex', ...hex(5, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0),
    ]); // biome-ignore format: bytes
    execFileSync('bpftool', [
      'map',
      'update',
      'pinned',
      `${MAPS}/slots`,
      'key',
      '1',
      '0',
      '0',
      '0',
      'value',
      ...SLOT_VALUE.map(String),
    ]);
    // The program fills the maps too (its own counters): one test run.
    execFileSync('sh', [
      '-c',
      `head -c 64 /dev/zero > ${PKT} && bpftool prog run pinned ${PROG} data_in ${PKT} repeat 3; rm -f ${PKT}`,
    ]);
    for (const name of ['flows', 'slots', 'hits']) {
      const theirs = bpftool('map', 'dump', 'pinned', `${MAPS}/${name}`);
      expect(json(['map', 'dump', 'pinned', `${MAPS}/${name}`]), name).toEqual(theirs);
    }
    const slots = bpftool('map', 'dump', 'pinned', `${MAPS}/slots`) as {
      formatted: { value: { bytes: number } };
    }[];
    expect(slots[0]!.formatted.value.bytes).toBe(3 * 64); // the program's own writes are there
    const text = ok(['map', 'dump', 'pinned', flows]);
    expect(text).toBe(
      '{"key":{"saddr":1,"daddr":2,"sport":3,"dport":4,"proto":17,"pad":[0,0,0]},"value":{"packets":5,"bytes":6,"label":"abc","delta":-1,"flags":7}}\nFound 1 element\n',
    );
  });

  it('map update/lookup/delete: what we write bpftool reads, and the reverse (BTF values, hex, bytes)', () => {
    const flows = `${MAPS}/flows`;
    const key = '{"saddr":9,"daddr":8,"sport":7,"dport":6,"proto":6,"pad":[0,0,0]}';
    const keyHex = [
      '09',
      '00',
      '00',
      '00',
      '08',
      '00',
      '00',
      '00',
      '07',
      '00',
      '06',
      '00',
      '06',
      '00',
      '00',
      '00',
    ];
    ok([
      'map',
      'update',
      'pinned',
      flows,
      'key',
      key,
      'value',
      '{"packets":18446744073709551615,"bytes":2,"label":"x\\"yz","delta":-5,"flags":1}',
    ]);
    const theirs = bpftool('map', 'lookup', 'pinned', flows, 'key', 'hex', ...keyHex) as {
      formatted: unknown;
    };
    expect(theirs.formatted).toEqual({
      key: { saddr: 9, daddr: 8, sport: 7, dport: 6, proto: 6, pad: [0, 0, 0] },
      value: { packets: 2 ** 64, bytes: 2, label: 'x"yz', delta: -5, flags: 1 }, // 2^64 - 1 as a double
    });
    // Our lookup of it, by hex: bpftool's -j output byte for byte (the u64 maximum printed whole).
    const ours = ok(['map', 'lookup', 'pinned', flows, 'key', 'hex', keyHex.join(''), '--json']);
    expect(ours).toContain('"packets":18446744073709551615');
    expect(JSON.parse(ours)).toEqual(theirs);
    // NOEXIST on a present key is the kernel's EEXIST; EXIST updates.
    const again = tsbpf([
      'map',
      'update',
      'pinned',
      flows,
      'key',
      key,
      'value',
      'hex',
      '00'.repeat(32),
      'noexist',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^tsbpf: map update pinned .*flows: BPF_MAP_UPDATE_ELEM: file exists \(EEXIST\)\n$/,
    );
    ok(['map', 'update', 'pinned', flows, 'key', key, 'value', 'hex', '00'.repeat(32), 'exist']);
    expect(
      (bpftool('map', 'lookup', 'pinned', flows, 'key', 'hex', ...keyHex) as { value: string[] }).value,
    ).toEqual(Array(32).fill('0x00'));
    ok(['map', 'delete', 'pinned', flows, 'key', 'hex', ...keyHex]);
    const gone = tsbpf(['map', 'lookup', 'pinned', flows, 'key', key]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^tsbpf: map lookup pinned .*: key 09 00 .* not found\n$/);
    // Per-CPU: one value goes to every CPU, as bpftool does; bytes as decimal words.
    ok(['map', 'update', 'pinned', `${MAPS}/hits`, 'key', '1', '0', '0', '0', 'value', '7']);
    const hits = bpftool('map', 'lookup', 'pinned', `${MAPS}/hits`, 'key', '1', '0', '0', '0') as {
      formatted: { values: { value: number }[] };
    };
    expect(hits.formatted.values.every((v) => v.value === 7)).toBe(true);
  });

  it('link list/show --json: an XDP link as bpftool shows it (type, program, interface), by id and pin', () => {
    // A private network namespace: its loopback takes the XDP link without touching the machine's.
    const ns = `tsbpf-inspect-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const obj = loadKernelObject(FIXTURE);
    try {
      const link = obj.program('count').attachXdp('lo', { netns: ns, mode: 'skb' });
      try {
        const id = linkDetails(link.fd).id;
        const theirs = bpftool('link', 'show', 'id', String(id)) as Record<string, unknown>;
        const ours = json(['link', 'show', 'id', String(id)]) as Record<string, unknown>;
        // This bpftool prints no interface for an XDP link: the fields it gives agree, and ours has ifindex.
        expect(theirs).toEqual({ id, type: 'xdp', prog_id: ours.prog_id });
        expect(ours).toEqual({ ...theirs, ifindex: 1 });
        expect(ours.prog_id).toBe((bpftool('prog', 'show', 'id', String(ours.prog_id)) as { id: number }).id);
        objPin(link.fd, `${BASE}/link`);
        expect(json(['link', 'show', 'pinned', `${BASE}/link`])).toEqual(ours);
        rmSync(`${BASE}/link`);
        const all = json(['link', 'list']) as Record<string, unknown>[];
        expect(all.find((l) => l.id === id)).toEqual(ours);
        const listed = new Map((bpftool('link', 'show') as Record<string, unknown>[]).map((l) => [l.id, l]));
        for (const l of all) {
          const t = listed.get(l.id);
          if (!t) continue;
          const { pids: _, ...fields } = t; // bpftool's process list: not ours to give
          expect(shared(fields, l)).toEqual(fields);
        }
        expect(ok(['link', 'show', 'id', String(id)])).toBe(
          `${id}: xdp  prog ${ours.prog_id}\n\tifindex 1\n`,
        );
      } finally {
        link.close();
      }
    } finally {
      obj.close();
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  it('prog loadall pins every program and map; bpftool reads them; removing the pins frees them', () => {
    expect(ok(['prog', 'loadall', FIXTURE, OURS])).toBe(
      `pinned 1 program under ${OURS}, 3 maps under ${OURS}/maps\n`,
    );
    const p = bpftool('prog', 'show', 'pinned', `${OURS}/count`) as {
      id: number;
      map_ids: number[];
      tag: string;
    };
    const theirs = bpftool('prog', 'show', 'pinned', PROG) as { tag: string };
    expect(p.tag).toBe(theirs.tag); // the same instructions as libbpf loaded
    const pinnedMaps = ['flows', 'hits', 'slots'].map(
      (n) => (bpftool('map', 'show', 'pinned', `${OURS}/maps/${n}`) as { id: number }).id,
    );
    expect(pinnedMaps.sort()).toEqual([...p.map_ids].sort());
    rmSync(OURS, { recursive: true });
    const deadline = Date.now() + 5000;
    while (objectIds('prog').includes(p.id) && Date.now() < deadline) execFileSync('sleep', ['0.05']);
    expect(objectIds('prog')).not.toContain(p.id);
  });

  it('prog loadall --autoattach: the tracepoint program attached and its link pinned, XDP pinned as a program', () => {
    const dir = `${BASE}/auto`;
    const obj = new URL('../../fixtures/inspect/autoattach.o', import.meta.url).pathname;
    expect(ok(['prog', 'loadall', obj, dir, '--autoattach'])).toBe(
      `pinned 2 programs (1 attached, as links) under ${dir}, 1 map under ${dir}/maps\n`,
    );
    const link = bpftool('link', 'show', 'pinned', `${dir}/count_getpid`) as { id: number; type: string };
    expect(link.type).toBe('perf_event');
    expect((bpftool('prog', 'show', 'pinned', `${dir}/pass`) as { type: string }).type).toBe('xdp');
    const count = () =>
      JSON.parse(ok(['map', 'dump', 'pinned', `${dir}/maps/calls`, '--json']))[0].formatted.value as number;
    const before = count();
    // Attached after this process exits: a getpid loop in another process is counted.
    execFileSync('python3', ['-c', 'import os\nfor _ in range(1000): os.getpid()']);
    expect(count() - before).toBeGreaterThanOrEqual(1000);
    rmSync(dir, { recursive: true });
    const deadline = Date.now() + 5000;
    while (objectIds('link').includes(link.id) && Date.now() < deadline) execFileSync('sleep', ['0.05']);
    expect(objectIds('link')).not.toContain(link.id);
  });

  it('maps without BTF (bpftool map create): dump text and --json byte for byte as bpftool prints them', () => {
    const hash = `${BASE}/nobtf`;
    const percpu = `${BASE}/nobtf_pc`;
    execFileSync('bpftool', [
      'map',
      'create',
      hash,
      'type',
      'hash',
      'key',
      '4',
      'value',
      '8',
      'entries',
      '8',
      'name',
      'nobtf',
    ]);
    execFileSync('bpftool', [
      'map',
      'create',
      percpu,
      'type',
      'percpu_array',
      'key',
      '4',
      'value',
      '4',
      'entries',
      '2',
      'name',
      'pc',
    ]);
    ok(['map', 'update', 'pinned', hash, 'key', '1', '0', '0', '0', 'value', 'hex', '0102030405060708']);
    execFileSync('bpftool', [
      'map',
      'update',
      'pinned',
      hash,
      'key',
      '2',
      '0',
      '0',
      '0',
      'value',
      '8',
      '7',
      '6',
      '5',
      '4',
      '3',
      '2',
      '1',
    ]);
    ok(['map', 'update', 'pinned', percpu, 'key', '1', '0', '0', '0', 'value', '0x2a', '0', '0', '0']);
    for (const path of [hash, percpu]) {
      const text = execFileSync('bpftool', ['map', 'dump', 'pinned', path], { encoding: 'utf8' });
      expect(ok(['map', 'dump', 'pinned', path])).toBe(text);
      const raw = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', path], { encoding: 'utf8' });
      expect(ok(['map', 'dump', 'pinned', path, '--json'])).toBe(`${raw.trim()}\n`);
    }
    rmSync(hash);
    rmSync(percpu);
  });

  it('not root: one line saying what to do, exit 1', () => {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        'bin/tsbpf.js',
        'map',
        'show',
        'id',
        String(mapIds[0]),
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe(
      `tsbpf: map id ${mapIds[0]}: BPF_MAP_GET_FD_BY_ID: operation not permitted (EPERM; run as root or grant CAP_BPF)\n`,
    );
    expect(r.status).toBe(1);
  });

  it('bad selectors and keys: one line, exit 1 for what the kernel has not, 2 for usage', () => {
    const cases: [string[], number, RegExp][] = [
      [['prog', 'show', 'id', '4294967295'], 1, /^tsbpf: prog id 4294967295: no such object\n$/],
      [['map', 'show', 'id', 'x'], 2, /^tsbpf: map show: id 'x' is not a number\n$/],
      [['map', 'dump', 'pinned', PROG], 1, /^tsbpf: map pinned .*\/prog: is a prog, not a map\n$/],
      [['map', 'show', 'pinned', '/tmp'], 1, /^tsbpf: map pinned \/tmp: not a pinned BPF object/],
      [['prog', 'show', 'pinned', `${BASE}/none`], 1, /^tsbpf: prog pinned .*\/none: no such file\n$/],
      [
        ['map', 'lookup', 'pinned', `${MAPS}/slots`, 'key', 'hex', '0100'],
        2,
        /key has 2 bytes, the map's have 4\n$/,
      ],
      [
        ['map', 'update', 'pinned', `${MAPS}/slots`, 'key', '1', '0', '0', '0'],
        2,
        /expected 'key … value …'\n$/,
      ],
      [['map', 'lookup', 'pinned', `${MAPS}/slots`, 'key', '300', '0'], 2, /key byte '300' is not 0-255/],
      [['prog', 'show', 'something'], 2, /^tsbpf: prog show: expected 'id N' or 'pinned PATH'/],
    ];
    execFileSync('bpftool', [
      'map',
      'create',
      `${BASE}/rb`,
      'type',
      'ringbuf',
      'key',
      '0',
      'value',
      '0',
      'entries',
      '4096',
      'name',
      'rb',
    ]);
    cases.push([
      ['map', 'dump', 'pinned', `${BASE}/rb`],
      1,
      /^tsbpf: map dump pinned .*\/rb: a ringbuf map has no elements to dump \(/,
    ]);
    for (const [args, code, line] of cases) {
      const r = tsbpf(args);
      expect(r.stderr, args.join(' ')).toMatch(line);
      expect(r.stderr.split('\n').length, args.join(' ')).toBe(2);
      expect(r.code, args.join(' ')).toBe(code);
    }
    rmSync(`${BASE}/rb`);
    expect(existsSync(BASE)).toBe(true);
  });
});
