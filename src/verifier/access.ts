// Memory accesses: every load, store and helper memory argument is checked against the region its
// pointer belongs to (context by program-type table, stack with per-byte initialisation, packet up to the
// proven range, map value by value_size, ringbuf memory by its reserved size).

import { STACK_SIZE } from '../isa/index.js';
import { MapFlag, type MapSpec } from '../spec/maps.js';
import { ctxAccess, FLOW_KEYS_SIZE, sockAccess } from '../spec/program-types.js';

/**
 * How far into a writable tracepoint's buffer a program may reach here: the kernel checks the real size at
 * attach (the furthest byte the program touches against the tracepoint's); below the largest offset
 * pointer arithmetic allows.
 */
const TP_BUFFER_SIZE = 1 << 29;

import { btfStructId, btfStructLoad, structOpsWrite } from './btf-ctx.js';
import { Reject } from './cfg.js';
import { guardDynptrRead, guardDynptrWrite } from './dynptr.js';
import type { VerifierEnv } from './env.js';
import { constant, isConstScalar, sync, unknownOfSize } from './ranges.js';
import { frozenLoad } from './rodata.js';
import {
  constReg,
  FLOW_KEYS_MEM,
  isPointer,
  ownStack,
  PACKET_SLICE_MEM,
  ptrReg,
  READONLY_MEM,
  type Reg,
  Slot,
  scalarReg,
  TP_BUFFER_MEM,
  UNKNOWN_SCALAR,
} from './state.js';
import { argsTrusted, Trust, walkedPointer } from './trust.js';

/** Largest variable offset or size the kernel lets pointer math and sizes reach (BPF_MAX_VAR_OFF). */
export const MAX_VAR_OFF = 1 << 29;

const plural = (n: number | bigint, w: string) => `${n} ${w}${n === 1 || n === 1n ? '' : 's'}`;

/** Why a dereference of `r` is impossible, or undefined if `r` points somewhere checkable. */
function notAPointer(r: Reg, regno: number, v: VerifierEnv): string | undefined {
  switch (r.kind) {
    case 'scalar':
      return `R${regno} is a number (${v.describe(r)}), not a pointer: it cannot be dereferenced`;
    case 'map_value_or_null':
    case 'map_ptr_or_null':
    case 'mem_or_null':
    case 'sock_or_null':
    case 'sock_common_or_null':
    case 'btf_ptr_or_null':
      return `R${regno} may be NULL (${v.describe(r)}): compare it with 0 before dereferencing it`;
    case 'packet_end':
      return `R${regno} is the packet end pointer: it marks the end and cannot be dereferenced`;
    case 'map_ptr':
      return `R${regno} is a map (not a pointer to its value): look the value up with bpf_map_lookup_elem`;
    case 'func':
      return `R${regno} is a function pointer and cannot be dereferenced`;
    default:
      return undefined;
  }
}

/**
 * A load or store of `size` bytes at `r + off`. `value` is the stored register (STX) or undefined for a
 * store of an immediate (ST, with `imm`) or a load. Returns the loaded register for loads.
 */
export function memAccess(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  off: number,
  size: number,
  write: boolean,
  value?: Reg,
  imm?: number,
): Reg {
  const bad = notAPointer(r, regno, v);
  if (bad)
    throw new Reject(
      pc,
      r.kind === 'scalar' ? 'scalar_deref' : r.kind.endsWith('_or_null') ? 'null_deref' : 'bad_deref',
      bad,
    );
  if (write && value && isPointer(value) && v.unprivileged && r.kind !== 'stack') {
    throw new Reject(
      pc,
      'ptr_leak',
      `storing a pointer into ${r.kind} memory leaks a kernel address (not allowed unprivileged)`,
    );
  }
  if (write && r.kind !== 'ctx') noteStore(v, pc, null);
  switch (r.kind) {
    case 'ctx':
      return ctxLoadStore(v, pc, regno, r, off, size, write, value);
    case 'btf_ptr':
      return btfPtrLoad(v, pc, regno, r, off, size, write);
    case 'sock':
    case 'sock_common': {
      // Pointer arithmetic on sockets is refused, so the offset is the instruction's.
      const res = sockAccess(r.kind === 'sock_common', off, size, write);
      if ('error' in res) throw new Reject(pc, 'bad_sock', `invalid socket access: ${res.error}`);
      return scalarReg(unknownOfSize(size));
    }
    case 'stack': {
      // Stack accesses are always checked for alignment, even privileged (check_ptr_alignment: strict for
      // the stack), and before the bounds, as the kernel does.
      if (isConstScalar(r.s)) {
        const at = r.off + off + Number(BigInt.asIntN(64, r.s.var.value));
        if (at % size !== 0)
          throw new Reject(
            pc,
            'misaligned_stack',
            `misaligned stack access: ${plural(size, 'byte')} at fp${at >= 0 ? '+' : ''}${at} (must be ${size}-byte aligned)`,
          );
      }
      const at = stackOffset(v, pc, regno, r, off, size);
      if (write) {
        stackWrite(v, pc, r.frame, at, size, value ?? constReg(BigInt(imm ?? 0)));
        return UNKNOWN_SCALAR;
      }
      return stackRead(v, pc, r.frame, at, size);
    }
    default:
      regionCheck(v, pc, regno, r, off, size, write);
      if (write) return UNKNOWN_SCALAR;
      return frozenLoad(v, r, off, size) ?? scalarReg(unknownOfSize(size));
  }
}

