// The corpus measure, shared by bench/corpus.js (tsbpf from dist/) and test/corpus/agreement.test.ts
// (tsbpf from src/): for every program of every object in test/fixtures/corpus, the kernel's verdict
// (libbpf through `bpftool prog loadall`, as a user loads a CO-RE object) beside tsbpf's (readObject, then
// loadCollection with that one program), and test runs of the programs both accept on the kernel
// (`bpftool prog run` on libbpf's pinned program) and in user space. Plain JavaScript so both can import it;
// tsbpf comes in as a parameter, so the same code measures the sources and the build (both through the Node
// entry, as a user under Node loads it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The corpus folder: its .c sources and the committed .o files the measure reads. */
export const CORPUS_DIR = fileURLToPath(new URL('../fixtures/corpus/', import.meta.url));

/** The corpus objects, sorted by name. */
export function corpusObjects() {
  return readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.o'))
    .sort();
}

// Each bpftool call is bounded: a load verifies at most 1M instructions per program, a run is one packet.
const BPFTOOL_TIMEOUT_MS = 60_000;

function bpftool(args) {
  try {
    const out = execFileSync('bpftool', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: BPFTOOL_TIMEOUT_MS,
      maxBuffer: 64 << 20,
    });
    return { ok: true, out, err: '' };
  } catch (e) {
    return { ok: false, out: String(e.stdout ?? ''), err: String(e.stderr ?? e.message) };
  }
}

/**
 * The reason a verifier log gives: the first line after the last instruction or state line (the kernel
 * prints its complaint there, then perhaps the states it compared and its statistics).
 */
export function logReason(lines) {
  // Statistics and the precision-tracking trace (mark_precise: …) are not the complaint.
  const summary = /^(verification time|stack depth|processed \d+ insns|mark_precise: )/;
  let last = -1;
  for (let i = 0; i < lines.length; i++) if (/^(\d+: |mark_precise: )/.test(lines[i])) last = i;
  const tail = lines.slice(last + 1).filter((l) => l.trim() !== '' && !summary.test(l));
  return (
    tail[0]?.trim() ??
    lines
      .filter((l) => l.trim() !== '' && !summary.test(l))
      .at(-1)
      ?.trim()
  );
}

/**
 * Load `file` with libbpf (`bpftool -d prog loadall`, programs pinned under a fresh bpffs folder) and say,
 * per program, what the kernel did:
 *   accept       loaded (its kernel program type from `bpftool prog show`);
 *   reject       the verifier refused it (reason: the line of its log that says why);
 *   unavailable  refused before verification, without a log (EPERM for fentry/lsm where the kernel has no
 *                BPF trampolines): a fact about this machine, not about the program;
 *   unknown      not tried: libbpf stops at the first program that fails, and loads none after it.
 * Returns the verdicts (an accepted program's `pin`, for runs) and, with `pinMaps`, the folder its named maps
 * are pinned in (`mapPins`); `release()` unpins them all.
 */
