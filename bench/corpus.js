// The corpus run (issue 16): every program of every object in test/fixtures/corpus, the kernel's verdict
// (libbpf through bpftool prog loadall) beside tsbpf's (the build in dist/, each program loaded alone), a
// table — program, type, kernel verdict, tsbpf verdict (first line of the reason), agreement — and the
// totals: the share of kernel-accepted programs tsbpf accepts, the programs tsbpf accepts that the kernel
// rejects (must be none), and tsbpf's refusals of kernel-accepted programs grouped by reason.
//   node bench/corpus.js            the table and the totals
//   node bench/corpus.js --json     the rows and the totals as JSON
// Beside them, each program loaded through tsbpf's kernel back end (tsbpf's loader: CO-RE, externs, maps;
// the kernel's verifier): where it and libbpf disagree, the loader is what differs.
//   node bench/corpus.js --cli      also each program through the CLI (tsbpf verify --program), as a new
//                                   user tries it: its verdict beside the library's
// Needs root, bpftool and a bpffs on /sys/fs/bpf (the kernel is the oracle); without them it says why and
// exits 0 without figures, as the other benchmarks do without the kernel column.
import { execFileSync } from 'node:child_process';
import { cliVerdict, corpusObjects, measureCorpus, summarize, tsbpfLoad } from '../test/corpus/measure.js';

const json = process.argv.includes('--json');
const cli = process.argv.includes('--cli');
// tsbpf as a Node user gets it ('tsbpf' under Node): the running kernel's BTF is the default CO-RE target.
const lib = await import('../dist/node/root.js');

function kernelReady() {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return 'needs root on Linux';
  try {
    execFileSync('bpftool', ['version'], { stdio: 'pipe' });
    execFileSync('mountpoint', ['-q', '/sys/fs/bpf'], { stdio: 'pipe' });
  } catch {
    return 'needs bpftool and a bpffs mounted on /sys/fs/bpf';
  }
  return undefined;
}

/** The start of a reason, for a list. */
function firstWords(s = '') {
  const t = s.replace(/^BPF_PROG_LOAD: /, '');
  return t.length > 90 ? `${t.slice(0, 89)}…` : t;
}

const why = kernelReady();
if (why) {
  console.log(`(corpus run skipped: the kernel's verdicts ${why})`);
  process.exit(0);
}

const rows = measureCorpus(lib, corpusObjects());
const totals = summarize(rows);
// tsbpf's loader into the kernel, per program (each alone), beside libbpf's.
for (const file of corpusObjects()) {
  const t = tsbpfLoad(lib, file, 'kernel');
  for (const r of rows.filter((x) => x.object === file)) {
    const v = t.verdicts.get(r.program);
    r.viaTsbpf = v?.verdict ?? 'reject';
    r.viaTsbpfReason = v?.reason ?? t.objectError;
  }
}
{
  const decided = rows.filter((r) => r.kernel === 'accept' || r.kernel === 'reject');
  totals.viaTsbpfAccepted = rows.filter((r) => r.kernel === 'accept' && r.viaTsbpf === 'accept').length;
  totals.viaTsbpfDiffers = decided
    .filter((r) => r.viaTsbpf !== r.kernel)
    .map((r) => `${r.object}:${r.program} (${firstWords(r.viaTsbpfReason)})`);
}
if (cli) {
  for (const r of rows) {
    const v = cliVerdict(r.object, r.program);
    r.cli = v.verdict;
    r.cliReason = v.reason;
  }
  const accepted = rows.filter((r) => r.kernel === 'accept');
  totals.cliBothAccept = accepted.filter((r) => r.cli === 'accept').length;
  totals.cliUnsound = rows
    .filter((r) => r.kernel === 'reject' && r.cli === 'accept')
    .map((r) => `${r.object}:${r.program}`);
  totals.cliDiffers = rows.filter((r) => r.cli !== r.tsbpf).map((r) => `${r.object}:${r.program}`);
}

if (json) {
  console.log(JSON.stringify({ rows, totals }, null, 2));
} else {
  const clip = (s, n) => {
    const t = s ?? '';
    return t.length > n ? `${t.slice(0, n - 1)}…` : t;
  };
  const verdict = (v, reason, n) => (v === 'accept' ? 'accept' : clip(`${v}: ${reason ?? ''}`, n));
  console.log(
    `${'program'.padEnd(44)} ${'type'.padEnd(16)} ${'kernel'.padEnd(40)} ${'tsbpf'.padEnd(60)} agree`,
  );
  for (const r of rows) {
    const cliColumn = cli ? ` cli: ${verdict(r.cli, r.cliReason, 50)}` : '';
    console.log(
      `${clip(`${r.object.replace(/\.o$/, '')}:${r.program}`, 44).padEnd(44)} ${clip(r.type, 16).padEnd(16)} ${verdict(r.kernel, r.kernelReason, 40).padEnd(40)} ${verdict(r.tsbpf, r.tsbpfReason, 60).padEnd(60)} ${r.agree}${cliColumn}`,
    );
  }
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  console.log(`
${totals.programs} programs in ${totals.objects} objects
kernel: ${totals.kernelAccepted} accepted, ${totals.kernelRejected} rejected, ${totals.kernelUndecided} without a verdict here (refused before verification, or not reached by libbpf)
tsbpf:  ${totals.tsbpfAccepted} accepted
kernel-accepted programs tsbpf accepts: ${totals.bothAccept} of ${totals.kernelAccepted} (${pct(totals.acceptedShare)})
kernel-rejected programs tsbpf rejects: ${totals.bothReject} of ${totals.kernelRejected}${totals.earlyRejections.length ? ` (${totals.earlyRejections.length} for a missing feature before the kernel's reason: ${totals.earlyRejections.join(', ')})` : ''}
through tsbpf's kernel back end (tsbpf's loader, the kernel's verifier): ${totals.viaTsbpfAccepted} of libbpf's ${totals.kernelAccepted} load; differs from libbpf on ${totals.viaTsbpfDiffers.length}${totals.viaTsbpfDiffers.length ? `:\n  ${totals.viaTsbpfDiffers.join('\n  ')}` : ''}
accepted by tsbpf, rejected by the kernel: ${totals.unsound.length}${totals.unsound.length ? ` (${totals.unsound.join(', ')})` : ''}
by type (tsbpf / kernel accepted): ${Object.entries(totals.byType)
    .sort((a, b) => b[1].kernelAccepted - a[1].kernelAccepted || (a[0] < b[0] ? -1 : 1))
    .map(([t, n]) => `${t} ${n.tsbpfAccepted}/${n.kernelAccepted}`)
    .join(', ')}
tsbpf's refusals of kernel-accepted programs, by reason:`);
  for (const [reason, n] of totals.refusals.slice(0, 10))
    console.log(`  ${String(n).padStart(3)}  ${reason}`);
  if (totals.refusals.length > 10) console.log(`  (${totals.refusals.length - 10} more reasons)`);
  if (cli)
    console.log(`CLI (tsbpf verify --program): accepts ${totals.cliBothAccept} of the kernel's ${totals.kernelAccepted} (${pct(totals.cliBothAccept / totals.kernelAccepted)}); accepted but kernel-rejected: ${totals.cliUnsound.length}${totals.cliUnsound.length ? ` (${totals.cliUnsound.join(', ')})` : ''}
verdict differs from the library's on ${totals.cliDiffers.length}: ${totals.cliDiffers.join(', ')}`);
}
