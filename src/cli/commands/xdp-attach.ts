// `tsbpf xdp attach PROG.o --dev IFACE`: attach an XDP program to a live interface and stay in the
// foreground, one line of per-verdict totals per tick, until SIGINT or SIGTERM; then detach, release
// everything (nothing stays attached or pinned) and print the totals and the maps. `--kernel` (default)
// loads it into the kernel; `--userspace` runs it on the JIT over frames read from a packet socket and
// forwards what passes to a TAP device (see docs/live-demo.md).

import type { Command } from 'commander';
import type { Btf } from '../../btf/index.js';
import type { EngineName } from '../../engine/runner.js';
import { KernelError, VerifierRejectedError } from '../../kernel/errors.js';
import { attachXdp, type LiveAttachment, serveAttached } from '../../kernel/live.js';
import { possibleCpus } from '../../kernel/object.js';
import { VERDICT_MAP, VERDICT_NAMES, type VerdictName } from '../../kernel/verdicts.js';
import type { BpfMap } from '../../maps/types.js';
import { UserspaceXdp } from '../../node/live/datapath.js';
import type { ObjectSpec, ProgramSpec } from '../../spec/object.js';
import { VerifierError } from '../../verifier/index.js';
import { CliError } from '../errors.js';
import {
  applyMapSets,
  chooseProgram,
  dumpMap,
  engineOption,
  loadSelection,
  loadWithMapSets,
  parseMapSets,
  printMapSet,
  programFlag,
  programOption,
  readObjectFile,
  type SizeFlags,
  setBeforeLoad,
  sizeMaps,
  sizeOptions,
} from '../objects.js';

interface AttachOptions extends SizeFlags {
  dev: string;
  netns?: string;
  program?: string;
  section?: string;
  kernel?: boolean;
  userspace?: boolean;
  tap?: string;
  tapNetns?: string;
  mode?: 'skb' | 'native';
  interval: number;
  mapSet?: string[];
  engine: EngineName;
  json?: boolean;
}

export function register(xdp: Command): void {
  const command = xdp
    .command('attach')
    .description(
      'attach an XDP program to an interface and report per-verdict counts until SIGINT/SIGTERM, then detach',
    )
    .argument('<prog.o>', 'ELF object with the XDP program')
    .requiredOption('--dev <iface>', 'interface to attach to')
    .option('--netns <name>', 'network namespace of the interface (ip netns name or path)')
    .option('--kernel', 'load the program into the kernel and attach it with a link (the default)')
    .option(
      '--userspace',
      'run the program on the JIT over frames read from a packet socket on the interface',
    )
    .option('--tap <name>', '--userspace: existing TAP device that receives the frames the program passes')
    .option('--tap-netns <name>', '--userspace: network namespace of the TAP (default: --netns)')
    .option('--mode <mode>', '--kernel: skb (generic) or native; default the kernel’s choice', modeOption)
    .option('--interval <seconds>', 'seconds between reports', intervalOption, 2)
    .option(
      '--map-set <map-and-key=value...>',
      'before attaching: MAP KEY=VALUE, hex bytes in memory order',
      [],
    )
    .option('--engine <engine>', '--userspace: interp or jit', engineOption, 'jit')
    .option('--json', 'one JSON object per line: attached, each tick, detached');
  sizeOptions(programOption(command, 'program to attach (default: the only XDP program)')).action(
    (file: string, options: AttachOptions) => attach(file, options),
  );
}

function modeOption(v: string): 'skb' | 'native' {
  if (v !== 'skb' && v !== 'native') throw new CliError(`--mode: expected skb or native, got '${v}'`, 2);
  return v;
}

function intervalOption(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.05 || n > 3600)
    throw new CliError(`--interval: expected seconds between 0.05 and 3600, got '${v}'`, 2);
  return n;
}

