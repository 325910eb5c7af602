// compileAsync (WebAssembly.compile + instantiate, for browsers' main thread) against compile(): the same
// module bytes and the same results on every conformance case and on random programs; it works where
// synchronous compilation is refused, and in the browser-like realm of test/browser (./async-scenario.js).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LoadedObject, loadObject, setTailCallTarget } from '../../src/collection/userspace.js';
import { readObject } from '../../src/elf/index.js';
import { XdpHook } from '../../src/hooks/xdp.js';
import { Class, insn, JmpOp } from '../../src/isa/index.js';
import { compile, compileAsync, type JitProgram } from '../../src/jit/index.js';
import { readCapture } from '../../src/net/pcap.js';
import { Interpreter, loadInput, type PreparedProgram, Runtime } from '../../src/vm/index.js';
import { CONFORMANCE_BUDGET, caseProgram, hex, interpretCase } from '../conformance/run.js';
import { conformanceFiles, loadConformanceFile } from '../support/conformance.js';
import { randomProgram } from './random-cfg.js';

/** r0 as hex or the error, and the input memory after a checked run with r1 = a copy of `mem`. */
function runWithMemory(rt: Runtime, jit: JitProgram, mem: Uint8Array): { out: string; memory: Uint8Array } {
  const input = loadInput(rt, mem);
  try {
    const r = jit.execute({ args: input.args, invocation: input.invocation, budget: CONFORMANCE_BUDGET });
    return { out: hex(r.r0), memory: rt.space.read(input.region.start, mem.length) };
  } catch (e) {
    return { out: `${(e as Error).name}: ${(e as Error).message}`, memory: new Uint8Array(0) };
  } finally {
    rt.space.release(input.region);
  }
}

