// The verifier's front door: `verify(program, opts)` proves a program safe or explains why not.

import { coreTarget } from '../btf/core/target.js';
import type { Btf } from '../btf/parse.js';
import { TsbpfError } from '../errors.js';
import { helperById } from '../helpers/registry.js';
import type { HelperDef } from '../helpers/types.js';
import type { Insn } from '../isa/index.js';
import { programAttachType, programSleepable } from '../spec/attach-types.js';
import type { MapSpec } from '../spec/maps.js';
import type { LineInfo, ProgramSpec } from '../spec/object.js';
import { attachTypeError, type ProgramType, programTypeFor } from '../spec/program-types.js';
import { programTypeForSection } from '../spec/sections.js';
import { type BtfTarget, resolveBtfTarget } from './btf-ctx.js';
import { buildCfg, liveness, Reject } from './cfg.js';
import { gplCompatible } from './gpl.js';
import { Verifier } from './interp.js';
import { type Diagnostic, disasm, formatDiagnostic, pathSteps, SourceMap } from './log.js';
import type { VerifyResult } from './result.js';

export type { Diagnostic, PathStep } from './log.js';
export { formatDiagnostic } from './log.js';
export type { VerifyResult } from './result.js';

/** Options of verify: the maps, the log level, privileges and limits. */
export interface VerifyOptions {
  /** The maps the program's lddw map references index into (ObjectSpec.maps for programs of an object). */
  maps?: readonly MapSpec[];
  /** 0: the verdict; 1: plus the rejection in words in `log`; 2: plus a per-instruction state trace. */
  logLevel?: 0 | 1 | 2;
  /** Unprivileged rules: no pointer leaks or pointer comparisons, 4096-instruction limit. */
  unprivileged?: boolean;
  /**
   * The object's own BTF (ObjectSpec.btf): the program-local types bpf_obj_new allocates. Without it a
   * bpf_obj_new call is refused.
   */
  objectBtf?: Btf;
  /** 'bounded' (default): loops allowed when every path ends; 'dfs': any back edge is rejected. */
  loops?: 'bounded' | 'dfs';
  /**
   * Reading stack bytes never written gives an unknown number instead of a rejection, as the kernel allows
   * for privileged loads (CAP_PERFMON). Off by default: such a read is almost always a bug.
   */
  allowUninitStack?: boolean;
  /**
   * Limit on processed instructions (default 1,000,000, the kernel's BPF_COMPLEXITY_LIMIT_INSNS): every
   * instruction simulated on every path counts, including the one where a path is pruned, as the
   * kernel's "processed N insns" counts them.
   */
  maxInsns?: number;
  /**
   * Wall-clock limit in milliseconds (default 30,000; Infinity for none): verification that takes longer
   * ends with a `too_complex` rejection, the clock read every 4096 processed instructions. A safety net for
   * programs whose every step is costly (many frames, large stacks, many states to compare), not the usual
   * way out: the slowest loop of test/verifier/complexity/ reaches the instruction limit in 2.5 s of CPU on
   * a busy 2-core machine, and the default leaves a slow or loaded machine ten times that. The kernel has
   * no such limit: a verdict from the clock depends on the machine.
   */
  timeLimitMs?: number;
  /**
   * Limit on the states remembered for pruning (default 250,000), a bound on the verifier's memory (about
   * 2 KB a state with one frame: 600 MB at most). The kernel's rule for when to remember one
   * (after 2 jumps and 8 instructions; inside a loop after 20 jumps or 100 instructions) allows at most
   * 125,000 under the default instruction limit; only bpf_loop callback entries, always remembered, can
   * reach the default.
   */
  maxStates?: number;
  /**
   * The kernel's BTF (`/sys/kernel/btf/vmlinux` parsed with parseBtf): the types of a tracing or lsm
   * program's arguments and of the kernel structs it reads. Without it, the host's default CO-RE target
   * (under Node: the running kernel's BTF, or the CLI's --btf); programs of those types are refused when
   * there is neither.
   */
  btf?: Btf;
  /** Helper lookup (defaults to the shared registry); for tests and embedders with their own helpers. */
  helpers?: (id: number) => HelperDef | undefined;
}

/** What verify takes: a program spec, or instructions with a program type. */
export type VerifiableProgram =
  | ProgramSpec
  | {
      insns: readonly Insn[];
      type: string | ProgramType;
      /** Expected attach type (BPF_* lower-cased) when the type has them: `cgroup_inet4_connect` … */
      attachType?: string;
      /** Attach target (tracing, lsm: the kernel function, tracepoint or iterator: `do_unlinkat`). */
      attachTo?: string;
      lineInfo?: readonly LineInfo[];
      name?: string;
    };

/** An lsm program's view with the return range of its hook. */
function lsmView(type: ProgramType, t: BtfTarget): ProgramType {
  if (type.attachType === 'lsm_cgroup') return t.retVoid ? { ...type, ret: { min: 1, max: 1 } } : type;
  return t.retVoid ? { ...type, ret: undefined, ret32: undefined } : type;
}

