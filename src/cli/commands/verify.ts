// `tsbpf verify PROG [--program P] [--section S] [--function F] [--type T] [--log-level 0|1|2] [--json]`:
// run the verifier on the programs of an ELF object (or on raw bytecode with --type) and report accepted
// or why not.

import { type Command, Option } from 'commander';
import type { Btf } from '../../btf/parse.js';
import { decode } from '../../isa/index.js';
import type { MapSpec } from '../../spec/maps.js';
import type { ProgramSpec } from '../../spec/object.js';
import type { ResolvedProgramType } from '../../spec/type-names.js';
import { formatDiagnostic, type VerifyResult } from '../../verifier/index.js';
import { verifyPrivileged } from '../../verifier/privileged.js';
import { CliError } from '../errors.js';
import {
  chooseProgram,
  parseProgramType,
  readBytes,
  readObjectFile,
  type SizeFlags,
  sizeMaps,
  sizeOptions,
  withType,
} from '../objects.js';

interface Flags extends SizeFlags {
  program?: string;
  section?: string;
  function?: string;
  type?: ResolvedProgramType;
  logLevel: string;
  json?: boolean;
  unprivileged?: boolean;
  loops: 'bounded' | 'dfs';
}

const isElf = (b: Uint8Array): boolean =>
  b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

function programsOf(file: string, flags: Flags): { programs: ProgramSpec[]; maps: MapSpec[]; btf?: Btf } {
  const bytes = readBytes(file, 'program');
  if (!isElf(bytes)) {
    if (!flags.type)
      throw new CliError(
        `${file}: raw bytecode needs --type (a program type: xdp, tc, socket, kprobe, cgroup/skb …)`,
      );
    if (bytes.length === 0) throw new CliError(`${file}: empty file`);
    const insns = decode(bytes);
    const raw = { name: file, section: '', type: flags.type.type, insns, license: 'GPL' };
    return { programs: [withType(raw, flags.type)], maps: [] };
  }
  const spec = readObjectFile(file, flags.program);
  // The verifier reads max_entries (bounds of array lookups); no map is created, so a 0 may stay.
  sizeMaps(spec, flags, 1, false);
  let programs = spec.programs;
  if (flags.program !== undefined) programs = [chooseProgram(file, spec, flags.program)];
  if (flags.section) programs = programs.filter((p) => p.section === flags.section);
  if (flags.function) programs = programs.filter((p) => p.name === flags.function);
  if (programs.length === 0) {
    const names = spec.programs.map((p) => `${p.name} (section ${p.section})`).join(', ') || 'none';
    const what = [
      flags.section && `section '${flags.section}'`,
      flags.function && `function '${flags.function}'`,
    ]
      .filter(Boolean)
      .join(' and ');
    throw new CliError(`${file}: no program${what ? ` in ${what}` : ''} (programs: ${names})`);
  }
  const type = flags.type;
  if (type) programs = programs.map((p) => withType(p, type));
  // The object's BTF: bpf_obj_new's local types are read from it.
  return { programs, maps: spec.maps, ...(spec.btf ? { btf: spec.btf } : {}) };
}

function summary(name: string, r: VerifyResult): string {
  return `${name}: accepted, ${r.insnsProcessed} insns processed, ${r.states} states, ${r.durationMs.toFixed(1)} ms`;
}

export function register(program: Command): void {
  const command = program
    .command('verify')
    .description('verify programs like the kernel does and explain rejections')
    .argument('<file>', 'ELF object (clang -target bpf) or raw bytecode (with --type)')
    .option('--program <name>', 'only this program: a function or section name')
    .option('--section <name>', 'only programs of this ELF section')
    .option('--function <name>', 'only the program with this function name')
    .option(
      '--type <type>',
      "program type (overrides the section; required for raw bytecode): the kernel's, bpftool's or libbpf's name (sched_cls, classifier, tc …)",
      parseProgramType,
    )
    .addOption(
      new Option('--log-level <n>', '0: verdict, 1: reason, 2: per-instruction trace')
        .choices(['0', '1', '2'])
        .default('1'),
    )
    .option('--json', 'print one JSON object with the verdicts and diagnostics')
    .option('--unprivileged', 'apply the unprivileged rules (no pointer leaks, 4096 instructions)')
    .addOption(
      new Option('--loops <mode>', 'bounded loops, or reject every back edge')
        .choices(['bounded', 'dfs'])
        .default('bounded'),
    );
  sizeOptions(command, false).action((file: string, flags: Flags) => {
    const { programs, maps, btf } = programsOf(file, flags);
    const logLevel = Number(flags.logLevel) as 0 | 1 | 2;
    const results = programs.map((p) => ({
      p,
      r: verifyPrivileged(p, {
        maps,
        logLevel,
        unprivileged: flags.unprivileged ?? false,
        loops: flags.loops,
        ...(btf ? { objectBtf: btf } : {}),
      }),
    }));
    const accepted = results.every((x) => x.r.accepted);
    if (flags.json) {
      const out = {
        accepted,
        programs: results.map(({ p, r }) => ({
          name: p.name,
          section: p.section,
          type: p.type,
          accepted: r.accepted,
          insnsProcessed: r.insnsProcessed,
          states: r.states,
          durationMs: Number(r.durationMs.toFixed(3)),
          diagnostics: r.diagnostics,
          ...(r.warnings ? { warnings: r.warnings } : {}),
          ...(logLevel >= 2 ? { log: r.log } : {}),
        })),
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      for (const { p, r } of results) {
        if (logLevel >= 2 && r.log) process.stdout.write(`${r.log}\n`);
        for (const w of r.warnings ?? []) process.stderr.write(`tsbpf: warning: ${p.name}: ${w}\n`);
        if (r.accepted) process.stdout.write(`${summary(p.name, r)}\n`);
        else {
          const d = r.diagnostics[0]!;
          process.stderr.write(
            `${p.name}: rejected\n${logLevel >= 1 ? formatDiagnostic(d) : `insn ${d.insn}: ${d.message}`}\n`,
          );
        }
      }
    }
    if (!accepted) process.exitCode = 1;
  });
}
