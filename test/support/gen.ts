// A seeded generator of random valid eBPF programs for differential tests (kernel vs interpreter vs JIT).
//
// Each program is an XDP program shaped so that the kernel's verifier accepts it and every engine must
// compute the same bytes:
//
//   prologue   save ctx at fp-8; give r0-r9 values (lddw, mov, mov32); initialise the random stack area
//   body       ALU64/ALU32 (every op, K and X, edge immediates), movsx, le/be/bswap, neg, lddw, stack
//              stores and loads of every size (and ldsx) and atomics inside the area, forward conditional
//              jumps (JMP and JMP32, every op, K and X) over nested blocks, if/else diamonds with ja/gotol,
//              and in some programs bpf-to-bpf calls to generated subprograms (placed after the epilogue)
//              After most register-writing instructions the body adds the result into a checksum slot
//              (`lock *(u64 *)(r10 - 16) += rd`), so an intermediate value that a later instruction
//              overwrites still shows in the comparison.
//   epilogue   spill r0-r9, bounds-check the packet (data + DUMP_SIZE <= data_end), copy the registers
//              (r10 as r10 - r10), the random stack area and the checksum into the packet, return XDP_PASS
//
// Stack layout (offsets from r10):
//   [-512, -96) random area | [-96, -16) register spill | -16 checksum | -8 ctx

import {
  AluOp,
  AtomicOp,
  Class,
  type Insn,
  insn,
  JmpOp,
  lddw,
  Mode,
  PseudoCall,
  SIZE_BYTES,
  Size,
  Source,
} from '../../src/isa/index.js';

/** Bytes of the register dump at the start of the packet: r0..r10, 8 bytes each, little-endian. */
export const REG_DUMP_SIZE = 11 * 8;
const AREA_START = -512;
const AREA_END = -96;
/** Bytes of the random stack area, dumped after the registers. */
export const AREA_SIZE = AREA_END - AREA_START;
const CHECKSUM_SLOT = -16;
/** Bytes the epilogue writes into the packet: registers, random area, checksum. */
export const DUMP_SIZE = REG_DUMP_SIZE + AREA_SIZE + 8;
/** Packet size the programs are run on (larger than the dump). */
export const PACKET_SIZE = 512;
const SPILL = (r: number) => -96 + 8 * r; // r0..r9 -> -96..-24
const CTX_SLOT = -8;
/** XDP verdicts the program returns: PASS after a dump, DROP when the packet is too short. */
export const XDP_PASS = 2;
export const XDP_DROP = 1;

export interface GenOptions {
  /** Approximate number of body instructions (default 40). */
  size?: number;
  /** Deepest nesting of conditional blocks (default 3). */
  depth?: number;
  /** bpf-to-bpf calls to generated subprograms in some programs (default true). */
  calls?: boolean;
}

export interface GeneratedProgram {
  seed: number;
  insns: Insn[];
  /** Slot range of the random body (for messages). */
  body: [number, number];
}

/** mulberry32: small, fast, good enough for test generation, reproducible from the seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

const EDGE_IMM = [
  0, 1, -1, 2, 7, 31, 32, 63, 64, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, -0x8000, 0x7fffffff, -0x80000000,
];
const EDGE_U64 = [
  0n,
  1n,
  0xffffffffffffffffn,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffn,
  0x80000000n,
  0x7fffffffn,
  0xffffffff80000000n,
  0x100000000n,
  31n,
  32n,
  63n,
  64n,
];

function imm32(r: Rng): number {
  return r.chance(0.35) ? r.pick(EDGE_IMM) : r.u32() | 0;
}

function value64(r: Rng): bigint {
  return r.chance(0.3) ? r.pick(EDGE_U64) : r.u64();
}

/**
 * Registers the code being generated may use: r0..r9 in the main function (r10 is read-only), r0..r5 in
 * subprograms (a callee's r6-r9 start uninitialised). `subprogram` narrows it while it generates.
 */
let regCount = 10;
const reg = (r: Rng) => r.int(regCount);

/** Every ALU operation, in opcode order (the random-CFG generator draws from all of them). */
export const ALL_ALU_OPS = [
  AluOp.ADD,
  AluOp.SUB,
  AluOp.MUL,
  AluOp.DIV,
  AluOp.OR,
  AluOp.AND,
  AluOp.LSH,
  AluOp.RSH,
  AluOp.NEG,
  AluOp.MOD,
  AluOp.XOR,
  AluOp.MOV,
  AluOp.ARSH,
  AluOp.END,
] as const;
/** The two-operand ALU operations (neg and byte swaps are generated on their own). */
const ALU_OPS = ALL_ALU_OPS.filter((op) => op !== AluOp.NEG && op !== AluOp.END);
/** Every conditional jump operation. */
export const JMP_OPS = [
  JmpOp.JEQ,
  JmpOp.JGT,
  JmpOp.JGE,
  JmpOp.JSET,
  JmpOp.JNE,
  JmpOp.JSGT,
  JmpOp.JSGE,
  JmpOp.JLT,
  JmpOp.JLE,
  JmpOp.JSLT,
  JmpOp.JSLE,
] as const;
/** Every atomic operation (imm of STX|ATOMIC). */
export const ATOMIC_OPS = [
  AtomicOp.ADD,
  AtomicOp.OR,
  AtomicOp.AND,
  AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH,
  AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH,
  AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
];
export const SIZES = [Size.B, Size.H, Size.W, Size.DW] as const;