export function kernelLoad(file, { pinMaps = false } = {}) {
  const path = join(CORPUS_DIR, file);
  const pins = `/sys/fs/bpf/tsbpf-corpus-${process.pid}-${file.replace(/\W/g, '_')}`;
  const mapPins = `${pins}-maps`;
  const release = () => {
    rmSync(pins, { recursive: true, force: true });
    rmSync(mapPins, { recursive: true, force: true });
  };
  release();
  const r = bpftool(['-d', 'prog', 'loadall', path, pins, ...(pinMaps ? ['pinmaps', mapPins] : [])]);
  const verdicts = new Map();
  if (r.ok) {
    for (const name of readdirSync(pins)) {
      const show = bpftool(['prog', 'show', 'pinned', join(pins, name), '--json']);
      const type = show.ok ? JSON.parse(show.out).type : undefined;
      verdicts.set(name, { verdict: 'accept', type, pin: join(pins, name) });
    }
    return { verdicts, mapPins: pinMaps ? mapPins : undefined, release };
  }
  release();
  const log = r.err.split('\n');
  // libbpf lists each program as it finds it, in load order: those before the failing one loaded. Functions
  // of .text are subprograms, not programs (libbpf appends them to the programs that call them).
  const order = [];
  for (const line of log) {
    const m = /^libbpf: sec '([^']+)': found program '([^']+)'/.exec(line);
    if (m && m[1] !== '.text' && !order.includes(m[2])) order.push(m[2]);
  }
  const failedAt = log.findIndex((l) => /^libbpf: prog '[^']+': BPF program load failed/.test(l));
  if (failedAt < 0) {
    const why = log.find((l) => /^libbpf: .*(failed|error)/i.test(l)) ?? log.find((l) => l.trim());
    for (const name of order) verdicts.set(name, { verdict: 'unknown', reason: `object: ${why}` });
    return { verdicts, release };
  }
  const failed = /^libbpf: prog '([^']+)': BPF program load failed: (.*)$/.exec(log[failedAt]);
  // libbpf prints the verifier's log right after the failure, between these two lines.
  const begin = log.findIndex((l, i) => i > failedAt && l.endsWith('-- BEGIN PROG LOAD LOG --'));
  const end = log.findIndex((l, i) => i > begin && l.endsWith('-- END PROG LOAD LOG --'));
  const reason =
    begin >= 0 && end > begin && begin - failedAt <= 3 ? logReason(log.slice(begin + 1, end)) : undefined;
  for (const name of order) {
    if (name === failed[1]) {
      verdicts.set(
        name,
        reason
          ? { verdict: 'reject', reason }
          : { verdict: 'unavailable', reason: `refused before verification: ${failed[2]}` },
      );
    } else {
      // Earlier programs were loaded and then closed with the object; later ones never reached the kernel.
      const before = order.indexOf(name) < order.indexOf(failed[1]);
      verdicts.set(name, {
        verdict: before ? 'accept' : 'unknown',
        reason: before ? undefined : `not loaded: libbpf stopped at ${failed[1]}`,
      });
    }
  }
  return { verdicts, release };
}

/** The first line of an error's message. */
export function firstLine(e) {
  return String(e?.message ?? e).split('\n')[0];
}

/**
 * tsbpf's verdict on each program of `file`: the object read (`lib.readObject`), then each program loaded
 * alone into user space (`lib.loadCollection(spec, { programs: [name] })`, which verifies it) and released.
 * A failure to read the object refuses every program with its reason. With `backend: 'kernel'` the same
 * through tsbpf's kernel back end: tsbpf's loader (CO-RE, externs, maps) and the kernel's verifier.
 */
export function tsbpfLoad(lib, file, backend = 'userspace') {
  const bytes = new Uint8Array(readFileSync(join(CORPUS_DIR, file)));
  const verdicts = new Map();
  let spec;
  try {
    spec = lib.readObject(bytes, { file });
  } catch (e) {
    return { verdicts, objectError: firstLine(e) };
  }
  for (const p of spec.programs) {
    const about = { type: p.type, section: p.section };
    try {
      lib.loadCollection(spec, { backend, programs: [p.name] }).close();
      verdicts.set(p.name, { verdict: 'accept', ...about });
    } catch (e) {
      verdicts.set(p.name, { verdict: 'reject', ...about, reason: firstLine(e) });
    }
  }
  return { verdicts, objectError: undefined };
}

/**
 * Every program of the corpus with both verdicts, one row each: object, program, section, type (the
 * kernel's when it loaded it, else tsbpf's), kernel verdict and reason, tsbpf verdict and reason, agreement
 * ('yes', 'no', or 'n/a' where the kernel gave no verdict). The kernel's pins are released on return.
 */
