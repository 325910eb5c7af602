// What a packet program's return value means: XDP actions (enum xdp_action) and TC actions (TC_ACT_*),
// one table each with the kernel's numbers. Names are upper case without the kernel's prefix (`DROP`,
// `SHOT`), as `tsbpf xdp` prints them and its JSON keys them; the user-space hooks and the kernel back
// end's verdict counters name verdicts from here, so both back ends say the same words.

/** XDP verdicts (enum xdp_action, include/uapi/linux/bpf.h). */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
/** An XDP verdict's name (`DROP`, `PASS` ...). */
export type XdpActionName = keyof typeof XdpAction;
/** XDP verdict names, indexed by the verdict's number. */
export const XDP_ACTION_NAMES = ['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'] as const satisfies {
  [N in XdpActionName as (typeof XdpAction)[N]]: N;
};

/** TC verdicts (TC_ACT_*, include/uapi/linux/pkt_cls.h), as sched_cls/sched_act programs return them. */
export const TcAction = {
  UNSPEC: -1,
  OK: 0,
  RECLASSIFY: 1,
  SHOT: 2,
  PIPE: 3,
  STOLEN: 4,
  QUEUED: 5,
  REPEAT: 6,
  REDIRECT: 7,
  TRAP: 8,
} as const;
/** A TC verdict's name (`OK`, `SHOT` ...). */
export type TcActionName = keyof typeof TcAction;

const TC_NAMES = new Map<number, TcActionName>(
  (Object.entries(TcAction) as [TcActionName, number][]).map(([name, n]) => [n, name]),
);

/** How a return value no table names is shown: `UNKNOWN(7)`. */
const unknown = (verdict: number) => `UNKNOWN(${verdict})`;

/** `DROP` for 1; `UNKNOWN(n)` for a value that is no XDP action (a program may return anything). */
export function xdpActionName(verdict: number): string {
  return (XDP_ACTION_NAMES as readonly string[])[verdict] ?? unknown(verdict);
}

/** `SHOT` for 2; `UNKNOWN(n)` for a value that is no TC action. */
export function tcActionName(verdict: number): string {
  return TC_NAMES.get(verdict) ?? unknown(verdict);
}

/** The number of an XDP action named `DROP` or, as the kernel spells it, `XDP_DROP`; else undefined. */
export function xdpAction(name: string): number | undefined {
  const bare = name.startsWith('XDP_') ? name.slice(4) : name;
  return Object.hasOwn(XdpAction, bare) ? XdpAction[bare as XdpActionName] : undefined;
}

/** The number of a TC action named `SHOT` or, as the kernel spells it, `TC_ACT_SHOT`; else undefined. */
export function tcAction(name: string): number | undefined {
  const bare = name.startsWith('TC_ACT_') ? name.slice(7) : name;
  return Object.hasOwn(TcAction, bare) ? TcAction[bare as TcActionName] : undefined;
}