/** An aligned offset for an access of `bytes` inside the random area. */
function areaOffset(r: Rng, bytes: number): number {
  return AREA_START + bytes * r.int(AREA_SIZE / bytes);
}

/** `lock *(u64 *)(r10 - 16) += rd`: fold a result into the checksum. */
const fold = (rd: number): Insn =>
  insn(Class.STX | Mode.ATOMIC | Size.DW, 10, rd, CHECKSUM_SLOT, AtomicOp.ADD);

/** The register an instruction writes (undefined for stores and jumps). */
function written(i: Insn): number | undefined {
  const cls = i.code & 0x07;
  if (cls === Class.ALU || cls === Class.ALU64 || cls === Class.LDX || i.code === 0x18) return i.dst;
  if (cls === Class.STX && (i.code & 0xe0) === Mode.ATOMIC && (i.imm & AtomicOp.FETCH) !== 0) {
    return i.imm === AtomicOp.CMPXCHG ? 0 : i.src;
  }
  return undefined;
}

/** One arithmetic instruction (or lddw pair). */
function alu(r: Rng): Insn[] {
  const cls = r.chance(0.5) ? Class.ALU64 : Class.ALU;
  const width = cls === Class.ALU64 ? 64 : 32;
  const kind = r.int(20);
  if (kind === 0) return [insn(cls | AluOp.NEG | Source.K, reg(r))];
  if (kind === 1) {
    // movsx: sign-extend the low 8/16(/32) bits of src
    const off = r.pick(cls === Class.ALU64 ? [8, 16, 32] : [8, 16]);
    return [insn(cls | AluOp.MOV | Source.X, reg(r), reg(r), off)];
  }
  if (kind === 2) {
    // le/be (ALU) or bswap (ALU64, K)
    const bits = r.pick([16, 32, 64]);
    const src = cls === Class.ALU64 ? Source.K : r.pick([Source.K, Source.X]);
    return [insn(cls | AluOp.END | src, reg(r), 0, 0, bits)];
  }
  if (kind === 3) return lddw(reg(r), value64(r));
  const op = r.pick(ALU_OPS);
  const signed = (op === AluOp.DIV || op === AluOp.MOD) && r.chance(0.5) ? 1 : 0; // sdiv/smod
  if (r.chance(0.5)) return [insn(cls | op | Source.X, reg(r), reg(r), signed)];
  let imm = imm32(r);
  if (op === AluOp.LSH || op === AluOp.RSH || op === AluOp.ARSH) {
    imm = r.chance(0.5) ? r.pick([0, 1, width / 2 - 1, width / 2, width - 1]) : r.int(width);
  } else if ((op === AluOp.DIV || op === AluOp.MOD) && imm === 0) {
    imm = r.pick([-1, 3, 0x80000000 | 0]);
  }
  return [insn(cls | op | Source.K, reg(r), 0, signed, imm)];
}

/** A store, load or atomic on the random stack area. */
function memory(r: Rng): Insn[] {
  const kind = r.int(8);
  if (kind < 2) {
    const size = r.pick(SIZES);
    return [insn(Class.STX | Mode.MEM | size, 10, reg(r), areaOffset(r, SIZE_BYTES[size]!))];
  }
  if (kind === 2) {
    const size = r.pick(SIZES);
    return [insn(Class.ST | Mode.MEM | size, 10, 0, areaOffset(r, SIZE_BYTES[size]!), imm32(r))];
  }
  if (kind < 5) {
    const size = r.pick(SIZES);
    return [insn(Class.LDX | Mode.MEM | size, reg(r), 10, areaOffset(r, SIZE_BYTES[size]!))];
  }
  if (kind === 5) {
    const size = r.pick([Size.B, Size.H, Size.W]);
    return [insn(Class.LDX | Mode.MEMSX | size, reg(r), 10, areaOffset(r, SIZE_BYTES[size]!))];
  }
  const size = r.pick([Size.W, Size.DW]);
  return [
    insn(Class.STX | Mode.ATOMIC | size, 10, reg(r), areaOffset(r, SIZE_BYTES[size]!), r.pick(ATOMIC_OPS)),
  ];
}