/** Record what the store at `pc` writes on this path: a context field, or null for other memory. */
/**
 * Pointer kinds whose loads and stores the kernel rewrites per instruction at load time (the context's fields
 * become the real struct's, a socket's the real socket's, a kernel struct's a guarded load): one instruction
 * must then use the same kind on every path (the kernel's reg_type_mismatch_ok).
 */
const REWRITTEN_KINDS: ReadonlySet<Reg['kind']> = new Set<Reg['kind']>([
  'ctx',
  'sock',
  'sock_common',
  'btf_ptr',
]);

/**
 * A load or store (not an atomic) through `r` at `pc`: refused when another path used a different kind of
 * pointer there and either kind is one the kernel rewrites (its "same insn cannot be used with different
 * pointers"); a stack pointer on one path and a map value on another is fine, as in the kernel.
 */
export function samePointerKind(v: VerifierEnv, pc: number, r: Reg): void {
  const prev = v.accessKinds.get(pc);
  if (prev === undefined) {
    v.accessKinds.set(pc, r.kind);
    return;
  }
  if (prev !== r.kind && (REWRITTEN_KINDS.has(prev) || REWRITTEN_KINDS.has(r.kind)))
    throw new Reject(
      pc,
      'ptr_kind_mismatch',
      `this instruction accesses memory through a ${r.kind} pointer here and through a ${prev} pointer on another path: the kernel rewrites context, socket and kernel-struct accesses per instruction, so one instruction must use one kind (the kernel: "same insn cannot be used with different pointers")`,
    );
}

function noteStore(v: VerifierEnv, pc: number, field: string | null): void {
  const seen = v.ctxStores;
  seen.set(pc, seen.has(pc) && seen.get(pc) !== field ? null : field);
}

function ctxLoadStore(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  off: number,
  size: number,
  write: boolean,
  value?: Reg,
): Reg {
  if (r.off !== 0 || !isConstScalar(r.s) || r.s.var.value !== 0n) {
    throw new Reject(
      pc,
      'ctx_modified',
      `R${regno} is the context pointer moved by ${r.off}${isConstScalar(r.s) ? '' : ' plus a variable'}: context fields must be accessed from the unmodified pointer`,
    );
  }
  if (v.type.btfArgs) return btfArgLoad(v, pc, off, size, write);
  const res = ctxAccess(v.type, off, size, write);
  if ('error' in res) throw new Reject(pc, 'bad_ctx', `invalid context access: ${res.error}`);
  if (write) {
    if (value && isPointer(value))
      throw new Reject(pc, 'ptr_leak', `R${regno}: storing a pointer into the context is not allowed`);
    noteStore(v, pc, res.field.name);
    return UNKNOWN_SCALAR;
  }
  switch (res.field.yields) {
    case 'packet':
      return ptrReg('packet');
    case 'packet_end':
      return ptrReg('packet_end');
    case 'packet_meta':
      return ptrReg('packet_meta');
    case 'sock_or_null':
    case 'sock_common_or_null':
      return ptrReg(res.field.yields, { id: v.newId() });
    case 'sock':
      return ptrReg('sock');
    case 'flow_keys':
      return ptrReg('mem', { size: FLOW_KEYS_SIZE, map: FLOW_KEYS_MEM });
    case 'tp_buffer':
      return ptrReg('mem', { size: TP_BUFFER_SIZE, map: TP_BUFFER_MEM });
    case 'btf': {
      // Typed by the kernel's BTF when there is one; without it the pointer can be passed on, not read.
      const btf = v.kernelBtf;
      return ptrReg('btf_ptr', {
        btf: btf && res.field.btfStruct ? btfStructId(btf, res.field.btfStruct) : 0,
      });
    }
    default:
      return scalarReg(unknownOfSize(size));
  }
}

