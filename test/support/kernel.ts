// The Linux kernel as a test oracle. Tests that need it call `kernelOracle()`: when the kernel, root and
// bpftool are there it returns true; otherwise it prints why and returns false so the test can skip —
// except in CI (CI=true), where a missing oracle is a failure, never a silent skip.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

let cached: string | undefined | null = null;

/** Why the kernel oracle is unavailable, or undefined when it is available. */
export function kernelUnavailableReason(): string | undefined {
  if (cached !== null) return cached;
  cached = probe();
  return cached;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (the kernel oracle needs CAP_BPF/CAP_SYS_ADMIN)';
  try {
    execFileSync('bpftool', ['version'], { stdio: 'pipe' });
  } catch {
    return 'bpftool is not installed (apt-get install bpftool)';
  }
  if (!existsSync('/sys/fs/bpf')) return '/sys/fs/bpf does not exist';
  try {
    execFileSync('sh', ['-c', 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf'], {
      stdio: 'pipe',
    });
  } catch {
    return 'cannot mount bpffs on /sys/fs/bpf';
  }
  return undefined;
}

/**
 * True when kernel-oracle tests can run. Prints the reason when not; throws in CI so that the oracle
 * tests never skip silently there.
 */
export function kernelOracle(): boolean {
  const reason = kernelUnavailableReason();
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`kernel oracle required in CI but unavailable: ${reason}`);
  console.warn(`[kernel oracle] skipping kernel differential tests: ${reason}`);
  return false;
}

/** Path of clang-19 if installed (fixtures are committed, so tests only need it to rebuild). */
export function clang(): string | undefined {
  for (const c of ['clang-19', 'clang']) {
    try {
      const v = execFileSync(c, ['--version'], { stdio: 'pipe' }).toString();
      if (c === 'clang-19' || /version (1[89]|[2-9]\d)\./.test(v)) return c;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}

const helperRefusals = new Map<string, string | undefined>();

/**
 * Why this kernel refuses helper `helperId` in programs of type `progType` (its verifier's "program of this
 * type cannot use helper" line), or undefined when it accepts it. Kernels differ here: some builds refuse
 * bpf_xdp_adjust_meta in XDP programs that mainline allows. Needs the oracle (root, koffi).
 */
export async function kernelRefusesHelper(progType: number, helperId: number): Promise<string | undefined> {
  const key = `${progType}/${helperId}`;
  if (helperRefusals.has(key)) return helperRefusals.get(key);
  const { progLoad, close } = await import('../../src/kernel/index.js');
  const { assemble } = await import('../../src/asm/index.js');
  let reason: string | undefined;
  try {
    close(
      progLoad({ type: progType, insns: assemble(`r2 = 0\ncall ${helperId}\nr0 = 0\nexit`), license: 'GPL' })
        .fd,
    );
  } catch (e) {
    const line = (e as Error).message.split('\n').find((l) => l.includes('cannot use helper'));
    if (!line) throw e;
    reason = line.trim();
  }
  helperRefusals.set(key, reason);
  return reason;
}