/** A conditional jump with offset `off`. */
function condJump(r: Rng, off: number): Insn {
  const cls = r.chance(0.5) ? Class.JMP : Class.JMP32;
  const op = r.pick(JMP_OPS);
  if (r.chance(0.5)) return insn(cls | op | Source.X, reg(r), reg(r), off);
  return insn(cls | op | Source.K, reg(r), 0, off, imm32(r));
}

/** An unconditional forward jump: `ja +off` or `gotol +off` (JMP32|JA, offset in imm). */
function ja(r: Rng, off: number): Insn {
  return r.chance(0.7) ? insn(Class.JMP | JmpOp.JA, 0, 0, off) : insn(Class.JMP32 | JmpOp.JA, 0, 0, 0, off);
}

/** What a block may contain: the main function has the stack area and may call subprograms. */
interface BlockKind {
  /** Stack area accesses and checksum folds (main function only: a callee's frame is uninitialised). */
  memory: boolean;
  /** Number of subprograms that may be called (`call` placeholders hold the subprogram's number). */
  calls: number;
}

const CALL = Class.JMP | JmpOp.CALL;

function block(r: Rng, budget: number, depth: number, kind: BlockKind): Insn[] {
  const out: Insn[] = [];
  while (out.length < budget) {
    const roll = r.int(100);
    if (depth > 0 && roll < 10) {
      const then = block(r, r.int(Math.max(1, budget / 3)) + 1, depth - 1, kind);
      out.push(condJump(r, then.length), ...then);
    } else if (depth > 0 && roll < 15) {
      const then = block(r, r.int(Math.max(1, budget / 4)) + 1, depth - 1, kind);
      const other = block(r, r.int(Math.max(1, budget / 4)) + 1, depth - 1, kind);
      out.push(condJump(r, other.length + 1), ...other, ja(r, then.length), ...then);
    } else if (kind.calls > 0 && roll < 19) {
      // bpf-to-bpf call; r1-r5 are clobbered by the call, so they get fresh values before any read
      out.push(...call(r, r.int(kind.calls)));
    } else {
      const step = roll < 65 || !kind.memory ? alu(r) : memory(r);
      out.push(...step);
      const rd = written(step[0]!);
      if (kind.memory && rd !== undefined && r.chance(0.8)) out.push(fold(rd));
    }
  }
  return out;
}

/** `call` subprogram `k` (a placeholder imm, resolved by `generate`), fold r0, fresh r1-r5. */
function call(r: Rng, k: number): Insn[] {
  const out = [insn(CALL, 0, PseudoCall.LOCAL, 0, k), fold(0)];
  for (let a = 1; a <= 5; a++) out.push(insn(Class.ALU64 | AluOp.MOV | Source.K, a, 0, 0, imm32(r)));
  return out;
}

/** A subprogram: r0 set, arithmetic and forward jumps over r0-r5 (its arguments), return r0. */
function subprogram(r: Rng, size: number): Insn[] {
  regCount = 6;
  try {
    const body = block(r, size, 2, { memory: false, calls: 0 });
    return [
      insn(Class.ALU64 | AluOp.MOV | Source.K, 0, 0, 0, imm32(r)),
      ...body,
      insn(Class.JMP | JmpOp.EXIT),
    ];
  } finally {
    regCount = 10;
  }
}

function prologue(r: Rng): Insn[] {
  const out: Insn[] = [
    insn(Class.STX | Mode.MEM | Size.DW, 10, 1, CTX_SLOT),
    insn(Class.ST | Mode.MEM | Size.DW, 10, 0, CHECKSUM_SLOT, 0),
  ];
  for (let reg = 0; reg <= 9; reg++) {
    const k = r.int(3);
    if (k === 0) out.push(...lddw(reg, value64(r)));
    else out.push(insn((k === 1 ? Class.ALU64 : Class.ALU) | AluOp.MOV | Source.K, reg, 0, 0, imm32(r)));
  }
  for (let off = AREA_START; off < AREA_END; off += 8) {
    if (r.chance(0.5)) out.push(insn(Class.ST | Mode.MEM | Size.DW, 10, 0, off, imm32(r)));
    else out.push(insn(Class.STX | Mode.MEM | Size.DW, 10, reg(r), off));
  }
  return out;
}