export function measureCorpus(lib, files = corpusObjects()) {
  const rows = [];
  for (const file of files) {
    const k = kernelLoad(file);
    const t = tsbpfLoad(lib, file);
    try {
      const names = new Set([...k.verdicts.keys(), ...t.verdicts.keys()]);
      for (const name of [...names].sort()) {
        const kv = k.verdicts.get(name) ?? { verdict: 'unknown', reason: 'not seen by libbpf' };
        const tv = t.verdicts.get(name) ?? {
          verdict: 'reject',
          reason: t.objectError ?? 'program not found in the object by tsbpf',
        };
        const decided = kv.verdict === 'accept' || kv.verdict === 'reject';
        rows.push({
          object: file,
          program: name,
          section: tv.section,
          type: kv.type ?? tv.type,
          kernel: kv.verdict,
          kernelReason: kv.reason,
          tsbpf: tv.verdict,
          tsbpfReason: tv.reason,
          agree: decided ? (kv.verdict === tv.verdict ? 'yes' : 'no') : 'n/a',
        });
      }
    } finally {
      k.release();
    }
  }
  return rows;
}

/**
 * The CLI's verdict on one program (`tsbpf verify FILE --program NAME --json`, the build in dist/), as a new
 * user would try it: accept, or reject with the first diagnostic (or the error line the CLI printed).
 */