async function failure(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe('compileAsync', () => {
  it('matches compile() on every conformance case: module bytes, r0 or fault, memory', async () => {
    let cases = 0;
    let compared = 0;
    for (const file of conformanceFiles()) {
      for (const c of loadConformanceFile(file)) {
        cases++;
        // One runtime per engine, used alike, so that addresses in fault messages agree.
        const [rtSync, rtAsync] = [new Runtime(), new Runtime()];
        let progs: PreparedProgram[];
        try {
          progs = [rtSync.prepare(caseProgram(c)), rtAsync.prepare(caseProgram(c))];
        } catch {
          continue; // refused before either compiler sees it
        }
        let sync: JitProgram;
        try {
          sync = compile(progs[0]!, rtSync, { checked: true });
        } catch (e) {
          // Rejected at compile time: the promise rejects with the same error.
          expect(await failure(compileAsync(progs[1]!, rtAsync, { checked: true })), c.name).toBe(
            `${(e as Error).name}: ${(e as Error).message}`,
          );
          continue;
        }
        const async = await compileAsync(progs[1]!, rtAsync, { checked: true });
        expect([...async.wasm], c.name).toEqual([...sync.wasm]);
        const got = runWithMemory(rtAsync, async, c.mem);
        expect(got, c.name).toEqual(runWithMemory(rtSync, sync, c.mem));
        if (c.error === undefined) {
          expect(got.out, c.name).toBe(hex(c.result!));
          expect(got.memory, c.name).toEqual(interpretCase(rtSync, c).memory);
          compared++;
        }
      }
    }
    expect(cases).toBeGreaterThan(100);
    expect(compared).toBeGreaterThan(100);
  });

  it('matches compile() on 300 random programs with loops, calls and faults (checked and unchecked)', async () => {
    const rt = new Runtime();
    const interp = new Interpreter(rt);
    const outcome = (run: () => bigint) => {
      try {
        return hex(run());
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    };
    for (let seed = 1; seed <= 300; seed++) {
      const prog = rt.prepare(randomProgram(seed, 20 + (seed % 40), 1 + (seed % 3)));
      const checked = seed % 2 === 0;
      const sync = compile(prog, rt, { checked });
      const async = await compileAsync(prog, rt, { checked });
      expect([...async.wasm], `seed ${seed}`).toEqual([...sync.wasm]);
      expect(async.checked).toBe(checked);
      if (!checked) continue; // unchecked code is for verified programs; random ones may loop forever
      const want = outcome(() => interp.run(prog, { budget: 3000 }).r0);
      expect(
        outcome(() => async.execute({ budget: 3000 }).r0),
        `seed ${seed}`,
      ).toBe(want);
    }
  });

  const realModule = WebAssembly.Module;
  const realInstance = WebAssembly.Instance;
  afterEach(() => {
    WebAssembly.Module = realModule;
    WebAssembly.Instance = realInstance;
  });

  it('needs no synchronous WebAssembly.Module or Instance (a browser refuses them over 4 KB)', async () => {
    // 3,001 slots: r0 += 1 a thousand times behind forward jumps.
    const body = [insn(Class.ALU64 | 0xb0, 0, 0, 0, 0)];
    for (let k = 0; k < 1000; k++) {
      body.push(
        insn(Class.JMP | JmpOp.JEQ, 1, 0, 1, k),
        insn(Class.ALU64, 0, 0, 0, 1),
        insn(Class.ALU64, 0, 0, 0, 2),
      );
    }
    body.push(insn(Class.JMP | JmpOp.EXIT));
    const rt = new Runtime();
    const prog = rt.prepare(body);
    function refuse(): never {
      throw new RangeError('synchronous compilation refused');
    }
    WebAssembly.Module = refuse as unknown as typeof WebAssembly.Module;
    WebAssembly.Instance = refuse as unknown as typeof WebAssembly.Instance;
    expect(() => compile(prog, rt)).toThrow('synchronous compilation refused');
    const jit = await compileAsync(prog, rt);
    expect(jit.wasmSize).toBeGreaterThan(4096);
    expect(jit.compileTimeMs).toBeGreaterThan(0);
    // r1 = 7: every k adds 1 + 2 except k = 7, which skips the 1.
    expect(jit.run(7)).toBe(2999n);
    expect(jit.run32(5000)).toBe(3000);
  });

  it('loads an object whose programs tail-call each other without any synchronous compile', async () => {
    const spec = () => readObject(readFileSync('examples/xdp/tail_call.o'), { file: 'tail_call.o' });
    const packets = readCapture(readFileSync('examples/xdp/iperf.pcap')).packets.map((p) => p.data);
    const setup = (obj: LoadedObject) => {
      setTailCallTarget(obj, 'jt', 17, 'xdp_on_udp');
      setTailCallTarget(obj, 'jt', 6, 'xdp_on_tcp');
    };
    const reference = loadObject(spec());
    setup(reference);
    const want = packets.map((p) => new XdpHook(reference.program().runner('jit')).run(p).verdict);
    const obj = loadObject(spec());
    setup(obj);
    function refuse(): never {
      throw new RangeError('synchronous compilation refused');
    }
    WebAssembly.Module = refuse as unknown as typeof WebAssembly.Module;
    WebAssembly.Instance = refuse as unknown as typeof WebAssembly.Instance;
    await obj.compileAll();
    const hook = new XdpHook(obj.program().runner('jit'));
    expect(packets.map((p) => hook.run(p).verdict)).toEqual(want);
    expect(new Set(want).size).toBeGreaterThan(1);
  });

  it('runs in the browser-like realm, where WebAssembly.Module refuses modules over 4 KB', () => {
    // Needs dist/ (npm test builds first), as test/browser does.
    const here = fileURLToPath(new URL('.', import.meta.url));
    const out = execFileSync(
      process.execPath,
      [
        '--experimental-vm-modules',
        '--no-warnings',
        `${here}../browser/run-in-context.mjs`,
        `${here}async-scenario.js`,
      ],
      { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 },
    );
    expect(JSON.parse(out)).toEqual({
      syncRefused: 'RangeError: WebAssembly.Module(): over 4 KB on the main thread',
      smallSync: 6,
      wasmSize: expect.any(Number),
      results: [2999, 3000, 6],
      agrees: true,
    });
    expect(JSON.parse(out).wasmSize).toBeGreaterThan(4096);
  });
});
