// JIT speed: ns per run of a small ALU program, a loop, and the UDP-drop XDP program (single run and
// batch, beside the interpreter), plus compile time for 10- to 10,000-slot programs, split into code
// generation (our JS), WebAssembly.Module and WebAssembly.Instance: cold (the first compile in a fresh
// process, one child process per size) and warm (generator already optimised). Every measured compile
// gets bytes V8 has not seen (an immediate varies), since V8 reuses a module compiled from equal bytes.
// Plain ESM over the built library: `npm run build && node bench/jit.js`. Prints numbers, asserts nothing.
//   node bench/jit.js --compile-only     only the compile-time tables
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { insn, lddw } from '../dist/isa/index.js';
import { generate } from '../dist/jit/compile.js';
import { compile } from '../dist/jit/index.js';
import { Interpreter, Runtime } from '../dist/vm/index.js';

/** Best-of-5 ns per call of fn over `n` calls. */
function nsPer(n, fn) {
  fn(Math.min(n, 10_000)); // warm up (tier-up)
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    fn(n);
    best = Math.min(best, ((performance.now() - t0) * 1e6) / n);
  }
  return best;
}
const fmt = (ns) => `${ns.toFixed(1).padStart(8)} ns`;

// --- a small ALU program: no loop, 10 instructions (`seed` is the first immediate) ------------------
const smallWith = (seed) => [
  insn(0xbf, 0, 1), // r0 = r1
  insn(0x07, 0, 0, 0, seed), // r0 += seed
  insn(0x27, 0, 0, 0, 3), // r0 *= 3
  insn(0xa7, 0, 0, 0, 0x5a5a), // r0 ^= 0x5a5a
  insn(0x77, 0, 0, 0, 3), // r0 >>= 3
  insn(0x04, 0, 0, 0, 9), // w0 += 9
  insn(0xbf, 2, 0), // r2 = r0
  insn(0x6f, 2, 0), // r2 <<= r0
  insn(0x4f, 0, 2), // r0 |= r2
  insn(0x95), // exit
];
const small = smallWith(17);

// --- a loop: 100 iterations of ALU + stack store/load (6 insns per iteration) -------------------
const loop = [
  insn(0xb7, 0, 0, 0, 0),
  insn(0xb7, 1, 0, 0, 100),
  insn(0x0f, 0, 1), // r0 += r1
  insn(0xa7, 0, 0, 0, 0x55), // r0 ^= 0x55
  insn(0x7b, 10, 0, -8), // *(u64 *)(r10 - 8) = r0
  insn(0x79, 3, 10, -8), // r3 = *(u64 *)(r10 - 8)
  insn(0x07, 1, 0, 0, -1), // r1 -= 1
  insn(0x55, 1, 0, -6, 0), // if r1 != 0 goto -6
  insn(0x95),
];

// --- UDP drop: Ethernet -> IPv4 -> UDP dst port 5001 ? XDP_DROP : XDP_PASS ----------------------
const udpDrop = [
  insn(0x61, 2, 1, 4), // r2 = ctx->data_end
  insn(0x61, 1, 1, 0), // r1 = ctx->data
  insn(0xb7, 0, 0, 0, 2), // r0 = XDP_PASS
  insn(0xbf, 3, 1), // r3 = r1
  insn(0x07, 3, 0, 0, 34), // r3 += 14 + 20
  insn(0x2d, 3, 2, 13), // if r3 > r2 goto out
  insn(0x69, 4, 1, 12), // r4 = eth->h_proto
  insn(0x55, 4, 0, 11, 0x0008), // if r4 != htons(ETH_P_IP) goto out
  insn(0x71, 4, 1, 23), // r4 = ip->protocol
  insn(0x55, 4, 0, 9, 17), // if r4 != IPPROTO_UDP goto out
  insn(0x71, 4, 1, 14), // r4 = ip->ihl
  insn(0x57, 4, 0, 0, 15),
  insn(0x67, 4, 0, 0, 2), // r4 = ihl * 4
  insn(0x0f, 1, 4), // r1 += ihl * 4
  insn(0xbf, 3, 1),
  insn(0x07, 3, 0, 0, 22), // r3 = udp + 8 (past the 14-byte Ethernet header)
  insn(0x2d, 3, 2, 3), // if r3 > r2 goto out
  insn(0x69, 4, 1, 16), // r4 = udp->dest
  insn(0x55, 4, 0, 1, 0x8913), // if r4 != htons(5001) goto out
  insn(0xb7, 0, 0, 0, 1), // r0 = XDP_DROP
  insn(0x95), // out: exit
];