/**
 * A load from the context of a tracing/lsm program: argument `off / 8` of its attach target, a number or a
 * pointer to a kernel struct (btf_ctx_access). The arguments cannot be written.
 */
function btfArgLoad(v: VerifierEnv, pc: number, off: number, size: number, write: boolean): Reg {
  const t = v.btfTarget;
  const what = `${write ? 'write' : 'read'} of ${plural(size, 'byte')} at offset ${off} of the context`;
  if (write)
    throw new Reject(
      pc,
      'bad_ctx',
      `invalid context access: ${what}: ${v.type.name} programs cannot write their arguments`,
    );
  // Any size, but from the start of a slot (the kernel finds the argument by off / 8).
  if (off < 0 || off % 8 !== 0)
    throw new Reject(
      pc,
      'bad_ctx',
      `invalid context access: ${what}: arguments are read from the start of their 8-byte slots`,
    );
  // struct_ops (verified without its struct's types) sees 12 numbers.
  if (!t) {
    if (off + size > 12 * 8)
      throw new Reject(pc, 'bad_ctx', `invalid context access: ${what}: past the 12 argument slots`);
    return scalarReg(unknownOfSize(size));
  }
  // The kernel reads at most MAX_BPF_FUNC_ARGS (12) slots, the return value included.
  if (off >= 12 * 8)
    throw new Reject(pc, 'bad_ctx', `invalid context access: ${what}: past the 12 argument slots`);
  const i = Math.floor(off / 8);
  const arg = t.args[i];
  if (!arg)
    throw new Reject(
      pc,
      'bad_ctx',
      `invalid context access: ${what}: ${t.what} has ${plural(t.args.length, 'argument slot')} (arg${i} does not exist)`,
    );
  if (arg.kind === 'refused')
    throw new Reject(
      pc,
      'bad_ctx',
      `invalid context access: ${what}: argument ${i} (${arg.name}) of ${t.what}: ${arg.why}`,
    );
  if (arg.kind === 'scalar') {
    const range = v.type.ret;
    if (!arg.retval || !range || size < 4) return scalarReg(unknownOfSize(size));
    // The kernel bounds an LSM program's view of the earlier return value by the hook's return range.
    const [lo, hi] = [BigInt(range.min), BigInt(range.max)];
    const base = unknownOfSize(size);
    const r = sync(
      size === 8
        ? { ...base, smin: lo, smax: hi, s32min: lo, s32max: hi }
        : { ...base, s32min: lo, s32max: hi },
    );
    return scalarReg(r ?? base);
  }
  if (size !== 8 || off % 8 !== 0)
    throw new Reject(
      pc,
      'bad_ctx',
      `invalid context access: ${what}: argument ${i} (${arg.name}) is a pointer, read as 8 bytes`,
    );
  return ptrReg(arg.orNull ? 'btf_ptr_or_null' : 'btf_ptr', {
    btf: arg.struct,
    id: arg.orNull ? v.newId() : 0,
    size: argsTrusted(v.type) ? Trust.TRUSTED : Trust.UNTRUSTED,
  });
}

/** A load through a pointer to a kernel struct: read-only, at a constant offset inside one member. */
function btfPtrLoad(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  off: number,
  size: number,
  write: boolean,
): Reg {
  // struct_ops programs may write some fields (btf-ctx.ts structOpsWrite); other programs none.
  if (write && !v.btfTarget?.structOps)
    throw new Reject(
      pc,
      'btf_write',
      `R${regno} points into a kernel struct (${v.describe(r)}): programs may read it, not write it`,
    );
  if (!isConstScalar(r.s))
    throw new Reject(
      pc,
      'var_off',
      `R${regno} points into a kernel struct at a variable offset (${v.describe(r)}): only constant offsets can be checked`,
    );
  if (r.size === Trust.PERCPU)
    throw new Reject(
      pc,
      'percpu',
      `R${regno} is a per-CPU kernel variable's address (${v.describe(r)}): read it through bpf_this_cpu_ptr or bpf_per_cpu_ptr`,
    );
  const btf = v.kernelBtf;
  if (!btf || r.btf === 0)
    throw new Reject(
      pc,
      'need_btf',
      `R${regno} points to a kernel struct whose layout comes from the kernel's BTF: give the verifier the kernel's BTF (--btf)`,
    );
  const at = r.off + off + Number(BigInt.asIntN(64, r.s.var.value));
  if (write) {
    const denied = structOpsWrite(btf, v.btfTarget, r.btf, at, size);
    if (denied) throw new Reject(pc, 'btf_write', `R${regno} (${v.describe(r)}): ${denied}`);
    return scalarReg(unknownOfSize(size));
  }
  const res = btfStructLoad(btf, r.btf, at, size);
  if ('error' in res) throw new Reject(pc, 'btf_access', `R${regno} ${res.error}`);
  // Trusted, RCU-protected or untrusted by where it was read (./kfuncs.ts).
  if (res.kind === 'ptr') return walkedPointer(v, r, at, res.struct, v.opts.sleepable ?? false);
  return scalarReg(unknownOfSize(size));
}

