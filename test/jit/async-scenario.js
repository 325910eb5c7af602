// Run by ./async.test.ts through test/browser/run-in-context.mjs (a realm with only Web globals). As a
// browser's main thread does, WebAssembly.Module refuses modules over 4 KB here; compileJitAsync must
// compile a large program anyway and agree with the interpreter. Prints one JSON line.
import { Class, insn, JmpOp } from '../../dist/isa/index.js';
import { compile as compileJit, compileAsync as compileJitAsync } from '../../dist/jit/index.js';
import { Interpreter, Runtime } from '../../dist/vm/index.js';

const SyncModule = WebAssembly.Module;
globalThis.WebAssembly.Module = function Module(bytes) {
  if (bytes.byteLength > 4096) throw new RangeError('WebAssembly.Module(): over 4 KB on the main thread');
  return new SyncModule(bytes);
};

// 3,002 slots: r0 += 1 and r0 += 2 a thousand times, the 1 skipped when r1 == k.
const big = [insn(Class.ALU64 | 0xb0, 0, 0, 0, 0)];
for (let k = 0; k < 1000; k++) {
  big.push(
    insn(Class.JMP | JmpOp.JEQ, 1, 0, 1, k),
    insn(Class.ALU64, 0, 0, 0, 1),
    insn(Class.ALU64, 0, 0, 0, 2),
  );
}
big.push(insn(Class.JMP | JmpOp.EXIT));
const small = [insn(Class.ALU64 | 0xb0, 0, 0, 0, 6), insn(Class.JMP | JmpOp.EXIT)];

const rt = new Runtime();
const prog = rt.prepare(big);
let syncRefused = 'not refused';
try {
  compileJit(prog, rt);
} catch (e) {
  syncRefused = `${e.name}: ${e.message}`;
}
const smallSync = compileJit(rt.prepare(small), rt).run32(0);
const jit = await compileJitAsync(prog, rt);
const tiny = await compileJitAsync(rt.prepare(small), rt);
const results = [jit.run32(7), jit.run32(5000), tiny.run32(0)];
const interp = new Interpreter(rt);
const agrees = [7, 5000, 123].every((r1) => interp.run(prog, { args: [r1] }).r0 === jit.run(r1));
console.log(JSON.stringify({ syncRefused, smallSync, wasmSize: jit.wasmSize, results, agrees }));
