// The kernel's verdict on a program: create the test maps once, put their file descriptors into the map
// references, load with BPF_PROG_LOAD and close again.

import { type Insn, LDDW, PseudoLddw } from '../../src/isa/index.js';
import * as kernel from '../../src/kernel/index.js';
import type { MapSpec } from '../../src/spec/maps.js';
import { programTypeByName } from '../../src/spec/program-types.js';

export interface KernelVerdict {
  accepted: boolean;
  /** The last lines of the kernel's log when rejected. */
  reason: string;
}

let fds: number[] | undefined;

function mapFds(maps: readonly MapSpec[]): number[] {
  fds ??= maps.map((m) =>
    kernel.mapCreate({
      type: m.type,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      name: m.name,
    }),
  );
  return fds;
}

export function closeMaps(): void {
  for (const fd of fds ?? []) kernel.close(fd);
  fds = undefined;
}

export function kernelVerdict(insns: readonly Insn[], type: string, maps: readonly MapSpec[]): KernelVerdict {
  const t = programTypeByName(type);
  if (!t) throw new Error(`unknown program type ${type}`);
  const ids = mapFds(maps);
  // A map reference (lddw src 1 or 2) holds an index into `maps`: the kernel wants the map's fd.
  const patched = insns.map((x) =>
    x.code === LDDW && (x.src === PseudoLddw.MAP_FD || x.src === PseudoLddw.MAP_VALUE)
      ? { ...x, imm: ids[x.imm] ?? -1 }
      : x,
  );
  try {
    const { fd } = kernel.progLoad({ type: t.kernel, insns: patched, license: 'GPL', name: 'tsbpf_verify' });
    kernel.close(fd);
    return { accepted: true, reason: '' };
  } catch (e) {
    if (e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError) {
      const log = (e as { log?: string }).log ?? e.message;
      return { accepted: false, reason: log.trim().split('\n').slice(-3).join(' | ') };
    }
    throw e;
  }
}
