// Interpreter speed: instructions per second on loop-heavy programs, checked and unchecked.
// Plain ESM over the built library: `npm run build && node bench/interp.js`.
import { insn, lddw } from '../dist/isa/index.js';
import { Interpreter, Runtime } from '../dist/vm/index.js';

const ITER = 2_000_000;

// r0 accumulates, r1 counts down; ALU64, ALU32, a stack store/load and a conditional back edge.
const alu = [
  insn(0xb7, 0, 0, 0, 0), // mov r0, 0
  insn(0xb7, 1, 0, 0, ITER), // mov r1, ITER
  insn(0x0f, 0, 1), // add r0, r1
  insn(0xa7, 0, 0, 0, 0x55), // xor r0, 0x55
  insn(0x04, 2, 0, 0, 7), // add32 r2, 7
  insn(0x67, 0, 0, 0, 1), // lsh r0, 1
  insn(0x77, 0, 0, 0, 1), // rsh r0, 1
  insn(0x7b, 10, 0, -8), // stxdw [r10-8], r0
  insn(0x79, 3, 10, -8), // ldxdw r3, [r10-8]
  insn(0x07, 1, 0, 0, -1), // add r1, -1
  insn(0x55, 1, 0, -9, 0), // jne r1, 0, -9
  insn(0x95), // exit
];

// 64-bit multiply/compare heavy: a linear congruential generator.
const lcg = [
  insn(0xb7, 0, 0, 0, 1),
  insn(0xb7, 1, 0, 0, ITER),
  ...lddw(2, 6364136223846793005n),
  insn(0x2f, 0, 2), // mul r0, r2
  insn(0x07, 0, 0, 0, 1442695), // add r0, 1442695
  insn(0x07, 1, 0, 0, -1),
  insn(0x25, 1, 0, -4, 0), // jgt r1, 0, -4
  insn(0x95),
];

function measure(name, insns, checked) {
  const rt = new Runtime();
  const prog = rt.prepare(insns);
  const vm = new Interpreter(rt);
  vm.run(prog, { checked, budget: 1e12 }); // warm up
  let best = 0;
  let bestCpu = 0;
  let count = 0;
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = vm.run(prog, { checked, budget: 1e12 });
    const dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    count = r.instructions;
    best = Math.max(best, r.instructions / dt);
    bestCpu = Math.max(bestCpu, r.instructions / ((c.user + c.system) / 1e6));
  }
  // CPU time excludes what other processes take on a loaded machine; wall time beside it.
  console.log(
    `${name.padEnd(10)} ${checked ? 'checked  ' : 'unchecked'} ${(bestCpu / 1e6).toFixed(1).padStart(7)} M insn/s CPU time (${(best / 1e6).toFixed(1)} wall)  (${count} insns per run, best of 5)`,
  );
}

for (const checked of [false, true]) {
  measure('alu+stack', alu, checked);
  measure('lcg mul64', lcg, checked);
}
