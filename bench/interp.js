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

// The floor for any switch-loop interpreter in this JavaScript engine: a minimal one (registers as 32-bit
// halves of an Int32Array, six opcodes, no counting, no checks) running a 10-instruction program. Ours
// does the full ISA with an instruction count; the distance between the two is what is left to gain.
function minimalInterpreterFloor() {
  const R = new Int32Array(22);
  // op | dst << 16 | src << 24, imm: mov imm, add imm (64-bit, carry), mov reg, or reg, and imm, exit
  const ops = [
    [0, 2, 0, 3],
    [1, 2, 0, 4],
    [2, 4, 2, 0],
    [1, 4, 0, 3],
    [3, 2, 4, 0],
    [2, 6, 2, 0],
    [4, 6, 0, 7],
    [1, 0, 0, 3],
    [4, 0, 0, 3],
    [5, 0, 0, 0],
  ];
  const code = new Int32Array(ops.length * 4);
  ops.forEach(([op, d, s, imm], i) => {
    code[i * 4] = op | ((2 * d) << 16) | ((2 * s) << 24);
    code[i * 4 + 2] = imm;
  });
  const run = () => {
    for (let pc = 0; ; pc++) {
      const p = pc << 2;
      const w = code[p];
      const d = (w >> 16) & 0xff;
      const s = w >>> 24;
      switch (w & 0xff) {
        case 0:
          R[d] = code[p + 2];
          R[d + 1] = 0;
          break;
        case 1: {
          const a = R[d];
          const r = (a + code[p + 2]) | 0;
          R[d] = r;
          R[d + 1] = (R[d + 1] + (r >>> 0 < a >>> 0 ? 1 : 0)) | 0;
          break;
        }
        case 2:
          R[d] = R[s];
          R[d + 1] = R[s + 1];
          break;
        case 3:
          R[d] |= R[s];
          R[d + 1] |= R[s + 1];
          break;
        case 4:
          R[d] &= code[p + 2];
          R[d + 1] = 0;
          break;
        default:
          return R[0];
      }
    }
  };
  const runs = 5_000_000;
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) sink += run();
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / (runs * ops.length));
  }
  // The same program on our interpreter, unchecked, through its batch entry (one run per context).
  const rt = new Runtime();
  const prog = rt.prepare([
    insn(0xb7, 2, 0, 0, 3),
    insn(0x07, 2, 0, 0, 4),
    insn(0xbf, 4, 2),
    insn(0x07, 4, 0, 0, 3),
    insn(0x4f, 2, 4),
    insn(0xbf, 6, 2),
    insn(0x57, 6, 0, 0, 7),
    insn(0x07, 0, 0, 0, 3),
    insn(0x57, 0, 0, 0, 3),
    insn(0x95),
  ]);
  const vm = new Interpreter(rt);
  const n = 1024;
  const ctxs = rt.space.allocate(4 * n, 'scratch', 'contexts').start;
  const out = rt.space.allocate(4 * n, 'scratch', 'results').start;
  let ours = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < runs / n; i++) vm.runBatch(prog, ctxs, n, out, false);
    const c = process.cpuUsage(c0);
    ours = Math.min(ours, ((c.user + c.system) * 1000) / (runs * 10));
  }
  console.log(
    `\nfloor: a minimal 6-opcode switch interpreter runs a 10-instruction program at ${best.toFixed(2)} ns per instruction (CPU time, best of 5; checksum ${sink & 0xff});\n` +
      `       ours (unchecked, batch entry) runs the same program at ${ours.toFixed(2)} ns per instruction (${(ours / best).toFixed(2)}x the floor)`,
  );
}
minimalInterpreterFloor();