/** Spill, bounds check, copy registers and area into the packet, return XDP_PASS (XDP_DROP if short). */
export function epilogue(): Insn[] {
  const out: Insn[] = [];
  for (let reg = 0; reg <= 9; reg++) out.push(insn(Class.STX | Mode.MEM | Size.DW, 10, reg, SPILL(reg)));
  out.push(
    insn(Class.LDX | Mode.MEM | Size.DW, 1, 10, CTX_SLOT), // r1 = ctx
    insn(Class.LDX | Mode.MEM | Size.W, 2, 1, 0), // r2 = ctx->data
    insn(Class.LDX | Mode.MEM | Size.W, 3, 1, 4), // r3 = ctx->data_end
    insn(Class.ALU64 | AluOp.MOV | Source.X, 4, 2),
    insn(Class.ALU64 | AluOp.ADD | Source.K, 4, 0, 0, DUMP_SIZE),
  );
  const copy: Insn[] = [];
  for (let reg = 0; reg <= 9; reg++) {
    copy.push(
      insn(Class.LDX | Mode.MEM | Size.DW, 5, 10, SPILL(reg)),
      insn(Class.STX | Mode.MEM | Size.DW, 2, 5, 8 * reg),
    );
  }
  copy.push(
    insn(Class.ALU64 | AluOp.MOV | Source.X, 5, 10), // r10 - r10: the frame pointer is not comparable
    insn(Class.ALU64 | AluOp.SUB | Source.X, 5, 10),
    insn(Class.STX | Mode.MEM | Size.DW, 2, 5, 80),
  );
  for (let off = AREA_START; off < AREA_END; off += 8) {
    copy.push(
      insn(Class.LDX | Mode.MEM | Size.DW, 5, 10, off),
      insn(Class.STX | Mode.MEM | Size.DW, 2, 5, REG_DUMP_SIZE + off - AREA_START),
    );
  }
  copy.push(
    insn(Class.LDX | Mode.MEM | Size.DW, 5, 10, CHECKSUM_SLOT),
    insn(Class.STX | Mode.MEM | Size.DW, 2, 5, REG_DUMP_SIZE + AREA_SIZE),
    insn(Class.ALU64 | AluOp.MOV | Source.K, 0, 0, 0, XDP_PASS),
    insn(Class.JMP | JmpOp.EXIT),
  );
  out.push(insn(Class.JMP | JmpOp.JGT | Source.X, 4, 3, copy.length), ...copy);
  out.push(insn(Class.ALU64 | AluOp.MOV | Source.K, 0, 0, 0, XDP_DROP), insn(Class.JMP | JmpOp.EXIT));
  return out;
}

/** The program for `seed`. Same seed, same program. */
export function generate(seed: number, options: GenOptions = {}): GeneratedProgram {
  const r = new Rng(seed);
  const head = prologue(r);
  const calls = options.calls === false ? 0 : r.chance(0.4) ? 1 + r.int(2) : 0;
  const body = block(r, options.size ?? 40, options.depth ?? 3, { memory: true, calls });
  // a subprogram nobody calls is unreachable code to the kernel: call each one at least once
  for (let k = 0; k < calls; k++) {
    if (!body.some((i) => i.code === CALL && i.src === PseudoCall.LOCAL && i.imm === k))
      body.push(...call(r, k));
  }
  const main = [...head, ...body, ...epilogue()];
  // subprograms follow the main function; call placeholders become relative offsets to them
  const starts: number[] = [];
  const subs: Insn[] = [];
  for (let k = 0; k < calls; k++) {
    starts.push(main.length + subs.length);
    subs.push(...subprogram(r, 6 + r.int(14)));
  }
  const insns = [...main, ...subs];
  for (let i = head.length; i < head.length + body.length; i++) {
    const ins = insns[i]!;
    if (ins.code === CALL && ins.src === PseudoCall.LOCAL)
      insns[i] = { ...ins, imm: starts[ins.imm]! - (i + 1) };
  }
  return { seed, insns, body: [head.length, head.length + body.length] };
}

/** What a run of a generated program produced, read back from the packet. */
export interface Dump {
  retval: number;
  /** r0..r10 (r10 as r10 - r10 = 0), unsigned. */
  regs: bigint[];
  /** The random stack area, from fp-512 up. */
  stack: Uint8Array;
  /** Sum of the body's intermediate results (see `fold`). */
  checksum: bigint;
}

export function readDump(retval: number, packet: Uint8Array): Dump {
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const regs: bigint[] = [];
  for (let i = 0; i < 11; i++) regs.push(v.getBigUint64(8 * i, true));
  const checksum = v.getBigUint64(REG_DUMP_SIZE + AREA_SIZE, true);
  return { retval, regs, stack: packet.slice(REG_DUMP_SIZE, REG_DUMP_SIZE + AREA_SIZE), checksum };
}

/** The packet every engine runs the program on (contents are irrelevant: the dump overwrites them). */
export function testPacket(): Uint8Array {
  return new Uint8Array(PACKET_SIZE).map((_, i) => (i * 7 + 3) & 0xff);
}