/** fp-relative byte offset of `r + off` in its frame; the offset must be constant and inside the frame. */
function stackOffset(v: VerifierEnv, pc: number, regno: number, r: Reg, off: number, size = 1): number {
  if (!isConstScalar(r.s)) {
    throw new Reject(
      pc,
      'var_stack',
      `R${regno} points into the stack at a variable offset (${v.describe(r)}); only constant stack offsets are supported`,
    );
  }
  const at = r.off + off + Number(BigInt.asIntN(64, r.s.var.value));
  if (at < -STACK_SIZE || at + size > 0 || at >= 0) {
    throw new Reject(
      pc,
      'stack_bounds',
      `stack access of ${plural(size, 'byte')} at fp${at >= 0 ? '+' : ''}${at} is outside the ${STACK_SIZE}-byte frame [fp-${STACK_SIZE}, fp)`,
    );
  }
  return at;
}

function stackWrite(v: VerifierEnv, pc: number, frameNo: number, at: number, size: number, value: Reg): void {
  const f = ownStack(v.state.frames[frameNo]!);
  v.noteStack(f.subprog, -at);
  const idx = at + STACK_SIZE;
  guardDynptrWrite(v, pc, frameNo, idx, size);
  if (size === 8 && idx % 8 === 0) {
    v.markWritten(frameNo, idx >> 3);
    f.spills[idx >> 3] = value;
    f.slots.fill(Slot.SPILL, idx, idx + 8);
    return;
  }
  if (isPointer(value)) {
    throw new Reject(
      pc,
      'partial_spill',
      `a pointer can only be saved to the stack as 8 aligned bytes (this stores ${size} bytes at fp${at})`,
    );
  }
  scrub(v, pc, frameNo, idx, size);
  const zero = isConstScalar(value.s) && (value.s.var.value & ((1n << BigInt(size * 8)) - 1n)) === 0n;
  f.slots.fill(zero ? Slot.ZERO : Slot.MISC, idx, idx + size);
}

/** The path reads stack bytes [idx, idx+size) of a frame (for pruning: see Verifier.markRead). */
export function markRead(v: VerifierEnv, frameNo: number, idx: number, size: number): void {
  for (let s = idx >> 3; s <= (idx + size - 1) >> 3; s++) v.markRead(frameNo, s);
}

/** Bytes [idx, idx+size) are about to change: spilled registers overlapping them become plain bytes. */
function scrub(v: VerifierEnv, pc: number, frameNo: number, idx: number, size: number): void {
  const f = ownStack(v.state.frames[frameNo]!);
  for (let s = idx >> 3; s <= (idx + size - 1) >> 3; s++) {
    // What remains of a partly overwritten slot depends on what it held (and unprivileged, whether a
    // pointer is corrupted): the old content matters as if it were read.
    if (size % 8 !== 0 || idx % 8 !== 0) v.markRead(frameNo, s);
    const sp = f.spills[s];
    if (!sp) continue;
    if (isPointer(sp) && v.unprivileged) {
      throw new Reject(
        pc,
        'spill_corrupt',
        `this overwrites part of a pointer saved at fp${s * 8 - STACK_SIZE} (not allowed unprivileged)`,
      );
    }
    const zero = sp.kind === 'scalar' && isConstScalar(sp.s) && sp.s.var.value === 0n;
    for (let b = s * 8; b < s * 8 + 8; b++)
      if (f.slots[b] === Slot.SPILL) f.slots[b] = zero ? Slot.ZERO : Slot.MISC;
    f.spills[s] = undefined;
  }
}

