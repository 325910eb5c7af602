// Cgroup programs (skb, sock, sock_addr, sockopt, sysctl, device, sock_ops) on a cgroup v2 directory,
// through a link: the attach type is the program's expected attach type (from its section, e.g.
// `cgroup/connect4`), and several programs may share a hook (links attach in multi mode).

import { closeSync, openSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import { attachTypeNumber, programAttachType } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { BpfLink, HookLink, type KernelAttachment } from './link.js';
import { createLink, progAttach, progDetach } from './sys.js';
import type { AttachableProgram } from './types.js';

const EBADF = 9;
const EINVAL = 22;

/** Program types that attach to a cgroup. */
export const CGROUP_PROGRAM_TYPES: ReadonlySet<string> = new Set([
  'cgroup_skb',
  'cgroup_sock',
  'cgroup_sock_addr',
  'cgroup_sockopt',
  'cgroup_sysctl',
  'cgroup_device',
  'sock_ops',
  'lsm',
]);

const BPF_F_ALLOW_MULTI = 2;

/**
 * A cgroup program on the cgroup v2 directory `path` (attach type: the program's, or `attachType`): a
 * link, or BPF_PROG_ATTACH in multi mode (kernels before cgroup links, 5.7, or when `progAttach` asks).
 */
export function attachCgroup(
  prog: AttachableProgram,
  path: string,
  attachType?: string,
  progAttach = false,
): KernelAttachment {
  const name = attachType ?? programAttachType(prog.spec);
  const number = name === undefined ? undefined : attachTypeNumber(name);
  if (number === undefined)
    throw new TsbpfError(
      `no attach type for a cgroup (section ${prog.spec.section || '(none)'}): name one, e.g. cgroup_inet4_connect`,
      `program ${prog.name}`,
    );
  let cgfd: number;
  try {
    cgfd = openSync(path, 'r');
  } catch (e) {
    throw new KernelError('open', 2, `no cgroup directory ${path} (${(e as Error).message})`);
  }
  const what = { kind: `cgroup ${name}`, program: prog.name, target: path, backend: 'kernel' as const };
  let keep = false;
  try {
    if (!progAttach) {
      try {
        return new BpfLink(
          createLink(
            { progFd: prog.fd, target: cgfd, attachType: number },
            `cgroup ${path} (${name}), program ${prog.name}`,
          ),
          what,
        );
      } catch (e) {
        if (e instanceof KernelError && e.errno === EBADF)
          throw new KernelError(
            e.command,
            e.errno,
            `${path} is not a cgroup v2 directory (programs attach to cgroup2 only)`,
          );
        // Kernels before cgroup links refuse the command's form: the older attach does the same job.
        if (!(e instanceof KernelError) || e.errno !== EINVAL) throw e;
        try {
          progAttachCgroup(cgfd, prog.fd, number);
        } catch {
          throw e;
        }
      }
    } else progAttachCgroup(cgfd, prog.fd, number);
    // The attachment is by cgroup fd and program: both are needed to undo it, so the fd stays open.
    keep = true;
    return new HookLink(
      what,
      () => progDetach(cgfd, prog.fd, number),
      () => closeSync(cgfd),
    );
  } finally {
    if (!keep) closeSync(cgfd);
  }
}

function progAttachCgroup(cgfd: number, progFd: number, type: number): void {
  progAttach(cgfd, progFd, type, BPF_F_ALLOW_MULTI);
}
