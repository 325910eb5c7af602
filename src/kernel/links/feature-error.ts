// The error of a feature this kernel lacks (kprobes, BPF trampolines, tracefs …): a KernelError whose
// `feature` names what is missing, so callers (and tests) can tell "not available here" from a mistake.

import { KernelError } from '../errors.js';

/** A feature this kernel lacks (kprobes, trampolines …): the one-line reason names it and what shows it. */
export class KernelFeatureError extends KernelError {
  override name = 'KernelFeatureError';
  constructor(
    /** What is missing: `kprobes`, `BPF trampolines` … */
    readonly feature: string,
    command: string,
    errno: number,
    detail: string,
  ) {
    super(command, errno, detail);
    // The detail says it all; the errno's words ("no such file …") would only blur it.
    this.message = `${command}: ${detail}`;
  }
}