// --- bpf_loop(1000, cb, 0, 0) with an empty callback: the cost of an iteration ----------------------
const LOOPS = 1000;
const bpfLoop = [
  insn(0xb7, 1, 0, 0, LOOPS), // r1 = nr_loops
  insn(0x18, 2, 4, 0, 5), // r2 = cb (a function pointer: slot 1 + 1 + 5 = 7)
  insn(0, 0, 0, 0, 0),
  insn(0xb7, 3, 0, 0, 0), // r3 = ctx (none)
  insn(0xb7, 4, 0, 0, 0), // r4 = flags
  insn(0x85, 0, 0, 0, 181), // call bpf_loop
  insn(0x95),
  insn(0xb7, 0, 0, 0, 0), // cb: return 0 (continue)
  insn(0x95),
];

function packet(dport) {
  const p = new Uint8Array(64);
  p.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00], 0); // Ethernet, IPv4
  p.set([0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14); // IPv4, UDP
  p.set([0x30, 0x39, dport >> 8, dport & 0xff, 0, 30, 0, 0], 34); // UDP
  return p;
}

function xdpContexts(rt, n) {
  const space = rt.space;
  const ctxs = space.allocate(4 * n, 'scratch', 'ctx table');
  const out = space.allocate(4 * n, 'scratch', 'verdicts');
  for (let i = 0; i < n; i++) {
    const data = packet(i % 2 ? 5001 : 53);
    const pkt = space.allocate(data.length, 'packet', `packet ${i}`);
    space.write(pkt.start, data);
    const ctx = space.allocate(24, 'ctx', `xdp_md ${i}`, false);
    space.view.setUint32(ctx.start, pkt.start, true);
    space.view.setUint32(ctx.start + 4, pkt.end, true);
    space.view.setUint32(ctxs.start + 4 * i, ctx.start, true);
  }
  return { ctxs: ctxs.start, out: out.start, first: space.view.getUint32(ctxs.start, true) };
}

