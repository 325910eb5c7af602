// Cgroup programs (skb, sock, sock_addr, sockopt, sysctl, device, sock_ops) on a cgroup v2 directory,
// through a link: the attach type is the program's expected attach type (from its section, e.g.
// `cgroup/connect4`), and several programs may share a hook (links attach in multi mode).

import { closeSync, openSync } from 'node:fs';
import { TsbpfError } from '../../errors.js';
import { attachTypeNumber, programAttachType } from '../../spec/attach-types.js';
import { KernelError } from '../errors.js';
import { BpfLink } from './link.js';
import { createLink } from './sys.js';
import type { AttachableProgram } from './types.js';

const EBADF = 9;

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

/** A cgroup program on the cgroup v2 directory `path` (attach type: the program's, or `attachType`). */
export function attachCgroup(prog: AttachableProgram, path: string, attachType?: string): BpfLink {
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
  try {
    const fd = createLink(
      { progFd: prog.fd, target: cgfd, attachType: number },
      `cgroup ${path} (${name}), program ${prog.name}`,
    );
    return new BpfLink(fd, { kind: `cgroup ${name}`, program: prog.name, target: path, backend: 'kernel' });
  } catch (e) {
    if (e instanceof KernelError && e.errno === EBADF)
      throw new KernelError(
        e.command,
        e.errno,
        `${path} is not a cgroup v2 directory (programs attach to cgroup2 only)`,
      );
    throw e;
  } finally {
    closeSync(cgfd);
  }
}
