// Raw tracepoints (BPF_RAW_TRACEPOINT_OPEN by name) and the trampoline-based tracing programs: fentry,
// fexit, fmod_ret, tp_btf and lsm attach to the target their load named (attach_btf_id), through a link.
// A kernel built without trampolines refuses them (EPERM, ENOTSUPP or EOPNOTSUPP): the error says so.

import { attachTypeNumber, programAttachType } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { KernelFeatureError } from './feature-error.js';
import { BpfLink } from './link.js';
import { createLink, rawTracepointOpen } from './sys.js';
import type { AttachableProgram } from './types.js';

const EPERM = 1;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

/** A raw_tracepoint program on tracepoint `name` (`sys_enter`, `sched_switch` …). */
export function attachRawTracepoint(prog: AttachableProgram, name: string, cookie?: bigint): BpfLink {
  const fd = rawTracepointOpen(prog.fd, name, cookie);
  return new BpfLink(fd, { kind: 'raw_tracepoint', program: prog.name, target: name, backend: 'kernel' });
}

/**
 * An fentry/fexit/fmod_ret/tp_btf/lsm program on the function or hook its load named. `cookie`: what
 * bpf_get_attach_cookie returns (fentry/fexit/fmod_ret).
 */
export function attachTracing(prog: AttachableProgram): BpfLink {
  const at = programAttachType(prog.spec) ?? 'trace_fentry';
  const target = prog.spec.attachTo ?? prog.spec.section.split('/').slice(1).join('/');
  const what = { kind: at.replace(/^trace_/, ''), program: prog.name, target, backend: 'kernel' as const };
  try {
    const fd = createLink(
      { progFd: prog.fd, target: 0, attachType: attachTypeNumber(at)! },
      `${what.kind} ${target}, program ${prog.name}`,
    );
    return new BpfLink(fd, what);
  } catch (e) {
    if (e instanceof KernelError && [EPERM, EOPNOTSUPP, ENOTSUPP].includes(e.errno))
      throw new KernelFeatureError(
        'BPF trampolines',
        e.command,
        e.errno,
        `this kernel cannot attach ${what.kind} programs: no BPF trampolines (${prog.name} on ${target})`,
      );
    throw e;
  }
}

/**
 * What a failed load of a trampoline program (fentry, fexit, fmod_ret, lsm) really means when the kernel
 * answers EPERM to root: it has no BPF trampolines. A KernelFeatureError saying so, or undefined when that
 * is not the case (the error stands as it is).
 */
export function trampolineLoadError(
  p: { name: string; type: string; section: string },
  e: unknown,
): KernelFeatureError | undefined {
  if (!(e instanceof KernelError) || e.errno !== EPERM || process.getuid?.() !== 0) return undefined;
  const kind = /^(fentry|fexit|fmod_ret|lsm)(\.s)?\//.exec(p.section)?.[1];
  if (!kind || (p.type !== 'tracing' && p.type !== 'lsm')) return undefined;
  return new KernelFeatureError(
    'BPF trampolines',
    e.command,
    e.errno,
    `this kernel cannot load ${kind} programs: no BPF trampolines (program ${p.name}; the kernel refuses it to root with EPERM)`,
  );
}