/** ns per run on both engines. */
function runFigures() {
  const rt = new Runtime();
  const interp = new Interpreter(rt);
  console.log('program          engine                    per run');
  for (const [name, insns] of [
    ['alu (10 insns)', small],
    ['loop (602 insns)', loop],
  ]) {
    const prog = rt.prepare(insns);
    const jit = compile(prog, rt);
    const ctx = 12345;
    if (jit.run32(ctx) !== Number(interp.run(prog, { args: [ctx], checked: false }).r0 & 0xffffffffn)) {
      throw new Error(`${name}: JIT and interpreter disagree`);
    }
    const tJit = nsPer(2_000_000, (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += jit.run32(i);
      return s;
    });
    const tInt = nsPer(100_000, (n) => {
      for (let i = 0; i < n; i++) interp.run(prog, { args: [i], checked: false });
    });
    console.log(`${name.padEnd(16)} jit run32              ${fmt(tJit)}`);
    console.log(
      `${''.padEnd(16)} interpreter (unchecked) ${fmt(tInt)}   (${(tInt / tJit).toFixed(1)}x the JIT)`,
    );
  }

  {
    // JIT: the loop emitted inline, and through the helper (inline helpers off); the interpreter.
    const prog = rt.prepare(bpfLoop);
    const inline = compile(prog, rt);
    const viaHelper = compile(prog, rt, { inlineHelpers: false });
    if (inline.run32(0) !== LOOPS || viaHelper.run32(0) !== LOOPS) throw new Error('bpf_loop: wrong count');
    const per = (fn) =>
      nsPer(2000, (n) => {
        for (let i = 0; i < n; i++) fn();
      }) / LOOPS;
    const tInline = per(() => inline.run32(0));
    const tHelper = per(() => viaHelper.run32(0));
    const tInt = per(() => interp.run32(prog, 0, false));
    console.log(`${'bpf_loop'.padEnd(16)} jit, inline            ${fmt(tInline)} per iteration`);
    console.log(`${''.padEnd(16)} jit, through the helper ${fmt(tHelper)} per iteration`);
    console.log(`${''.padEnd(16)} interpreter (unchecked) ${fmt(tInt)} per iteration`);
  }

  {
    const N = 1024;
    const prog = rt.prepare(udpDrop);
    const jit = compile(prog, rt);
    const { ctxs, out, first } = xdpContexts(rt, N);
    jit.runBatch(ctxs, N, out);
    let drops = 0;
    for (let i = 0; i < N; i++) drops += rt.space.view.getUint32(out + 4 * i, true) === 1 ? 1 : 0;
    if (drops !== N / 2) throw new Error(`udp drop: ${drops} drops of ${N}, expected ${N / 2}`);
    const single = nsPer(2_000_000, (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += jit.run32(first);
      return s;
    });
    const batch = nsPer(4096 * N, (n) => {
      for (let i = 0; i < n / N; i++) jit.runBatch(ctxs, N, out);
    });
    const tInt = nsPer(200_000, (n) => {
      for (let i = 0; i < n; i++) interp.run(prog, { args: [first], checked: false });
    });
    console.log(`${'udp drop (64 B)'.padEnd(16)} jit run32 (single)     ${fmt(single)} per packet`);
    console.log(`${''.padEnd(16)} jit batch of ${N}       ${fmt(batch)} per packet`);
    console.log(
      `${''.padEnd(16)} interpreter (unchecked) ${fmt(tInt)} per packet  (${(tInt / batch).toFixed(1)}x the batch)`,
    );
  }
}

// --- compile time --------------------------------------------------------------------------------
/** A straight-line-and-diamonds program of about n slots: ALU, stack traffic, nested forward jumps. */
function bigProgram(n, seed) {
  const out = [insn(0xb7, 0, 0, 0, seed), insn(0xb7, 1, 0, 0, 7)];
  let k = 0;
  while (out.length < n - 8) {
    k++;
    out.push(insn(0x07, 0, 0, 0, k)); // r0 += k
    out.push(insn(0xaf, 1, 0)); // r1 ^= r0
    out.push(insn(0x7b, 10, 1, -8 * (1 + (k % 60)))); // spill
    out.push(insn(0x79, 2, 10, -8 * (1 + ((k * 7) % 60)))); // reload
    out.push(insn(0x25, 2, 0, 2, k)); // if r2 > k goto +2
    out.push(insn(0x27, 0, 0, 0, 3)); // r0 *= 3
    out.push(insn(0x05, 0, 0, 1)); // goto +1
    out.push(insn(0x1f, 0, 2)); // r0 -= r2
    if (k % 5 === 0) out.push(...lddw(3, BigInt(k) << 33n), insn(0x0f, 0, 3));
  }
  out.push(insn(0x95));
  return out;
}
const programOf = (n, seed) => (n === 10 ? smallWith(seed) : bigProgram(n, seed));

/** CPU time of the process in ms (all threads: V8's background compilers and GC helpers count too). */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** One compile of never-seen bytes, by phase: our code generation, WebAssembly.Module, WebAssembly.Instance. */
function compileOnce(rt, n, seed) {
  const prog = rt.prepare(programOf(n, seed));
  const frames = rt.stackFrames(0);
  const stride = frames[1].end - frames[0].end;
  const c0 = cpuMs();
  const t0 = performance.now();
  const mod = generate(prog, rt, stride, {});
  const t1 = performance.now();
  const genCpu = cpuMs() - c0;
  const module = new WebAssembly.Module(mod.bytes);
  const t2 = performance.now();
  const env = {};
  for (const im of WebAssembly.Module.imports(module)) {
    env[im.name] = im.kind === 'memory' ? rt.space.memory : () => 0;
  }
  const t3 = performance.now();
  new WebAssembly.Instance(module, { env });
  const t4 = performance.now();
  return {
    slots: prog.insns.length,
    bytes: mod.bytes.length,
    gen: t1 - t0,
    genCpu,
    module: t2 - t1,
    instance: t4 - t3,
  };
}

