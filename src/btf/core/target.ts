// Which BTF a program's CO-RE relocations are resolved against: the one the caller gives (a parsed Btf,
// `.BTF` bytes or a CoreTarget with modules), else the default a host registers — under Node on Linux, the
// running kernel's /sys/kernel/btf/vmlinux (src/node/core-target.ts) — else none: the relocations are left
// as compiled (the program's own BTF is the truth) and the reader says so in one line.

import { Btf, parseBtf } from '../parse.js';
import type { CoreTarget } from './relocate.js';

/** A target as callers give it: parsed, raw `.BTF` bytes, or a CoreTarget (with module BTFs). */
export type CoreTargetInput = Btf | Uint8Array | CoreTarget;

let hostDefault: (() => CoreTarget | undefined) | undefined;

/**
 * Register where the default target comes from (called once by a host entry: Node registers the running
 * kernel's BTF). The function is called only when an object has CO-RE relocations and no target is given.
 */
export function setDefaultCoreTarget(fn: (() => CoreTarget | undefined) | undefined): void {
  hostDefault = fn;
}

/** Parsed `.BTF` bytes given as targets, so a caller reusing one buffer pays the parse once. */
const parsed = new WeakMap<Uint8Array, Btf>();

/** The target for `input`, or the host's default when there is none (undefined: no target at all). */
export function coreTarget(input: CoreTargetInput | undefined): CoreTarget | undefined {
  if (input === undefined) return hostDefault?.();
  if (input instanceof Btf) return { btf: input, name: input.where };
  if (input instanceof Uint8Array) {
    let btf = parsed.get(input);
    if (!btf) {
      btf = parseBtf(input, 'target BTF');
      parsed.set(input, btf);
    }
    return { btf, name: 'target BTF' };
  }
  return input;
}
