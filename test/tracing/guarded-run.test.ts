import { describe, expect, it } from 'vitest';
import { type BoundProgram, GuardedRun } from '../../src/hooks/trace-program.js';
import { Runtime } from '../../src/vm/runtime.js';

class TestLink extends GuardedRun {
  fire(ctx: number): void {
    this.runGuarded(ctx);
  }
}

describe('GuardedRun (what probe and tracepoint links count)', () => {
  it('counts runs, counts faults and keeps the last one, and never throws into the caller', () => {
    const seen: number[] = [];
    const program: BoundProgram = {
      name: 'p',
      runtime: new Runtime(),
      engine: 'interp',
      run(ctx) {
        seen.push(ctx);
        if (ctx % 2 === 1) throw new Error(`fault at ${ctx}`);
      },
    };
    const link = new TestLink(program);
    for (const ctx of [2, 3, 4, 5]) expect(() => link.fire(ctx)).not.toThrow();
    expect(seen).toEqual([2, 3, 4, 5]);
    expect(link.runs).toBe(4);
    expect(link.errors).toBe(2);
    expect((link.lastError as Error).message).toBe('fault at 5');
  });
});