function stackRead(v: VerifierEnv, pc: number, frameNo: number, at: number, size: number): Reg {
  const f = v.state.frames[frameNo]!;
  const idx = at + STACK_SIZE;
  markRead(v, frameNo, idx, size);
  guardDynptrRead(v, pc, frameNo, idx, size);
  const slot = idx >> 3;
  const sp = f.spills[slot];
  if (sp && f.slots[idx] === Slot.SPILL) {
    if (size === 8) return sp;
    if (isPointer(sp))
      throw new Reject(
        pc,
        'partial_fill',
        `reads ${size} of the 8 bytes of a pointer saved at fp${slot * 8 - STACK_SIZE}`,
      );
    if (isConstScalar(sp.s)) {
      const shift = BigInt((idx % 8) * 8);
      return constReg((sp.s.var.value >> shift) & ((1n << BigInt(size * 8)) - 1n));
    }
    return scalarReg(unknownOfSize(size));
  }
  checkInit(v, pc, frameNo, idx, size);
  let allZero = true;
  for (let b = idx; b < idx + size; b++) if (f.slots[b] !== Slot.ZERO) allZero = false;
  return allZero ? scalarReg(constant(0n)) : scalarReg(unknownOfSize(size));
}

function checkInit(v: VerifierEnv, pc: number, frameNo: number, idx: number, size: number): void {
  if (v.opts.allowUninitStack) return; // unwritten bytes read as unknown, like STACK_MISC
  const f = v.state.frames[frameNo]!;
  for (let b = idx; b < idx + size; b++) {
    if (f.slots[b] === Slot.INVALID) {
      const at = idx - STACK_SIZE;
      throw new Reject(
        pc,
        'uninit_stack',
        `reads ${plural(size, 'byte')} at fp${at}, but fp${b - STACK_SIZE} was never written on this path (uninitialised stack)`,
      );
    }
  }
}

/** Bounds of a non-stack region access at `r + off` of `size` bytes (size may be a helper's buffer size). */
export function regionCheck(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  off: number,
  size: number,
  write: boolean,
): void {
  const lo = BigInt(r.off + off) + r.s.smin;
  const hi = BigInt(r.off + off) + r.s.umax + BigInt(size); // one past the last byte
  const verb = write ? 'writes' : 'reads';
  // Built only for messages: describing a register costs more than the check itself.
  const varNote = (): string =>
    isConstScalar(r.s) ? '' : ` (its variable part is ${v.describe({ ...r, kind: 'scalar' })})`;
  switch (r.kind) {
    case 'packet':
    case 'packet_meta': {
      const name = r.kind === 'packet' ? 'packet' : 'packet metadata';
      if (write && !v.type.directPacketWrite)
        throw new Reject(pc, 'pkt_write', `${v.type.name} programs cannot write packet data directly`);
      // The proven range counts from the pointer's base plus its variable part (shared by all pointers
      // with its id), so only the fixed offset is checked against it, as the kernel does.
      if (r.s.smin < 0n || r.off + off < 0) {
        throw new Reject(pc, 'pkt_bounds', `R${regno} may point before the start of the ${name}${varNote()}`);
      }
      const end = BigInt(r.off + off + size);
      if (end > BigInt(r.range)) {
        const past = end - BigInt(r.range);
        const check =
          r.range > 0 && r.rangeAt >= 0
            ? `the bounds check at ${v.where(r.rangeAt)} covers ${plural(r.range, 'byte')}`
            : `no bounds check against data_end covers it on this path`;
        const lastByte = end - 1n;
        throw new Reject(
          pc,
          'pkt_bounds',
          `R${regno} may point ${plural(past, 'byte')} past the end of the proven ${name}: ${check}, this ${verb.slice(0, -1)}s byte ${lastByte}${varNote()}`,
        );
      }
      return;
    }
    case 'map_value': {
      const m = v.maps[r.map]!;
      if (write && ((m.flags & MapFlag.RDONLY_PROG) !== 0 || m.readonly)) {
        throw new Reject(pc, 'map_readonly', `map '${m.name}' is read-only for programs`);
      }
      if (!write && (m.flags & MapFlag.WRONLY_PROG) !== 0)
        throw new Reject(pc, 'map_writeonly', `map '${m.name}' is write-only for programs`);
      if (lo < 0n)
        throw new Reject(
          pc,
          'map_bounds',
          `R${regno} may point before the start of the value of map '${m.name}'${varNote()}`,
        );
      if (r.s.umax >= BigInt(MAX_VAR_OFF))
        throw new Reject(
          pc,
          'unbounded',
          `R${regno} has an unbounded variable offset into map '${m.name}'${varNote()}: bound it first`,
        );
      if (hi > BigInt(m.valueSize)) {
        throw new Reject(
          pc,
          'map_bounds',
          `R${regno} ${verb} up to byte ${hi - 1n} of the ${m.valueSize}-byte value of map '${m.name}'${varNote()}`,
        );
      }
      specialFieldCheck(pc, m, lo, hi);
      return;
    }
    case 'mem':
      if (write && (r.map === READONLY_MEM || r.map === PACKET_SLICE_MEM))
        throw new Reject(pc, 'mem_readonly', `R${regno} points to read-only memory (${v.describe(r)})`);
      // A writable tracepoint's buffer: its size is checked when the program is attached; here only that
      // the offset is constant and not negative.
      if (r.map === TP_BUFFER_MEM && !isConstScalar(r.s))
        throw new Reject(
          pc,
          'var_off',
          `R${regno} points into the tracepoint's buffer at a variable offset${varNote()}`,
        );
      if (lo < 0n)
        throw new Reject(
          pc,
          'mem_bounds',
          `R${regno} may point before the start of its ${r.size}-byte buffer${varNote()}`,
        );
      if (hi > BigInt(r.size))
        throw new Reject(
          pc,
          'mem_bounds',
          `R${regno} ${verb} up to byte ${hi - 1n} of a ${r.size}-byte buffer${varNote()}`,
        );
      return;
    case 'ctx':
      throw new Reject(pc, 'bad_arg', `R${regno} is the context; it cannot be used as a memory buffer here`);
    default:
      throw new Reject(
        pc,
        'bad_deref',
        notAPointer(r, regno, v) ?? `R${regno} (${r.kind}) cannot be accessed`,
      );
  }
}