const SIZES = [10, 100, 1000, 10000];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (v) => v.toFixed(v < 10 ? 3 : 1);

if (process.argv[2] === '--cold-child') {
  // A fresh process: the first compile, then the code generation of the next three (new bytes each).
  const n = Number(process.argv[3]);
  const rt = new Runtime();
  const first = compileOnce(rt, n, 1);
  const next = [2, 3, 4].map((seed) => compileOnce(rt, n, seed).gen);
  console.log(JSON.stringify({ ...first, next }));
} else {
  if (process.argv[2] !== '--compile-only') runFigures();
  const PROCESSES = 7;
  console.log(
    `\ncompile time in ms: generate (our JS) + WebAssembly.Module + Instance, every compile on new bytes
  cold: the first compile in a fresh process, median of ${PROCESSES} processes (best), then generate of the 2nd-4th compiles;
        cpu: the process's CPU time during the first generate (median; wall time on a shared machine also
        counts other processes)
  warm: median (best) of 20 once the generator is optimised`,
  );
  const row = (cells) => cells.map(([v, w]) => String(v).padStart(w)).join(' ');
  const head = [
    ['slots', 6],
    ['wasm B', 7],
    ['|', 1],
    ['cold gen', 9],
    ['(best)', 7],
    ['cpu', 6],
    ['Module', 7],
    ['Inst', 6],
    ['total', 7],
    ['2nd gen', 7],
    ['3rd', 6],
    ['4th', 6],
    ['|', 1],
    ['warm gen', 8],
    ['(best)', 7],
    ['Module', 7],
    ['Inst', 6],
    ['total', 7],
    ['(best)', 7],
    ['total/1k', 8],
  ];
  console.log(row(head));
  const cold = new Map();
  for (const n of SIZES) {
    const runs = [];
    for (let p = 0; p < PROCESSES; p++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cold-child', String(n)], {
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`cold child for ${n} slots failed: ${r.stderr}`);
      runs.push(JSON.parse(r.stdout));
    }
    cold.set(n, runs);
  }
  // Warm the generator up on every size (the first calls are the slow, unoptimised ones).
  const rt = new Runtime();
  let seed = 1000;
  for (let round = 0; round < 20; round++) for (const n of SIZES) compileOnce(rt, n, seed++);
  for (const n of SIZES) {
    const warm = [];
    for (let round = 0; round < 20; round++) warm.push(compileOnce(rt, n, seed++));
    const c = cold.get(n);
    const cm = (k) => median(c.map((r) => r[k]));
    const coldTotal = median(c.map((r) => r.gen + r.module + r.instance));
    const nextGen = [0, 1, 2].map((i) => median(c.map((r) => r.next[i])));
    const wm = (k) => median(warm.map((r) => r[k]));
    const totals = warm.map((r) => r.gen + r.module + r.instance);
    const slots = warm[0].slots;
    const widths = head.map(([, w]) => w);
    const cells = [
      slots,
      warm[0].bytes,
      '|',
      ms(cm('gen')),
      ms(Math.min(...c.map((r) => r.gen))),
      ms(cm('genCpu')),
      ms(cm('module')),
      ms(cm('instance')),
      ms(coldTotal),
      ...nextGen.map((v) => ms(v)),
      '|',
      ms(wm('gen')),
      ms(Math.min(...warm.map((r) => r.gen))),
      ms(wm('module')),
      ms(wm('instance')),
      ms(median(totals)),
      ms(Math.min(...totals)),
      ms((median(totals) / slots) * 1000),
    ];
    console.log(row(cells.map((v, i) => [typeof v === 'string' ? v.trim() : v, widths[i]])));
  }
}
