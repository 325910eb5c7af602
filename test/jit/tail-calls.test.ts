// Tail calls through the runtime's table of compiled programs (src/jit/tail-calls.ts): same results as the
// interpreter, the helper only on a program's first call (it compiles and installs the target) and on
// failures, the limit of 33 counted across both paths, and a program array changed between runs.
import { describe, expect, it } from 'vitest';
import { helperById } from '../../src/helpers/registry.js';
import type { HelperDef } from '../../src/helpers/types.js';
import { Class, type Insn, insn, JmpOp, lddw, Mode, Size, Source } from '../../src/isa/index.js';
import { compile } from '../../src/jit/index.js';
import { tailCallSlots } from '../../src/jit/tail-calls.js';
import { createMap } from '../../src/maps/index.js';
import { MapType } from '../../src/spec/maps.js';
import { Interpreter, Runtime } from '../../src/vm/index.js';

const mov = (dst: number, imm: number) => insn(Class.ALU64 | 0xb0, dst, 0, 0, imm);
const movr = (dst: number, src: number) => insn(Class.ALU64 | 0xb0 | Source.X, dst, src);
const add = (dst: number, imm: number) => insn(Class.ALU64, dst, 0, 0, imm);
const exit = insn(Class.JMP | JmpOp.EXIT);
const ldxdw = (dst: number, src: number, off: number) => insn(Class.LDX | Mode.MEM | Size.DW, dst, src, off);
const stxdw = (dst: number, src: number, off: number) => insn(Class.STX | Mode.MEM | Size.DW, dst, src, off);

/** The registry's helpers, counting tail_call calls. */
function counting() {
  const counter = { tailCalls: 0 };
  const real = helperById(12)!;
  const wrapped: HelperDef = {
    ...real,
    call: (env, ...args) => {
      counter.tailCalls++;
      return real.call(env, ...args);
    },
  };
  return { counter, helpers: (id: number) => (id === 12 ? wrapped : helperById(id)) };
}

/**
 * A program array `jt` and three programs: slot 0 returns r1 + 1000; slot 1 counts itself in the stack
 * of frame 0 and tail-calls slot 1 again; the entry tail-calls slot r1 (r0 = 99 when that fails, else r0
 * of the target).
 */
function setup(engine: 'jit' | 'interp') {
  const rt = new Runtime();
  const jt = createMap(rt.space, {
    name: 'jt',
    type: MapType.PROG_ARRAY,
    keySize: 4,
    valueSize: 4,
    maxEntries: 4,
    flags: 0,
  });
  rt.registerMap(jt);
  const { counter, helpers } = counting();
  const tail = (index: Insn[]): Insn[] => [
    ...lddw(2, 0n, 1),
    ...index,
    insn(Class.JMP | JmpOp.CALL, 0, 0, 0, 12),
  ];
  const plus1000 = rt.prepare([movr(0, 1), add(0, 1000), exit], [jt], { helpers });
  const self = rt.prepare(
    [ldxdw(6, 10, -8), add(6, 1), stxdw(10, 6, -8), ...tail([mov(3, 1)]), ldxdw(0, 10, -8), exit],
    [jt],
    { helpers },
  );
  const entry = rt.prepare([movr(6, 1), ...tail([movr(3, 6)]), mov(0, 99), exit], [jt], { helpers });
  const put = (index: number, id: number) => {
    const key = new Uint8Array(new Uint32Array([index]).buffer);
    if (id === 0) jt.delete(key);
    else jt.update(key, new Uint8Array(new Uint32Array([id]).buffer));
  };
  put(0, rt.registerProgram(plus1000));
  put(1, rt.registerProgram(self));
  const interp = new Interpreter(rt);
  const jit = engine === 'jit' ? compile(entry, rt) : undefined;
  const run = (r1: number | bigint) => {
    const frame = rt.stackFrames(0)[0]!;
    rt.space.bytes.fill(0, frame.start, frame.end);
    const r0 = jit ? jit.execute({ args: [r1] }).r0 : interp.run(entry, { args: [r1], checked: false }).r0;
    return `${r0}/${rt.invocation.tailCalls}`;
  };
  return { rt, run, counter, put, ids: [rt.idOf(plus1000), rt.idOf(self)] };
}

describe('tail calls through the table', () => {
  it('agree with the interpreter: targets, empty and out-of-range slots, the limit', () => {
    const inputs = [0, 1, 2, 3, 4, 2 ** 32, 0, 1];
    const [jit, interp] = (['jit', 'interp'] as const).map((e) => {
      const s = setup(e);
      return inputs.map((r1) => s.run(r1));
    });
    expect(jit).toEqual(interp);
    expect(jit!.slice(0, 3)).toEqual(['1000/1', '33/33', '99/0']);
  });

  it('calls the helper only until the target is compiled, then stays in wasm', () => {
    const s = setup('jit');
    expect(s.run(0)).toBe('1000/1');
    expect(s.counter.tailCalls).toBe(1); // first call: through the helper, which installs slot 0's program
    const ready = tailCallSlots(s.rt).ready;
    expect(s.rt.space.bytes[ready + s.ids[0]!]).toBe(1);
    for (let i = 0; i < 5; i++) expect(s.run(0)).toBe('1000/1');
    expect(s.counter.tailCalls).toBe(1);
    // The self-calling program: its first run installs it, then 32 go through the table and the 34th
    // attempt falls back to the helper, which refuses (limit).
    expect(s.run(1)).toBe('33/33');
    const afterFirst = s.counter.tailCalls;
    expect(s.run(1)).toBe('33/33');
    expect(s.counter.tailCalls - afterFirst).toBe(1);
  });

  it('follows the program array as it changes between runs', () => {
    const s = setup('jit');
    expect(s.run(0)).toBe('1000/1');
    s.put(0, 0);
    expect(s.run(0)).toBe('99/0');
    s.put(0, s.ids[1]!);
    expect(s.run(0)).toBe('33/33');
  });
});