/** A map value's bpf_spin_lock and bpf_timer are reached through their helpers only (check_map_access). */
function specialFieldCheck(pc: number, m: MapSpec, lo: bigint, hi: bigint): void {
  for (const [name, at, size] of [
    ['bpf_spin_lock', m.spinLockOffset, 4],
    ['bpf_timer', m.timerOffset, 16],
  ] as const) {
    if (at !== undefined && lo < BigInt(at + size) && BigInt(at) < hi)
      throw new Reject(
        pc,
        'special_field',
        `the access to bytes ${lo}..${hi - 1n} of map '${m.name}' reaches its ${name} at ${at}: it cannot be accessed directly by load/store`,
      );
  }
}

/** A helper reads or writes `size` bytes (size may be a range: [minSize, maxSize]) at the pointer in `r`. */
export function helperMem(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  maxSize: number,
  write: boolean,
): void {
  const bad = notAPointer(r, regno, v);
  if (bad) throw new Reject(pc, r.kind.endsWith('_or_null') ? 'null_deref' : 'bad_arg', bad);
  if (maxSize === 0) {
    // Even an empty buffer must point into its region (the kernel checks the stack offset).
    if (r.kind === 'stack') stackOffset(v, pc, regno, r, 0, 0);
    return;
  }
  if (r.kind !== 'stack') {
    regionCheck(v, pc, regno, r, 0, maxSize, write);
    return;
  }
  const at = stackOffset(v, pc, regno, r, 0, maxSize);
  const f = v.state.frames[r.frame]!;
  v.noteStack(f.subprog, -at);
  const idx = at + STACK_SIZE;
  if (write) guardDynptrWrite(v, pc, r.frame, idx, maxSize, true);
  else guardDynptrRead(v, pc, r.frame, idx, maxSize);
  if (write) {
    scrub(v, pc, r.frame, idx, maxSize);
    ownStack(f).slots.fill(Slot.MISC, idx, idx + maxSize);
  } else {
    markRead(v, r.frame, idx, maxSize);
  }
  if (!write && !v.opts.allowUninitStack) {
    for (let b = idx; b < idx + maxSize; b++) {
      if (f.slots[b] === Slot.INVALID) {
        throw new Reject(
          pc,
          'uninit_stack',
          `R${regno} passes ${plural(maxSize, 'byte')} at fp${at} to the helper, but fp${b - STACK_SIZE} was never written (uninitialised stack)`,
        );
      }
    }
  }
}