/** What both back ends give the reporting loop. */
interface Live {
  att: LiveAttachment;
  /** Stop the program from running (the maps stay readable until `att.close()`). */
  detach: () => void | Promise<void>;
  program: string;
  maps: ReadonlyMap<string, BpfMap>;
  btf: Btf | undefined;
  cpus: number;
  /** Extra figures for the final report (user-space path). */
  stats?: () => Record<string, number>;
}

async function attach(file: string, options: AttachOptions): Promise<void> {
  if (options.kernel && options.userspace) throw new CliError('choose one of --kernel and --userspace', 2);
  if (!options.userspace && (options.tap || options.tapNetns))
    throw new CliError('--tap and --tap-netns go with --userspace', 2);
  if (options.userspace && options.mode) throw new CliError('--mode goes with --kernel', 2);
  if (!options.userspace && options.cpus !== undefined)
    throw new CliError("--cpus goes with --userspace (the kernel has the machine's CPUs)", 2);
  const spec = readObjectFile(file, programFlag(options));
  const sets = parseMapSets(options.mapSet ?? []);
  const chosen = chooseProgram(file, spec, programFlag(options), { type: 'xdp', label: 'XDP' }, sets);
  if (chosen.type !== 'xdp')
    throw new CliError(
      `${file}: program ${chosen.name} (section ${chosen.section}) is ${chosen.type}, not xdp`,
    );
  sizeMaps(spec, options, options.userspace ? options.cpus : possibleCpus());
  const live = withDeviceErrors(options, () =>
    options.userspace
      ? startUserspace(file, spec, chosen, sets, options)
      : startKernel(file, spec, chosen, sets, options),
  );
  const backend = options.userspace ? 'userspace' : 'kernel';
  const out = (s: string) => process.stdout.write(s);
  const where = `${options.dev}${options.netns ? ` (netns ${options.netns})` : ''}`;
  if (options.json) {
    out(
      `${JSON.stringify({ event: 'attached', program: live.program, dev: options.dev, netns: options.netns ?? null, backend })}\n`,
    );
  } else {
    const forward = options.userspace
      ? options.tap
        ? `, passed frames to TAP ${options.tap}`
        : ', no --tap: verdicts counted, not enforced'
      : '';
    out(`attached ${live.program} to ${where} (${backend}${forward}); Ctrl-C to detach\n`);
  }
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  // On stop: detach, read the maps while they still exist, then release everything.
  const maps: Record<string, unknown> = {};
  let mapText = '';
  const att: LiveAttachment = {
    verdicts: () => live.att.verdicts(),
    done: live.att.done,
    close: async () => {
      try {
        await live.detach();
        if (options.json) for (const [name, map] of live.maps) maps[name] = dumpMap(map, live.btf, live.cpus);
        else
          printMapSet(live.maps, live.btf, live.cpus, (s) => {
            mapText += s;
          });
      } finally {
        await live.att.close();
      }
    },
  };
  const totals = await serveAttached(att, {
    intervalMs: options.interval * 1000,
    onTick: (v) => {
      if (options.json)
        out(`${JSON.stringify({ event: 'tick', seconds: round(seconds()), verdicts: numbers(v) })}\n`);
      else
        out(
          `[${seconds().toFixed(1).padStart(7)}s] ${VERDICT_NAMES.map((n) => `${printed(n)} ${v[n]}`).join('  ')}\n`,
        );
    },
  });
  const stats = live.stats?.();
  if (options.json) {
    out(
      `${JSON.stringify({ event: 'detached', seconds: round(seconds()), verdicts: numbers(totals), ...(stats ? { stats } : {}), maps })}\n`,
    );
    return;
  }
  out(`detached ${live.program} from ${where} after ${seconds().toFixed(1)} s; totals:\n`);
  for (const name of VERDICT_NAMES) out(`  ${printed(name).padEnd(9)}${totals[name]}\n`);
  if (stats)
    out(
      `  ${Object.entries(stats)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`,
    );
  out(mapText);
}