/** The attach target of a program: given, or the one its section name implies. */
function attachToOf(program: VerifiableProgram): string | undefined {
  if (program.attachTo !== undefined) return program.attachTo;
  if ('section' in program && program.section) return programTypeForSection(program.section)?.attachTo;
  return undefined;
}

/** The expected attach type of a program: given, or the one its section name implies. */
function attachTypeOf(program: VerifiableProgram): string | undefined {
  if (typeof program.type !== 'string') return program.attachType;
  return programAttachType({
    type: program.type,
    section: 'section' in program ? program.section : undefined,
    attachType: program.attachType,
  });
}

/** BTF-typed result or argument kinds of a helper prototype (the kernel's PTR_TO_BTF_ID family). */
const BTF_KINDS: ReadonlySet<string> = new Set(['btf_id', 'btf_id_or_null']);

/** Whether a helper's prototype returns or takes a pointer typed by the kernel's BTF. */
function takesBtfPointer(h: HelperDef | undefined): boolean {
  if (!h) return false;
  const p = h.proto;
  if (BTF_KINDS.has(p.ret) || p.args.some((a) => BTF_KINDS.has(a))) return true;
  return Object.values(p.argsFor ?? {}).some((args) => args.some((a) => BTF_KINDS.has(a)));
}

/** Defaults of the limits in VerifyOptions. */
export const VERIFY_LIMITS = { maxInsns: 1_000_000, timeLimitMs: 30_000, maxStates: 250_000 } as const;

/** A limit from the options: its default, or the caller's value when it is a number in range. */
function limitOf(opts: VerifyOptions, name: keyof typeof VERIFY_LIMITS, integer: boolean): number {
  const v = opts[name] ?? VERIFY_LIMITS[name];
  if (typeof v !== 'number' || !(v > 0) || (integer && !Number.isInteger(v)))
    throw new TsbpfError(
      `${name} must be ${integer ? 'a whole number' : 'a number of milliseconds'} above 0 (got ${String(v)})`,
      'verify',
    );
  return v;
}

/** The stores that write one context field on every path that reaches them, by pc. */
function ctxStoresOf(seen: ReadonlyMap<number, string | null>): ReadonlyMap<number, string> {
  const out = new Map<number, string>();
  for (const [pc, field] of seen) if (field !== null) out.set(pc, field);
  return out;
}

/**
 * Prove a program safe as the kernel does, or say why not: the instruction, the source line, the path that
 * got there.
 */
