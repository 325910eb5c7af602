// TC the classic way, for kernels without tcx links (before 6.6) or when asked: a clsact qdisc on the
// interface (created if it has none, and then removed again when the program is detached) and a
// direct-action cls_bpf filter holding the program, both through rtnetlink. The filter lives as long as
// the Link (closing it deletes the filter), and the netlink socket stays in the interface's namespace.

import { TsbpfError } from '../../errors.js';
import type { LinkInfo } from '../../spec/link.js';
import { KernelError } from '../errors.js';
import { closeFd, ifNameToIndex } from '../ffi.js';
import { withNetns } from '../netns.js';
import { HookLink } from './link.js';
import { netlinkRequest, netlinkSocket } from './native.js';
import type { AttachableProgram } from './types.js';

const RTM_NEWQDISC = 36;
const RTM_DELQDISC = 37;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
const TC_H_CLSACT = 0xfffffff1;
const CLSACT_HANDLE = 0xffff0000;
const PARENT = { ingress: 0xfffffff2, egress: 0xfffffff3 } as const;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL)
const EEXIST = 17;

let sequence = 1;

/** One rtnetlink message: header, struct tcmsg, attributes (nested ones as [type, children]). */
type Attr = [type: number, value: Uint8Array | Attr[]];

function encodeAttrs(attrs: readonly Attr[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [type, value] of attrs) {
    const body = value instanceof Uint8Array ? value : encodeAttrs(value);
    const len = 4 + body.length;
    const out = new Uint8Array((len + 3) & ~3);
    const v = new DataView(out.buffer);
    v.setUint16(0, len, true);
    v.setUint16(2, type | (value instanceof Uint8Array ? 0 : 0x8000), true); // NLA_F_NESTED
    out.set(body, 4);
    parts.push(out);
  }
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    total.set(p, at);
    at += p.length;
  }
  return total;
}

function tcMessage(
  type: number,
  flags: number,
  tc: { ifindex: number; handle: number; parent: number; info: number },
  attrs: readonly Attr[],
): Uint8Array {
  const body = encodeAttrs(attrs);
  const msg = new Uint8Array(16 + 20 + body.length);
  const v = new DataView(msg.buffer);
  v.setUint32(0, msg.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags | NLM_F_REQUEST | NLM_F_ACK, true);
  v.setUint32(8, sequence++, true);
  v.setInt32(16 + 4, tc.ifindex, true);
  v.setUint32(16 + 8, tc.handle, true);
  v.setUint32(16 + 12, tc.parent, true);
  v.setUint32(16 + 16, tc.info, true);
  msg.set(body, 36);
  return msg;
}

const cstr = (s: string) => new TextEncoder().encode(`${s}\0`);
const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

/** Where a classic TC program goes. */
export interface ClsactOptions {
  iface: string | number;
  direction: 'ingress' | 'egress';
  netns?: string;
  /** Filter priority (1..65535, default 1) and handle (default 1): one program per (priority, handle). */
  priority?: number;
  handle?: number;
}

/** A sched_cls program as a direct-action cls_bpf filter on the interface's clsact qdisc. */
export function attachClsact(prog: AttachableProgram, o: ClsactOptions): HookLink {
  const priority = o.priority ?? 1;
  const handle = o.handle ?? 1;
  if (!Number.isInteger(priority) || priority < 1 || priority > 0xffff)
    throw new TsbpfError(`tc filter priority ${priority} is not in 1..65535`, `program ${prog.name}`);
  const setup = () => {
    const ifindex = typeof o.iface === 'number' ? o.iface : ifNameToIndex(o.iface);
    const sock = netlinkSocket();
    try {
      const qdisc = { ifindex, handle: CLSACT_HANDLE, parent: TC_H_CLSACT, info: 0 };
      const made = netlinkRequest(
        sock,
        tcMessage(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, qdisc, [[TCA_KIND, cstr('clsact')]]),
        `clsact qdisc on ${o.iface}`,
      );
      if (made < 0 && made !== -EEXIST)
        throw new KernelError('RTM_NEWQDISC', -made, `clsact qdisc on ${o.iface}`);
      const ownQdisc = made === 0;
      const filter = {
        ifindex,
        handle,
        parent: PARENT[o.direction],
        info: ((priority << 16) | ETH_P_ALL_BE) >>> 0,
      };
      const added = netlinkRequest(
        sock,
        tcMessage(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, filter, [
          [TCA_KIND, cstr('bpf')],
          [
            TCA_OPTIONS,
            [
              [TCA_BPF_FD, u32(prog.fd)],
              [TCA_BPF_NAME, cstr(prog.name)],
              [TCA_BPF_FLAGS, u32(TCA_BPF_FLAG_ACT_DIRECT)],
            ],
          ],
        ]),
        `tc filter on ${o.iface}`,
      );
      const removeQdisc = () => {
        if (!ownQdisc) return;
        const r = netlinkRequest(
          sock,
          tcMessage(RTM_DELQDISC, 0, qdisc, [[TCA_KIND, cstr('clsact')]]),
          'clsact qdisc',
        );
        if (r < 0) throw new KernelError('RTM_DELQDISC', -r, `clsact qdisc on ${o.iface}`);
      };
      if (added < 0) {
        removeQdisc();
        throw new KernelError(
          'RTM_NEWTFILTER',
          -added,
          `tc ${o.direction} filter ${priority}:${handle} on ${o.iface}, program ${prog.name}`,
        );
      }
      return { sock, filter, removeQdisc };
    } catch (e) {
      closeFd(sock);
      throw e;
    }
  };
  const { sock, filter, removeQdisc } = o.netns ? withNetns(o.netns, setup) : setup();
  const what: LinkInfo = {
    kind: `tc_${o.direction}`,
    program: prog.name,
    target: `${o.iface}${o.netns ? ` (netns ${o.netns})` : ''} clsact ${priority}:${handle}`,
    backend: 'kernel',
  };
  return new HookLink(
    what,
    () => {
      // The socket is still in the interface's namespace: no switch needed to undo.
      const r = netlinkRequest(
        sock,
        tcMessage(RTM_DELTFILTER, 0, filter, [[TCA_KIND, cstr('bpf')]]),
        'tc filter',
      );
      if (r < 0) throw new KernelError('RTM_DELTFILTER', -r, `tc filter on ${o.iface}`);
      removeQdisc();
    },
    () => closeFd(sock),
  );
}
