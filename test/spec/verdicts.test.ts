// The verdict tables (src/spec/verdicts.ts): the kernel's numbers, one spelling of the names, and the
// hooks and the kernel back end's counters naming verdicts from them.
import { describe, expect, it } from 'vitest';
import * as hooks from '../../src/hooks/xdp.js';
import { VERDICT_NAMES } from '../../src/kernel/verdicts.js';
import {
  TcAction,
  tcAction,
  tcActionName,
  XDP_ACTION_NAMES,
  XdpAction,
  xdpAction,
  xdpActionName,
} from '../../src/spec/verdicts.js';
import { runC } from './c-oracle.js';

describe('verdict tables', () => {
  it('hold the numbers of <linux/bpf.h> (enum xdp_action) and <linux/pkt_cls.h> (TC_ACT_*)', () => {
    const xdp = Object.keys(XdpAction).map((n) => `XDP_${n}`);
    const tc = Object.keys(TcAction).map((n) => `TC_ACT_${n}`);
    const got = runC(
      ['linux/bpf.h', 'linux/pkt_cls.h', 'stdio.h'],
      [...xdp, ...tc].map((c) => `printf("%s %d\\n", "${c}", (int)${c});`),
    );
    expect(got).toEqual([
      ...Object.entries(XdpAction).map(([n, v]) => `XDP_${n} ${v}`),
      ...Object.entries(TcAction).map(([n, v]) => `TC_ACT_${n} ${v}`),
    ]);
    // and every XDP action there is (XDP_REDIRECT is the last one)
    expect(Object.keys(XdpAction)).toHaveLength(5);
  });

  it('name each XDP action at its number, in the case `tsbpf xdp` prints', () => {
    XDP_ACTION_NAMES.forEach((name, n) => {
      expect(XdpAction[name]).toBe(n);
      expect(xdpActionName(n)).toBe(name);
      expect(xdpAction(name)).toBe(n);
      expect(xdpAction(`XDP_${name}`)).toBe(n);
    });
    expect(xdpActionName(1)).toBe('DROP');
  });

  it('name each TC action, TC_ACT_UNSPEC (-1) included', () => {
    for (const [name, n] of Object.entries(TcAction)) {
      expect(tcActionName(n)).toBe(name);
      expect(tcAction(name)).toBe(n);
      expect(tcAction(`TC_ACT_${name}`)).toBe(n);
    }
    expect(tcActionName(-1)).toBe('UNSPEC');
    expect(tcActionName(2)).toBe('SHOT');
  });

  it('show any other return value as UNKNOWN(n), and know no other name', () => {
    expect(xdpActionName(5)).toBe('UNKNOWN(5)');
    expect(xdpActionName(-1)).toBe('UNKNOWN(-1)');
    expect(xdpActionName(4294967295)).toBe('UNKNOWN(4294967295)');
    expect(tcActionName(9)).toBe('UNKNOWN(9)');
    for (const bad of ['drop', 'Drop', 'XDP_', 'SHOT', 'toString', 'constructor', '__proto__', ''])
      expect(xdpAction(bad), bad).toBeUndefined();
    for (const bad of ['shot', 'TC_ACT_', 'DROP', 'hasOwnProperty'])
      expect(tcAction(bad), bad).toBeUndefined();
  });

  it("are the ones the XDP hook exports and the kernel back end's counters are named after", () => {
    expect(hooks.XdpAction).toBe(XdpAction);
    expect(hooks.XDP_ACTION_NAMES).toBe(XDP_ACTION_NAMES);
    expect(hooks.xdpActionName).toBe(xdpActionName);
    // slot n counts return value n; the last slot counts everything else
    expect(VERDICT_NAMES).toEqual([...XDP_ACTION_NAMES, 'OTHER']);
  });
});