function startKernel(
  file: string,
  spec: ObjectSpec,
  chosen: ProgramSpec,
  sets: ReturnType<typeof parseMapSets>,
  o: AttachOptions,
): Live {
  const after = setBeforeLoad(spec, sets);
  try {
    const att = attachXdp(spec, {
      dev: o.dev,
      netns: o.netns,
      program: chosen.name,
      mode: o.mode,
      load: {
        objectName: (file.split('/').pop() ?? '').replace(/\.o$/, ''),
        programs: loadSelection(spec, chosen, sets),
      },
      prepare: (obj) =>
        applyMapSets(
          (name) => obj.map(name),
          after,
          (map, index, program) => obj.setTailCall(map, index, program),
        ),
    });
    const maps = new Map([...att.object.maps].filter(([name]) => name !== VERDICT_MAP.name));
    return {
      att,
      detach: () => att.link.close(),
      program: att.program.spec.name,
      maps,
      btf: spec.btf as Btf | undefined,
      cpus: possibleCpus(),
    };
  } catch (e) {
    if (e instanceof VerifierRejectedError) {
      // The logs are printed above the one error line.
      const log = e.log.trim() ? `kernel verifier log:\n${indent(tail(e.log, 40))}\n` : '';
      const ours = e.explanation ? `tsbpf's verifier:\n${indent(tail(e.explanation, 40))}\n` : '';
      throw new CliError(`${file}: ${e.message}`, 1, `${log}${ours}` || undefined);
    }
    throw e;
  }
}

function startUserspace(
  file: string,
  spec: ObjectSpec,
  chosen: ProgramSpec,
  sets: ReturnType<typeof parseMapSets>,
  o: AttachOptions,
): Live {
  let obj: ReturnType<typeof loadWithMapSets>;
  try {
    obj = loadWithMapSets(spec, sets, {
      engine: o.engine,
      programs: loadSelection(spec, chosen, sets),
      cpus: o.cpus,
    });
  } catch (e) {
    if (e instanceof VerifierError)
      throw new CliError(
        `${file}: program ${e.program} rejected by tsbpf's verifier: ${e.message}`,
        1,
        e.result ? `tsbpf's verifier:\n${indent(tail(e.result.log, 40))}` : undefined,
      );
    throw e;
  }
  const path = UserspaceXdp.start(obj, {
    dev: o.dev,
    netns: o.netns,
    tap: o.tap,
    tapNetns: o.tapNetns,
    program: chosen.name,
    engine: o.engine,
  });
  return {
    att: path,
    detach: () => path.close(),
    program: path.program.name,
    maps: obj.maps,
    btf: spec.btf as Btf | undefined,
    cpus: obj.runtime.cpus,
    stats: () => {
      const st = path.stats();
      return { ...st, busyMs: Math.round(st.busyMs) };
    },
  };
}

/** An unknown interface is the user's typo: say which option and namespace. */
function withDeviceErrors<T>(o: AttachOptions, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KernelError && e.command === 'if_nametoindex') {
      const name = /no interface (\S+)/.exec(e.message)?.[1] ?? o.dev;
      const which = name === o.tap ? '--tap' : '--dev';
      const ns = which === '--tap' ? (o.tapNetns ?? o.netns) : o.netns;
      throw new CliError(`${which} ${name}: no such interface${ns ? ` in network namespace ${ns}` : ''}`);
    }
    throw e;
  }
}

/**
 * A verdict as this command has always printed it and keyed its JSON (`drop`, a documented output):
 * lower case, where the library and `tsbpf xdp` say `DROP`.
 */
const printed = (n: VerdictName) => n.toLowerCase();

function numbers(v: Record<VerdictName, bigint>): Record<string, number> {
  return Object.fromEntries(VERDICT_NAMES.map((n) => [printed(n), Number(v[n])]));
}

const round = (s: number) => Math.round(s * 1000) / 1000;
const indent = (s: string) =>
  s
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.length <= lines
    ? all.join('\n')
    : [`… (${all.length - lines} lines above)`, ...all.slice(-lines)].join('\n');
}