export function verify(program: VerifiableProgram, opts: VerifyOptions = {}): VerifyResult {
  const t0 = performance.now();
  const maxInsns = limitOf(opts, 'maxInsns', true);
  const timeLimitMs = limitOf(opts, 'timeLimitMs', false);
  const maxStates = limitOf(opts, 'maxStates', true);
  const insns = program.insns;
  const attachType = attachTypeOf(program);
  const type = typeof program.type === 'string' ? programTypeFor(program.type, attachType) : program.type;
  const src = new SourceMap(program.lineInfo);
  const logLevel = opts.logLevel ?? 1;
  const helper = opts.helpers ?? helperById;
  let v: Verifier | undefined;
  const finish = (diag: Diagnostic | undefined): VerifyResult => {
    const trace = v && logLevel >= 2 ? v.trace : [];
    const lines = [...trace];
    if (diag && logLevel >= 1) lines.push(formatDiagnostic(diag));
    const insnsProcessed = v?.processed ?? 0;
    const states = v?.explored.count ?? 0;
    if (!diag && logLevel >= 1) lines.push(`accepted: processed ${insnsProcessed} insns, ${states} states`);
    return {
      accepted: !diag,
      insnsProcessed,
      states,
      durationMs: performance.now() - t0,
      diagnostics: diag ? [diag] : [],
      log: lines.join('\n'),
      ...(!diag && v ? { ctxStores: ctxStoresOf(v.ctxStores) } : {}),
    };
  };
  const reject = (insn: number, kind: string, message: string): VerifyResult => {
    // A poisoned CO-RE relocation: the reader recorded which field, type or value it was.
    const poison = kind === 'core_poison' && 'corePoisoned' in program ? program.corePoisoned : undefined;
    const why = poison?.find((x) => x.insn === insn)?.reason;
    if (why)
      message = `${why}: the CO-RE relocation could not be applied (libbpf's poisoned call 0xbad2310 is reached)`;
    const line = src.at(insn);
    const d: Diagnostic = {
      insn,
      kind,
      message,
      disasm: insn < insns.length ? disasm(insns, insn) : '',
      path: v ? pathSteps(v.state?.path, src) : [],
      regs: v?.regsNow() ?? '',
    };
    if (line) d.source = { file: line.file, line: line.line, column: line.column, text: line.source };
    return finish(d);
  };
  if (!type) return reject(0, 'bad_type', `unknown program type '${String(program.type)}'`);
  const badAttach = typeof program.type === 'string' ? attachTypeError(program.type, attachType) : undefined;
  if (badAttach) return reject(0, 'bad_attach_type', badAttach);
  let btfTarget: BtfTarget | undefined;
  let ptype = type;
  // The kernel's types: given, else the host's default (under Node the running kernel's, or --btf), read
  // only for the types that need them.
  // A helper that returns or takes a kernel struct pointer (get_current_task_btf, skc_to_tcp_sock,
  // task_storage_get) has it read and checked through the kernel's BTF too.
  const casts = insns.some((i) => i.code === 0x85 && i.src === 0 && takesBtfPointer(helper(i.imm)));
  const kernelBtf =
    type.btfArgs || type.name === 'netfilter' || casts ? (opts.btf ?? coreTarget(undefined)?.btf) : undefined;
  // A struct_ops program is typed when its target names the member it implements (`tcp_congestion_ops.
  // ssthresh`); the section alone does not say, and it is then verified with 12 numeric slots.
  const structOpsUntyped = type.name === 'struct_ops' && !attachToOf(program)?.includes('.');
  if (type.btfArgs && !structOpsUntyped) {
    const to = attachToOf(program);
    const name = `${'section' in program && program.section ? program.section : `${type.name}`}`;
    if (!to)
      return reject(
        0,
        'bad_attach_type',
        `${name}: ${type.name} programs need an attach target (e.g. fentry/do_unlinkat)`,
      );
    if (!kernelBtf)
      return reject(
        0,
        'need_btf',
        `${name.includes('/') ? name : `${name}/${to}`} needs the kernel's BTF to know its arguments: give --btf (e.g. /sys/kernel/btf/vmlinux)`,
      );
    const t = resolveBtfTarget(kernelBtf, type, to);
    if (typeof t === 'string') return reject(0, 'bad_attach_target', t);
    btfTarget = t;
    // LSM return values by the hook (the kernel's bpf_lsm_get_retval_range): any for a void hook (1 under
    // lsm_cgroup), else 0 or -errno. The few int hooks the kernel reads as bool (0..1) are not told apart
    // here: their BTF says int, so a program returning 1 there is refused (stricter, never wrongly accepted).
    if (type.name === 'lsm') ptype = lsmView(type, t);
    // check_struct_ops_btf_id: only a GPL-compatible program may implement a kernel struct's member.
    if (
      t.structOps &&
      'license' in program &&
      typeof program.license === 'string' &&
      !gplCompatible(program.license)
    )
      return reject(
        0,
        'gpl',
        `struct_ops programs must have a GPL-compatible licence (this one's is '${program.license}')`,
      );
  }
  if (insns.length === 0) return reject(0, 'empty', 'the program has no instructions');
  try {
    const cfg = buildCfg(insns, {
      unprivileged: opts.unprivileged ?? false,
      loops: opts.loops ?? 'bounded',
      maxInsns,
      helper,
    });
    const live = liveness(insns, cfg);
    v = new Verifier(insns, ptype, opts.maps ?? [], helper, cfg, live, src, {
      // A program calling kfuncs has its kernel struct pointers typed by the kernel's BTF too.
      kernelBtf:
        kernelBtf ??
        (('kfuncs' in program && program.kfuncs?.length) || ('ksyms' in program && program.ksyms?.length)
          ? (opts.btf ?? coreTarget(undefined)?.btf)
          : undefined),
      btfTarget,
      ...(opts.objectBtf ? { objectBtf: opts.objectBtf } : {}),
      ...('kfuncs' in program && program.kfuncs ? { kfuncs: program.kfuncs } : {}),
      ...('ksyms' in program && program.ksyms ? { ksyms: program.ksyms } : {}),
      // An object without a licence section has '' (what libbpf sends): not GPL-compatible, as the kernel
      // counts it. Only a program given without any licence field (raw instructions) is taken as GPL.
      ...('license' in program && typeof program.license === 'string' ? { license: program.license } : {}),
      sleepable:
        typeof program.type === 'string' &&
        programSleepable({ type: program.type, section: 'section' in program ? program.section : undefined }),
      unprivileged: opts.unprivileged ?? false,
      maxInsns,
      maxStates,
      startedAt: t0,
      timeLimitMs,
      logLevel,
      allowUninitStack: (opts.allowUninitStack ?? false) && !(opts.unprivileged ?? false),
      globalFunctions: new Map(
        ('funcInfo' in program ? (program.funcInfo ?? []) : [])
          .filter((f) => f.global && f.insn > 0)
          .map((f) => [f.insn, f.params]),
      ),
    });
    v.run();
    return finish(undefined);
  } catch (e) {
    if (e instanceof Reject) return reject(e.insn, e.kind, e.message);
    throw e;
  }
}

export { VerifierError } from './errors.js';
