// The running kernel's values for an object's extern variables (src/elf/externs.ts), as libbpf finds them:
// CONFIG_* options from /proc/config.gz or /boot/config-$(uname -r), LINUX_KERNEL_VERSION from uname's
// release, kernel symbol addresses from /proc/kallsyms. Each file is read once, the first time an object
// asks for one of its values, and bounded in size. Importing it makes them readObject's default.

import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { type ExternValues, setDefaultExternValues } from '../elf/externs.js';

/** A kernel config is a few hundred KB; more is not one. */
const MAX_CONFIG = 16 << 20;
/** /proc/kallsyms holds a few hundred thousand lines (tens of MB). */
const MAX_KALLSYMS = 256 << 20;

/** CONFIG_* values of a config file's text: `CONFIG_X=value` lines, and `# CONFIG_X is not set` as `n`. */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set) out.set(set[1]!, set[2]!);
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset) out.set(unset[1]!, 'n');
  }
  return out;
}

/** KERNEL_VERSION(a, b, c) of a release string (`6.18.44-fc-v1300`), c capped at 255 as libbpf does. */
export function kernelVersionOf(rel: string): number | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) return undefined;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

function readConfig(): Map<string, string> {
  const tryRead = (read: () => Buffer): string | undefined => {
    try {
      const b = read();
      return b.length > MAX_CONFIG ? undefined : b.toString('utf8');
    } catch {
      return undefined;
    }
  };
  const text =
    tryRead(() => gunzipSync(readFileSync('/proc/config.gz'), { maxOutputLength: MAX_CONFIG })) ??
    tryRead(() => readFileSync(`/boot/config-${release()}`));
  return text === undefined ? new Map() : parseKernelConfig(text);
}

function readKallsyms(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  let text: string;
  try {
    const b = readFileSync('/proc/kallsyms');
    if (b.length > MAX_KALLSYMS) return out;
    text = b.toString('latin1');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    // `ffffffff81000000 T _text`, maybe followed by `\t[module]`; the first address of a name wins.
    const m = /^([0-9a-f]+) \w (\S+)/.exec(line);
    if (m && !out.has(m[2]!)) out.set(m[2]!, BigInt(`0x${m[1]}`));
  }
  return out;
}

let config: Map<string, string> | undefined;

/**
 * The externs libbpf computes rather than reads from the config: whether the kernel has BPF cookies
 * (bpf_get_attach_cookie, Linux 5.15) and whether its syscalls are reached through arch wrappers that a
 * kprobe can attach to (`__x64_sys_bpf` … in kallsyms: then a ksyscall's arguments are in the inner
 * pt_regs).
 */
const LIBBPF_VALUES: Record<string, () => string> = {
  LINUX_HAS_BPF_COOKIE: () => ((kernelVersionOf(release()) ?? 0) >= 0x050f00 ? '1' : '0'),
  LINUX_HAS_SYSCALL_WRAPPER: () => {
    // libbpf finds out by opening a kprobe on the wrapper: without kprobes (no kprobe PMU) that fails, and
    // it says 0 whatever kallsyms holds.
    if (!existsSync('/sys/bus/event_source/devices/kprobe')) return '0';
    kallsyms ??= readKallsyms();
    for (const name of kallsyms.keys()) if (/^__[a-z0-9]+_sys_bpf$/.test(name)) return '1';
    return '0';
  },
};
let kallsyms: Map<string, bigint> | undefined;

/** The running kernel's extern values (each source read on first use, then kept). */
export function hostExternValues(): ExternValues {
  return {
    kconfig: (name) => {
      if (name in LIBBPF_VALUES) return LIBBPF_VALUES[name]!();
      config ??= readConfig();
      return config.get(name);
    },
    kernelVersion: () => kernelVersionOf(release()),
    ksym: (name) => {
      kallsyms ??= readKallsyms();
      return kallsyms.get(name);
    },
  };
}

// Importing this module (src/node/core-target.ts does) makes these readObject's default.
setDefaultExternValues(hostExternValues());