export function cliVerdict(file, program) {
  const bin = fileURLToPath(new URL('../../bin/tsbpf.js', import.meta.url));
  const args = [bin, 'verify', join(CORPUS_DIR, file), '--program', program, '--json'];
  let out;
  try {
    out = execFileSync(process.execPath, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  } catch (e) {
    out = String(e.stdout ?? '');
    if (!out.trim().startsWith('{'))
      return { verdict: 'reject', reason: firstLine(String(e.stderr ?? e.message)) };
  }
  const json = JSON.parse(out);
  const p = json.programs?.find((x) => x.name === program) ?? json.programs?.[0];
  if (json.accepted && p?.accepted) return { verdict: 'accept' };
  return { verdict: 'reject', reason: p?.diagnostics?.[0]?.message ?? json.error ?? 'rejected' };
}

/** Totals over the rows: what the note reports. */
export function summarize(rows) {
  const kernelAccepted = rows.filter((r) => r.kernel === 'accept');
  const kernelRejected = rows.filter((r) => r.kernel === 'reject');
  const bothAccept = kernelAccepted.filter((r) => r.tsbpf === 'accept');
  const unsound = kernelRejected.filter((r) => r.tsbpf === 'accept');
  const falseAlarms = kernelAccepted.filter((r) => r.tsbpf !== 'accept');
  const reasons = new Map();
  for (const r of falseAlarms) {
    const key = groupReason(r.tsbpfReason);
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  // Rejections both make, but tsbpf's for want of a feature before it reached the kernel's reason: they
  // become real checks once the feature lands.
  const earlyRejections = kernelRejected
    .filter((r) => r.tsbpf === 'reject' && MISSING_FEATURE.test(r.tsbpfReason ?? ''))
    .map((r) => `${r.object}:${r.program}`);
  // Per program type (the kernel's name): kernel-accepted, and of those accepted by tsbpf.
  const byType = {};
  for (const r of kernelAccepted) {
    const type = r.type ?? '?';
    byType[type] ??= { kernelAccepted: 0, tsbpfAccepted: 0 };
    const t = byType[type];
    t.kernelAccepted++;
    if (r.tsbpf === 'accept') t.tsbpfAccepted++;
  }
  return {
    programs: rows.length,
    objects: new Set(rows.map((r) => r.object)).size,
    kernelAccepted: kernelAccepted.length,
    kernelRejected: kernelRejected.length,
    kernelUndecided: rows.length - kernelAccepted.length - kernelRejected.length,
    tsbpfAccepted: rows.filter((r) => r.tsbpf === 'accept').length,
    bothAccept: bothAccept.length,
    acceptedShare: kernelAccepted.length ? bothAccept.length / kernelAccepted.length : 0,
    bothReject: kernelRejected.length - unsound.length,
    earlyRejections,
    unsound: unsound.map((r) => `${r.object}:${r.program}`),
    byType,
    refusals: [...reasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
  };
}

/** tsbpf refusals that say a feature is missing rather than that the program is wrong. */
export const MISSING_FEATURE =
  /unknown helper|not supported|unsupported|is undefined|max_entries must be > 0|needs the kernel's BTF|unknown program type/;

/**
 * A refusal's reason with what varies between programs taken out (instruction numbers, registers, offsets,
 * names in quotes), so refusals for the same cause count together; helper and map type numbers stay, as
 * they say what is missing.
 */
export function groupReason(reason = '') {
  return reason
    .replace(/^(?:[\w.-]+\.o: |program [\w.]+: |section \S+: |instruction (?:N|\d+): )+/, '')
    .replace(/( \((at byte \d+|program [\w.]+)\))+$/, '')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\b(insn|instruction|at|off|offset|size)\s*[=#]?\s*-?\d+/gi, '$1 N')
    .replace(/\bR\d\b/g, 'Rn')
    .replace(/fp-\d+/g, 'fp-N')
    .replace(/\(line \d+\)|:\d+(:\d+)?\b/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Program types whose kernel test run takes a packet as `data_in` (BPF_PROG_TEST_RUN builds an skb, an
 * xdp_buff, or for a flow dissector the packet it dissects, returning the flow keys as data_out): the runs
 * compared with user space. (syscall programs cannot be run through bpftool: the kernel wants no ctx_out
 * and no repeat for them, and bpftool always sends both.)
 */
export const PACKET_TYPES = new Set([
  'xdp',
  'sched_cls',
  'sched_act',
  'socket_filter',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'flow_dissector',
]);

/** Packet types whose context is a `struct __sk_buff` (run with one in, so ctx_out can be compared). */
export const SKB_TYPES = new Set([
  'sched_cls',
  'sched_act',
  'socket_filter',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
]);

/**
 * One kernel test run of the pinned program on `packet` (and the context `ctxIn`, when given): `bpftool prog
 * run` (retval, data_out, ctx_out), or the reason the kernel would not run it.
 */
export function kernelRun(pin, packet, ctxIn) {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-corpus-run-'));
  try {
    const file = (name) => join(dir, name);
    writeFileSync(file('in'), packet);
    const args = ['prog', 'run', 'pinned', pin, 'data_in', file('in'), 'data_out', file('out')];
    if (ctxIn) {
      writeFileSync(file('ctx'), ctxIn);
      args.push('ctx_in', file('ctx'), 'ctx_out', file('ctx-out'));
    }
    const r = bpftool([...args, 'repeat', '1']);
    if (!r.ok) return { error: firstLine((r.err || r.out).replace(/^Error: /m, '')) };
    const m = /Return value: (\d+)/.exec(r.out + r.err);
    if (!m) return { error: `no return value in: ${firstLine(r.out)}` };
    // A file the kernel wrote nothing to is not created: an empty packet or context.
    const read = (name) => {
      try {
        return new Uint8Array(readFileSync(file(name)));
      } catch {
        return new Uint8Array(0);
      }
    };
    return { retval: Number(m[1]) >>> 0, dataOut: read('out'), ctxOut: ctxIn ? read('ctx-out') : undefined };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hexArg = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0'));

/** Set `key` to `value` (bytes) in the map pinned at `pin` (`bpftool map update`). */
export function kernelMapUpdate(pin, key, value) {
  const r = bpftool([
    'map',
    'update',
    'pinned',
    pin,
    'key',
    'hex',
    ...hexArg(key),
    'value',
    'hex',
    ...hexArg(value),
  ]);
  if (!r.ok) throw new Error(`bpftool map update ${pin}: ${firstLine(r.err || r.out)}`);
}

/** Every entry of the map pinned at `pin` (`bpftool map dump`), as hex key → hex value, keys sorted. */
export function kernelMapDump(pin) {
  const r = bpftool(['map', 'dump', 'pinned', pin, '-j']);
  if (!r.ok) throw new Error(`bpftool map dump ${pin}: ${firstLine(r.err || r.out)}`);
  const hex = (a) => a.map((x) => x.replace(/^0x/, '')).join('');
  const entries = JSON.parse(r.out).map((e) => [hex(e.key), hex(e.value)]);
  return new Map(entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
