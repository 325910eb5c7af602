// Attaching an object's XDP program to a live interface and keeping it there until told to stop: what
// `tsbpf xdp attach PROG.o --dev IFACE --kernel` does. The program is loaded with verdict counters,
// attached through a link (in a named network namespace when asked), reported on periodically, and on
// SIGINT/SIGTERM (or an abort signal) detached with every file descriptor released. Nothing is pinned.

import type { ObjectSpec } from '../spec/object.js';
import { KernelError } from './errors.js';
import { withNetns } from './netns.js';
import {
  type KernelLink,
  type KernelLoadOptions,
  type KernelObject,
  type KernelProgram,
  loadKernelObject,
} from './object.js';
import type { VerdictName } from './verdicts.js';

/** Options of attachXdp: the interface and its namespace, the program, the attach mode. */
export interface XdpAttachOptions {
  /** Interface name (or index) to attach to. */
  dev: string | number;
  /** Named network namespace (`ip netns`) the interface lives in; default the current one. */
  netns?: string;
  /** Program by function or section name; default the first XDP program. */
  program?: string;
  /** 'skb' (generic XDP) or 'native'; default: the kernel's choice. */
  mode?: 'skb' | 'native';
  /** Forwarded to the loader (initial map contents, log level ...). */
  load?: Omit<KernelLoadOptions, 'countVerdicts'>;
  /** Called after load and before attaching (e.g. to fill maps the program reads from its first packet). */
  prepare?: (object: KernelObject) => void;
}

/** A program attached to an interface; `close()` detaches and releases everything. */
export class XdpAttachment implements LiveAttachment {
  private closed = false;
  constructor(
    readonly object: KernelObject,
    readonly program: KernelProgram,
    readonly link: KernelLink,
  ) {}

  verdicts(): Record<VerdictName, bigint> {
    return this.object.verdicts();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.link.close();
    } finally {
      this.object.close();
    }
  }
}

/** Load `source` with verdict counters and attach its XDP program to `dev`. */
export function attachXdp(
  source: ObjectSpec | Uint8Array | string,
  options: XdpAttachOptions,
): XdpAttachment {
  const object = loadKernelObject(source, { ...options.load, countVerdicts: true });
  try {
    const wanted = options.program;
    const program = [...object.programs.values()].find((p) =>
      wanted === undefined ? p.spec.type === 'xdp' : p.spec.name === wanted || p.spec.section === wanted,
    );
    if (!program) {
      const names = [...object.programs.values()].map((p) => `${p.spec.name} (${p.spec.section})`).join(', ');
      const what = wanted === undefined ? 'no XDP program' : `no program ${wanted}`;
      throw new KernelError('attach', 2, `${what} in the object (programs: ${names || 'none'})`);
    }
    options.prepare?.(object);
    const attach = () => program.attachXdp(options.dev, options.mode ? { mode: options.mode } : {});
    const link = options.netns ? withNetns(options.netns, attach) : attach();
    return new XdpAttachment(object, program, link);
  } catch (e) {
    object.close();
    throw e;
  }
}

/** What `serveAttached` keeps running: a kernel attachment, or the user-space data path (tsbpf/node). */
export interface LiveAttachment {
  verdicts(): Record<VerdictName, bigint>;
  /** Detach and release everything; may finish asynchronously. */
  close(): void | Promise<void>;
  /** Settles if the attachment stops on its own (rejects when it failed, e.g. the interface vanished). */
  readonly done?: Promise<void>;
}

/** Options of serveAttached. */
export interface ServeOptions {
  /** How often `onTick` receives the verdict totals (default 2000 ms). */
  intervalMs?: number;
  onTick?: (verdicts: Record<VerdictName, bigint>) => void;
  /** Stop when aborted (in addition to SIGINT and SIGTERM). */
  signal?: AbortSignal;
  /** Listen for SIGINT/SIGTERM (default true). */
  signals?: boolean;
}

/**
 * Keep the attachment until SIGINT/SIGTERM or `signal` (or until it fails); then close it and resolve with
 * the final totals.
 */
export function serveAttached(
  att: LiveAttachment,
  options: ServeOptions = {},
): Promise<Record<VerdictName, bigint>> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => options.onTick?.(att.verdicts()), options.intervalMs ?? 2000);
    const listen = options.signals ?? true;
    let stopped = false;
    const stop = async (failure?: unknown) => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (listen) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      options.signal?.removeEventListener('abort', onSignal);
      let totals: Record<VerdictName, bigint> | undefined;
      let error = failure;
      try {
        totals = att.verdicts();
      } catch (e) {
        error ??= e;
      }
      try {
        await att.close();
      } catch (e) {
        error ??= e;
      }
      if (error !== undefined || !totals) reject(error);
      else resolve(totals);
    };
    const onSignal = () => void stop();
    if (listen) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    att.done?.then(
      () => void stop(),
      (e) => void stop(e ?? new Error('the attachment stopped')),
    );
    if (options.signal?.aborted) onSignal();
    else options.signal?.addEventListener('abort', onSignal, { once: true });
  });
}
