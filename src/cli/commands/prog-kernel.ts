// `tsbpf prog load|attach|detach` and `tsbpf link detach`: putting programs into the running kernel and
// taking them out, as bpftool's `prog load` / `prog attach` / `link detach` do. `prog load` pins the program
// (the pin keeps it loaded after the command); `prog attach` takes its target as words through
// parseAttachTarget (one grammar with the library) and either pins the link (`--pin`) or holds it until
// SIGINT/SIGTERM; `detach` undoes a link by id or pin. Output and exit codes: docs/cli.md.

import { mkdirSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { TsbpfError } from '../../errors.js';
import { KernelError, VerifierRejectedError } from '../../kernel/errors.js';
import { closeFd } from '../../kernel/ffi.js';
import { linkDetails, objectIds, openById, progDetails, withFd } from '../../kernel/inspect.js';
import { ATTACH_TARGET_FORMS, parseAttachTarget } from '../../kernel/links/parse.js';
import { attachProgram } from '../../kernel/links/target.js';
import type { AttachableProgram } from '../../kernel/links/types.js';
import { type KernelObject, loadKernelObject } from '../../kernel/object.js';
import * as sys from '../../kernel/syscall.js';
import type { ResolvedProgramType } from '../../spec/type-names.js';
import { CliError, EXIT } from '../errors.js';
import {
  applyMapSets,
  chooseProgram,
  parseMapSets,
  readObjectFile,
  rejected,
  setBeforeLoad,
  withType,
} from '../objects.js';
import { openSelected, parseSelector, type Selector } from './kernel-inspect.js';

const ENOENT = 2;
const EINVAL = 22;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** A kernel failure of `what` as one line, exit 1 (the library's message has the errno and what to do). */
function kernelFailure(what: string, e: unknown): unknown {
  if (e instanceof VerifierRejectedError) return new CliError(`${what}: ${e.message.split('\n')[0]}`);
  if (e instanceof KernelError || e instanceof TsbpfError) return new CliError(`${what}: ${e.message}`);
  return e;
}

// ---------------------------------------------------------------------------------------- prog load

/** Options of `prog load`. */
export interface ProgLoadFlags {
  program?: string;
  type?: ResolvedProgramType;
  mapSet?: string[];
  pinmaps?: string;
}

/**
 * Load an object into the kernel and pin one program at `path` (`--program`, else the first, as bpftool
 * pins the first); with `--pinmaps DIR` its maps at DIR/NAME too. The pins hold what they name after exit.
 */
export function progLoad(file: string, path: string, o: ProgLoadFlags): void {
  const spec = readObjectFile(file, o.program);
  const sets = parseMapSets(o.mapSet ?? []);
  const chosen = o.program === undefined ? spec.programs[0] : chooseProgram(file, spec, o.program);
  if (!chosen) throw new CliError(`${file}: the object has no programs`);
  if (o.type) spec.programs = spec.programs.map((p) => (p === chosen ? withType(p, o.type!) : p));
  const after = setBeforeLoad(spec, sets);
  let obj: KernelObject;
  try {
    obj = loadKernelObject(spec, {
      objectName: basename(file).replace(/\.o$/, ''),
      // With --program only that one is loaded: the others would be freed at exit anyway.
      programs: o.program === undefined ? undefined : [chosen.name],
    });
  } catch (e) {
    throw kernelFailure(`${file}: cannot load`, rejected(file, e));
  }
  const made: string[] = [];
  try {
    applyMapSets(
      (name) => obj.map(name),
      after,
      (map, index, program) => {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, index, true);
        const value = new Uint8Array(4);
        new DataView(value.buffer).setUint32(0, obj.program(program).fd, true);
        obj.map(map).update(key, value);
      },
    );
    const prog = obj.program(chosen.name);
    pinAt(path, prog.fd, made);
    if (o.pinmaps !== undefined) {
      try {
        mkdirSync(o.pinmaps, { recursive: true });
      } catch (e) {
        throw new CliError(`--pinmaps ${o.pinmaps}: cannot create: ${(e as Error).message}`);
      }
      for (const [name, m] of obj.maps) pinAt(`${o.pinmaps}/${name.replace(/\./g, '_')}`, m.fd, made);
    }
    const id = withFd(sys.objGet(path), (fd) => progDetails(fd).id);
    out(`loaded ${chosen.name} (prog id ${id}) pinned at ${path}`);
  } catch (e) {
    for (const p of made) rmSync(p, { force: true });
    throw e;
  } finally {
    obj.close();
  }
}

function pinAt(path: string, fd: number, made: string[]): void {
  try {
    sys.objPin(fd, path);
  } catch (e) {
    throw kernelFailure(`pin ${path}`, e);
  }
  made.push(path);
}

// -------------------------------------------------------------------------------------- prog attach

/** Resolves when the process gets SIGINT or SIGTERM (the handlers are removed again). */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    // A timer keeps the event loop alive while nothing else is pending.
    const keep = setInterval(() => {}, 1 << 30);
    const on = (signal: NodeJS.Signals) => {
      clearInterval(keep);
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** The program a selector names, as the attach functions see it (type from the kernel, no section). */
function programFor(fd: number): AttachableProgram & { id: number } {
  const d = progDetails(fd);
  return {
    fd,
    id: d.id,
    name: d.name,
    spec: { name: d.name, section: '', type: d.typeName, insns: [], license: '' },
  };
}

/**
 * `prog attach (id N|pinned P) TARGET…`: attach, then pin the link at `pin` and exit, or (no `pin`) hold the
 * link until SIGINT/SIGTERM and detach it then.
 */
export async function progAttach(words: readonly string[], pin: string | undefined): Promise<void> {
  const [sel, targetWords] = parseSelector('prog attach', words);
  let target: ReturnType<typeof parseAttachTarget>;
  try {
    target = parseAttachTarget(targetWords);
  } catch (e) {
    if (e instanceof TsbpfError)
      throw new CliError(`prog attach: ${e.message.replace(/ \(forms: .*\)$/, '')}`, EXIT.usage);
    throw e;
  }
  const fd = openSelected('prog', sel);
  const what = describeSelector(sel);
  let link: ReturnType<typeof attachProgram>;
  let program: ReturnType<typeof programFor>;
  try {
    program = programFor(fd);
    link = attachProgram(program, target);
  } catch (e) {
    closeFd(fd);
    throw kernelFailure(`prog attach ${what}: ${targetWords.join(' ')}`, e);
  }
  // The link holds the program now; our fd of it is no longer needed.
  closeFd(fd);
  const linkId = 'id' in link ? ` link id ${(link as { id: number }).id}` : '';
  const attached = `attached ${program.name} (prog id ${program.id}) to ${targetWords.join(' ')}:${linkId || ` ${link.info().kind} attachment`}`;
  if (pin !== undefined) {
    try {
      link.pin(pin);
    } catch (e) {
      link.close();
      throw kernelFailure(`prog attach ${what}: --pin ${pin}`, e);
    }
    // The pin holds the link: closing our fd leaves it attached.
    link.close();
    out(`${attached}, pinned at ${pin}`);
    return;
  }
  out(`${attached}; detaching on SIGINT or SIGTERM`);
  const signal = await untilSignal();
  link.close();
  out(`${signal}: detached`);
}

function describeSelector(sel: Selector): string {
  return `${sel.by} ${sel.ref}`;
}

// ---------------------------------------------------------------------------------------------- detach

/**
 * Detach the link on `fd`: BPF_LINK_DETACH where the kernel has it for the link's type; perf-event and
 * raw-tracepoint links have none, and end only when their last reference (fd or pin) goes. Returns
 * whether it was detached.
 */
function detachFd(fd: number): boolean {
  try {
    sys.linkDetach(fd);
    return true;
  } catch (e) {
    const errno = e instanceof KernelError ? e.errno : 0;
    if (errno === EOPNOTSUPP || errno === ENOTSUPP || errno === EINVAL) return false;
    throw e;
  }
}

/**
 * `link detach (id N|pinned P)`: detach the link; a pinned one also loses its pin, so that nothing is
 * left of it. A link the kernel cannot detach (perf event, raw tracepoint) by id: say how to end it.
 */
export function linkDetach(words: readonly string[]): void {
  const [sel, rest] = parseSelector('link detach', words);
  if (rest.length) throw new CliError(`link detach: unexpected '${rest[0]}'`, EXIT.usage);
  const fd = openSelected('link', sel);
  const d = withFd(fd, (f) => {
    const details = linkDetails(f);
    let done: boolean;
    try {
      done = detachFd(f);
    } catch (e) {
      throw kernelFailure(`link ${describeSelector(sel)}`, e);
    }
    return { ...details, done };
  });
  if (sel.by === 'pinned') {
    rmSync(sel.ref, { force: true });
    out(`link id ${d.id} (${d.typeName}, prog id ${d.progId}) detached, pin ${sel.ref} removed`);
    return;
  }
  if (!d.done)
    throw new CliError(
      `link id ${d.id}: the kernel cannot detach a ${d.typeName} link; it ends when its pin is removed (tsbpf link detach pinned PATH) and its holders exit`,
    );
  out(`link id ${d.id} (${d.typeName}, prog id ${d.progId}) detached`);
}

/**
 * `prog detach (id N|pinned P)`: detach every link that runs the program. Links the kernel cannot detach
 * (perf event, raw tracepoint) are named with what ends them.
 */
export function progDetach(words: readonly string[]): void {
  const [sel, rest] = parseSelector('prog detach', words);
  if (rest.length) throw new CliError(`prog detach: unexpected '${rest[0]}'`, EXIT.usage);
  const progId = withFd(openSelected('prog', sel), (fd) => progDetails(fd).id);
  const detached: number[] = [];
  const stuck: string[] = [];
  for (const id of objectIds('link')) {
    let fd: number;
    try {
      fd = openById('link', id);
    } catch (e) {
      if ((e as KernelError).errno === ENOENT) continue; // freed meanwhile
      throw kernelFailure(`link id ${id}`, e);
    }
    withFd(fd, (f) => {
      const d = linkDetails(f);
      if (d.progId !== progId) return;
      if (detachFd(f)) detached.push(d.id);
      else stuck.push(`${d.id} (${d.typeName})`);
    });
  }
  if (stuck.length)
    throw new CliError(
      `prog id ${progId}: ${detached.length ? `detached link${detached.length === 1 ? '' : 's'} ${detached.join(', ')}; ` : ''}the kernel cannot detach link${stuck.length === 1 ? '' : 's'} ${stuck.join(', ')}: remove their pins (tsbpf link detach pinned PATH)`,
    );
  out(
    detached.length
      ? `prog id ${progId}: detached link${detached.length === 1 ? '' : 's'} ${detached.join(', ')}`
      : `prog id ${progId}: no links`,
  );
}

/** The target grammar for help texts. */
export const TARGET_HELP = ATTACH_TARGET_FORMS.join('; ');
