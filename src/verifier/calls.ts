// Calls: helper calls checked against their prototypes (arguments, map compatibility, memory arguments,
// reference acquire/release, packet invalidation, typed r0), and bpf-to-bpf calls (new frame, at most 8).

import type { ArgType, HelperDef } from '../helpers/types.js';
import { MAX_CALL_FRAMES, STACK_SIZE } from '../isa/index.js';
import { mapTypeInfo } from '../maps/registry.js';
import { helperLabel } from '../spec/helper-names.js';
import { MapType } from '../spec/maps.js';
import type { FuncParam } from '../spec/object.js';
import { helperAllowed } from '../spec/program-types.js';
import { helperMem, MAX_VAR_OFF, markRead } from './access.js';
import { btfStructId, structOpsHelper } from './btf-ctx.js';
import { structsAt } from './btf-member.js';
import { Reject } from './cfg.js';
import { initDynptr, useDynptr } from './dynptr.js';
import type { VerifierEnv } from './env.js';
import { isConstScalar, unknownOfSize } from './ranges.js';
import {
  type CallbackFrame,
  cloneState,
  DYNPTR_SLICE_MEM,
  DynptrKind,
  NOT_INIT,
  newFrame,
  ownStack,
  ptrReg,
  READONLY_MEM,
  type Reg,
  Slot,
  scalarReg,
  UNKNOWN_SCALAR,
} from './state.js';

const bare = (name: string) => name.replace(/^bpf_/, '');

/** May helper `h` take a map of `mapType` as its map argument? */
export function mapAcceptsHelper(mapType: number, helperName: string): boolean {
  const ok = mapTypeInfo(mapType)?.helpers;
  return ok?.includes(bare(helperName)) ?? false;
}

function checkMapCompat(pc: number, h: HelperDef, mapType: number, mapName: string): void {
  if (mapAcceptsHelper(mapType, h.name)) return;
  const known = mapTypeInfo(mapType) !== undefined;
  throw new Reject(
    pc,
    'map_helper',
    known
      ? `map '${mapName}' (type ${mapType}) cannot be passed to ${h.name}`
      : `map '${mapName}' has type ${mapType}, which this verifier does not know`,
  );
}

export function callHelper(v: VerifierEnv, pc: number, id: number): void {
  // Asked when a path reaches the call, as the kernel does: a call no path reaches is dead code.
  const h = v.helper(id);
  // libbpf's poisoned call (0xbad2310, "bad relo"): a CO-RE relocation the target BTF could not satisfy.
  if (!h && id === 0xbad2310)
    throw new Reject(
      pc,
      'core_poison',
      'the program reaches a CO-RE relocation that could not be applied (the call 0xbad2310 libbpf poisons it with): the target BTF lacks the field, type or enum value it reads (the object warnings name it)',
    );
  if (!h) throw new Reject(pc, 'unknown_helper', `call to unknown helper ${helperLabel(id)}`);
  if (v.state.lock && bare(h.name) !== 'spin_unlock') {
    throw new Reject(
      pc,
      'lock_held',
      `${h.name} is called while holding the bpf_spin_lock taken at ${v.where(v.state.lock.at)}: no function calls are allowed until it is released`,
    );
  }
  if (!helperAllowed(v.type, h) && !structOpsHelper(v.btfTarget, h.name)) {
    throw new Reject(
      pc,
      'helper_not_allowed',
      `${v.type.name} programs cannot call helper ${h.name} (#${id})`,
    );
  }
  // Some helpers only for fentry/fexit programs on listed functions (d_path: the kernel's allow list).
  if (h.attachTargets && v.type.name === 'tracing' && v.type.attachType !== 'trace_iter') {
    const fn = v.btfTarget?.what.split('/').pop() ?? '';
    if (!h.attachTargets.includes(fn))
      throw new Reject(
        pc,
        'helper_not_allowed',
        `${h.name} (#${id}) may not be called from a program attached to '${fn}' (the kernel allows it at ${h.attachTargets.join(', ')})`,
      );
  }
  const regs = v.frame.regs;
  const args = h.proto.argsFor?.[v.type.name] ?? h.proto.args;
  let mapIdx = -1;
  let released: Reg | undefined;
  let callback = -1;
  let callbackCtx: Reg | undefined;
  // The map whose value holds the bpf_timer argument (timer helpers), and dynptr arguments to act on.
  let timerMap = -1;
  let dynptrOut: Reg | undefined;
  let dynptrFreed: Reg | undefined;
  let dynptrIn: Reg | undefined;
  const need = (regno: number, ok: boolean, what: string, kind = 'bad_arg') => {
    if (!ok)
      throw new Reject(
        pc,
        kind,
        `argument ${regno} of ${h.name} (R${regno}) must be ${what}, but it is ${v.describe(regs[regno]!)}`,
      );
  };
  let constKey: bigint | undefined;
  for (let i = 0; i < args.length; i++) {
    const regno = i + 1;
    const t: ArgType = args[i]!;
    if (t === 'unchecked') continue;
    const r = v.read(regno, pc);
    const isNull = r.kind === 'scalar' && isConstScalar(r.s) && r.s.var.value === 0n;
    switch (t) {
      case 'anything':
        break;
      case 'scalar':
      case 'const_size':
      case 'const_size_or_zero':
        need(regno, r.kind === 'scalar', 'a number');
        break;
      case 'const_map_ptr':
        need(regno, r.kind === 'map_ptr', 'a map (from a map reference)');
        mapIdx = r.map;
        if (timerMap >= 0) {
          // bpf_timer_init: the map must be the one whose value holds the timer (the kernel's map_uid check).
          if (mapIdx !== timerMap)
            throw new Reject(
              pc,
              'bad_arg',
              `${h.name}: the timer in R1 is in map '${v.maps[timerMap]!.name}', but R${regno} is map '${v.maps[mapIdx]!.name}'`,
            );
        } else checkMapCompat(pc, h, v.maps[mapIdx]!.type, v.maps[mapIdx]!.name);
        break;
      case 'map_value_or_null':
      case 'map_key':
      case 'map_value':
      case 'uninit_map_value': {
        if (t === 'map_value_or_null' && isNull) break;
        if (mapIdx < 0)
          throw new Reject(pc, 'bad_arg', `${h.name}: argument ${regno} needs a map argument before it`);
        const m = v.maps[mapIdx]!;
        const size = t === 'map_key' ? m.keySize : m.valueSize;
        helperMem(v, pc, regno, r, size, t === 'uninit_map_value');
        if (t === 'map_key' && bare(h.name) === 'map_lookup_elem') constKey = stackConstant(v, r, size);
        break;
      }
      case 'mem':
      case 'mem_or_null':
      case 'uninit_mem': {
        const sizeType = args[i + 1];
        const sizeReg = v.read(regno + 1, pc);
        need(regno + 1, sizeReg.kind === 'scalar', 'a number (the buffer size)');
        const s = sizeReg.s;
        if (s.smin < 0n) {
          throw new Reject(
            pc,
            'bad_size',
            `R${regno + 1} (the size for ${h.name}) may be negative (${v.describe(sizeReg)}): bound it with an unsigned check`,
          );
        }
        if (s.umax >= BigInt(MAX_VAR_OFF)) {
          throw new Reject(
            pc,
            'bad_size',
            `R${regno + 1} (the size for ${h.name}) is unbounded (${v.describe(sizeReg)}): bound it with 'if (n < N)' or 'n &= N'`,
          );
        }
        if (s.umin === 0n && sizeType !== 'const_size_or_zero') {
          throw new Reject(
            pc,
            'bad_size',
            `R${regno + 1} (the size for ${h.name}) may be 0, which this helper does not accept`,
          );
        }
        if (t === 'mem_or_null' && isNull) {
          need(regno + 1, s.umax === 0n, 'zero when the buffer is NULL');
        } else {
          helperMem(v, pc, regno, r, Number(s.umax), t === 'uninit_mem');
        }
        i++;
        break;
      }
      case 'ctx':
        need(
          regno,
          r.kind === 'ctx' && r.off === 0 && isConstScalar(r.s) && r.s.var.value === 0n,
          'the unmodified context pointer',
        );
        break;
      case 'const_str':
        need(regno, r.kind === 'map_value', 'a pointer to a string in a read-only map');
        break;
      case 'ptr_to_stack':
      case 'ptr_to_stack_or_null':
        need(regno, r.kind === 'stack' || (t === 'ptr_to_stack_or_null' && isNull), 'a stack pointer');
        callbackCtx = r;
        break;
      case 'ringbuf_mem':
        need(
          regno,
          r.kind === 'mem' && r.ref !== 0 && r.map !== DYNPTR_SLICE_MEM,
          'memory returned by bpf_ringbuf_reserve (checked against NULL)',
        );
        need(
          regno,
          r.off === 0 && isConstScalar(r.s) && r.s.var.value === 0n,
          'the unmodified pointer returned by bpf_ringbuf_reserve',
        );
        released = r;
        break;
      case 'long_ptr':
        // MEM_ALIGNED: on the stack, an 8-byte slot (the kernel's strict alignment check).
        if (
          r.kind === 'stack' &&
          isConstScalar(r.s) &&
          (r.off + Number(BigInt.asIntN(64, r.s.var.value))) % 8 !== 0
        )
          throw new Reject(
            pc,
            'misaligned_stack',
            `argument ${regno} of ${h.name} (R${regno}) must be 8-byte aligned, but it is ${v.describe(r)}`,
          );
        helperMem(v, pc, regno, r, 8, true);
        break;
      case 'fixed_mem':
        helperMem(v, pc, regno, r, h.proto.fixedSizes?.[i] ?? 0, false);
        break;
      case 'int_ptr':
        helperMem(v, pc, regno, r, 4, false);
        helperMem(v, pc, regno, r, 4, true);
        break;
      case 'ctx_or_null':
        need(
          regno,
          isNull || (r.kind === 'ctx' && r.off === 0 && isConstScalar(r.s) && r.s.var.value === 0n),
          'the unmodified context pointer or NULL',
        );
        break;
      case 'btf_id':
      case 'btf_id_or_null': {
        // A kernel object typed by BTF (get_current_task_btf, a tracing program's argument), or NULL where
        // the helper takes one; of the helper's struct when both are known.
        const want = h.proto.btfStruct && v.kernelBtf ? btfStructId(v.kernelBtf, h.proto.btfStruct) : 0;
        // Or a member of that struct inside another (&file->f_path for d_path): btf-member.ts.
        const inner =
          r.kind === 'btf_ptr' &&
          want !== 0 &&
          r.btf !== 0 &&
          r.off !== 0 &&
          isConstScalar(r.s) &&
          v.kernelBtf
            ? structsAt(v.kernelBtf, r.btf, r.off + Number(BigInt.asIntN(64, r.s.var.value))).includes(want)
            : false;
        need(
          regno,
          (r.kind === 'btf_ptr' && r.off === 0) || inner || (t === 'btf_id_or_null' && isNull),
          `a pointer to a kernel ${h.proto.btfStruct ?? 'object'}${t === 'btf_id_or_null' ? ' or NULL' : ''}`,
        );
        need(
          regno,
          isNull || inner || !want || !r.btf || r.btf === want,
          `a pointer to a ${h.proto.btfStruct}`,
        );
        break;
      }
      case 'sock_or_null':
        need(regno, isNull || r.kind === 'sock', 'a socket (checked against NULL) or NULL');
        break;
      case 'sock_common':
      case 'sock_release':
        // A typed socket (skc_to_*, a tracing argument) passes too, as the kernel's BTF_ID_SOCK_COMMON.
        need(
          regno,
          r.kind === 'sock' || r.kind === 'sock_common' || (t === 'sock_common' && r.kind === 'btf_ptr'),
          'a socket, checked against NULL',
        );
        // A typed pointer must be to a socket: a struct that begins with a struct sock_common.
        if (r.kind === 'btf_ptr' && r.btf !== 0 && v.kernelBtf && isConstScalar(r.s)) {
          const at = r.off + Number(BigInt.asIntN(64, r.s.var.value));
          const common = btfStructId(v.kernelBtf, 'sock_common');
          need(
            regno,
            structsAt(v.kernelBtf, r.btf, at).includes(common),
            'a pointer to a socket (struct sock_common)',
          );
        }
        if (t === 'sock_release') {
          need(regno, r.ref !== 0, 'a socket from a lookup (a reference to release)');
          released = r;
        }
        break;
      case 'func':
        if (!(bare(h.name) in CALLBACK_RET)) {
          throw new Reject(pc, 'unsupported', `${h.name}: callbacks of this helper are not supported yet`);
        }
        need(regno, r.kind === 'func', 'a function (a subprogram address)');
        callback = r.target;
        break;
      case 'timer':
        timerMap = timerArg(v, pc, regno, r, h.name);
        break;
      case 'dynptr':
        dynptrIn = useDynptr(v, pc, regno, r, h.name);
        break;
      case 'dynptr_uninit':
        need(regno, r.kind === 'stack', 'a pointer to a struct bpf_dynptr on the stack');
        dynptrOut = r;
        break;
      case 'dynptr_release':
        dynptrFreed = useDynptr(v, pc, regno, r, h.name, DynptrKind.RINGBUF, true);
        break;
      case 'spin_lock':
        spinLock(v, pc, regno, r, bare(h.name) === 'spin_lock');
        break;
    }
  }
  if (bare(h.name) === 'tail_call' && v.state.refs.length) {
    throw new Reject(
      pc,
      'ref_leak',
      `tail call while holding ringbuf memory from insn ${v.state.refs[0]!.at}: it would never be released`,
    );
  }
  // The kernel makes local dynptrs over map values only (check_helper_call's bpf_dynptr_from_mem case).
  if (bare(h.name) === 'dynptr_from_mem' && regs[1]!.kind !== 'map_value')
    throw new Reject(
      pc,
      'bad_arg',
      `the memory of bpf_dynptr_from_mem (R1) must be a map value, but it is ${v.describe(regs[1]!)} (the kernel says "Unsupported reg type")`,
    );
  const sizeArg = regs[2]!;
  const castFrom = regs[1]!;
  const sliceLen = regs[3]!;
  const cbArgs = callback >= 0 ? callbackArgs(v, pc, h.name, mapIdx, timerMap, callbackCtx) : undefined;
  if (released) v.release(released.ref);
  if (dynptrFreed) v.release(dynptrFreed.ref);
  if (dynptrOut) {
    // A ring-buffer reservation is a reference even when it fails (its dynptr is then NULL, still to be
    // discarded), as the kernel counts it.
    const ringbuf = bare(h.name) === 'ringbuf_reserve_dynptr';
    initDynptr(
      v,
      pc,
      args.indexOf('dynptr_uninit') + 1,
      dynptrOut,
      ringbuf ? DynptrKind.RINGBUF : DynptrKind.LOCAL,
      ringbuf ? v.acquire(pc) : 0,
    );
  }
  if (h.proto.changesPacket) v.invalidatePackets();
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  switch (h.proto.ret) {
    case 'integer':
      regs[0] = UNKNOWN_SCALAR;
      break;
    case 'void':
      regs[0] = NOT_INIT;
      break;
    case 'map_value_or_null':
      if (mapIdx < 0) throw new Reject(pc, 'bad_arg', `${h.name} returns a map value but takes no map`);
      if (v.maps[mapIdx]!.type === MapType.SOCKMAP || v.maps[mapIdx]!.type === MapType.SOCKHASH) {
        // A socket map's lookup gives the socket, referenced (the kernel's acquire on sockmap lookups).
        const ref = v.acquire(pc);
        regs[0] = ptrReg('sock_or_null', { id: ref, ref });
      } else if (v.innerOf.has(mapIdx))
        regs[0] = ptrReg('map_ptr_or_null', { map: v.innerOf.get(mapIdx)!, id: v.newId() });
      else if (constKey !== undefined && alwaysFound(v, mapIdx, constKey))
        regs[0] = ptrReg('map_value', { map: mapIdx });
      else regs[0] = ptrReg('map_value_or_null', { map: mapIdx, id: v.newId() });
      break;
    case 'btf_id': {
      const struct = h.proto.retBtfStruct ?? h.proto.btfStruct;
      regs[0] = ptrReg('btf_ptr', { btf: struct && v.kernelBtf ? btfStructId(v.kernelBtf, struct) : 0 });
      break;
    }
    case 'sock_or_null':
    case 'sock_common_or_null': {
      // A referenced socket, released by sk_release on every path.
      const ref = v.acquire(pc);
      regs[0] = ptrReg(h.proto.ret, { id: ref, ref });
      break;
    }
    case 'btf_id_or_null': {
      // A cast of a socket (skc_to_tcp_sock, tcp_sock) keeps the argument's reference, as sk_fullsock's.
      const struct = h.proto.retBtfStruct ?? h.proto.btfStruct;
      const btf = struct && v.kernelBtf ? btfStructId(v.kernelBtf, struct) : 0;
      regs[0] = ptrReg('btf_ptr_or_null', { btf, id: v.newId(), ref: castFrom.ref });
      break;
    }
    case 'map_value':
      regs[0] = ptrReg('map_value', { map: mapIdx });
      break;
    case 'sock_noref_or_null':
      regs[0] = ptrReg('sock_or_null', { id: v.newId() });
      break;
    case 'sock_cast_or_null':
      // The kernel's pointer casts (is_ptr_cast_function): the same socket, or NULL; a NULL result does not
      // release the argument's reference, which stays to be released (markNull releases only acquisitions).
      regs[0] = ptrReg('sock_or_null', { id: v.newId(), ref: castFrom.ref });
      break;
    case 'ringbuf_mem_or_null': {
      if (sizeArg.kind !== 'scalar' || !isConstScalar(sizeArg.s)) {
        throw new Reject(
          pc,
          'bad_size',
          `the size passed to ${h.name} (R2) must be a known constant, but it is ${v.describe(sizeArg)}`,
        );
      }
      const ref = v.acquire(pc);
      regs[0] = ptrReg('mem_or_null', { size: Number(sizeArg.s.var.value), id: ref, ref });
      break;
    }
    case 'dynptr_mem_or_null': {
      // bpf_dynptr_data: `len` bytes of the dynptr's data, or NULL (a read-only dynptr gives NULL at run
      // time); they go when a ring-buffer dynptr is released (its reference).
      if (sliceLen.kind !== 'scalar' || !isConstScalar(sliceLen.s)) {
        throw new Reject(
          pc,
          'bad_size',
          `the length passed to ${h.name} (R3) must be a known constant, but it is ${v.describe(sliceLen)}`,
        );
      }
      const d = dynptrIn!;
      regs[0] = ptrReg('mem_or_null', {
        size: Number(sliceLen.s.var.value),
        id: v.newId(),
        ref: d.ref,
        map: DYNPTR_SLICE_MEM,
      });
      break;
    }
  }
  // A callback helper may call the callback zero or more times: this path is "zero times"; the callback
  // path is queued, and each callback exit both returns here and calls it again (see returnToCaller). A
  // timer's callback runs later, on a state of its own.
  if (cbArgs) {
    if (cbArgs.async) {
      const f = newFrame(pc, callback, 0);
      cbArgs.args.forEach((r, i) => {
        f.regs[i + 1] = r;
      });
      f.callback = cbArgs;
      f.callbackCall = 1;
      v.fork({ frames: [f], refs: [], path: undefined }, callback, pc);
    } else v.fork(enterCallback(v, pc, callback, cbArgs), callback, pc);
  }
}

/** The largest value each callback may return (the smallest is 0), by helper: the kernel's callback_ret_range. */
const CALLBACK_RET: Record<string, bigint> = {
  loop: 1n,
  for_each_map_elem: 1n,
  find_vma: 1n,
  user_ringbuf_drain: 1n,
  timer_set_callback: 0n,
};

/** What a helper's callback gets in r1-r5 (the kernel's set_*_callback_state). */
function callbackArgs(
  v: VerifierEnv,
  pc: number,
  helper: string,
  mapIdx: number,
  timerMap: number,
  ctx: Reg | undefined,
): CallbackFrame {
  const name = bare(helper);
  const base = { helper: `bpf_${name}`, retMax: CALLBACK_RET[name]!, refs: v.state.refs.length };
  // A map's key as a callback sees it: read-only memory of the key's size.
  const key = (m: number) => ptrReg('mem', { size: v.maps[m]!.keySize, map: READONLY_MEM });
  switch (name) {
    case 'for_each_map_elem':
      return {
        ...base,
        async: false,
        args: [ptrReg('map_ptr', { map: mapIdx }), key(mapIdx), ptrReg('map_value', { map: mapIdx }), ctx!],
      };
    case 'timer_set_callback':
      // It runs on a state of its own: it holds none of its caller's references.
      return {
        ...base,
        refs: 0,
        async: true,
        args: [ptrReg('map_ptr', { map: timerMap }), key(timerMap), ptrReg('map_value', { map: timerMap })],
      };
    case 'user_ringbuf_drain':
      return { ...base, async: false, args: [ptrReg('dynptr_ptr', { size: DynptrKind.LOCAL }), ctx!] };
    case 'find_vma': {
      const btf = (s: string) => (v.kernelBtf ? btfStructId(v.kernelBtf, s) : 0);
      return {
        ...base,
        async: false,
        args: [
          ptrReg('btf_ptr', { btf: btf('task_struct') }),
          ptrReg('btf_ptr', { btf: btf('vm_area_struct') }),
          ctx!,
        ],
      };
    }
    default:
      if (name !== 'loop') throw new Reject(pc, 'unsupported', `${helper}: unknown callback helper`);
      return { ...base, async: false, args: [scalarReg(unknownOfSize(4)), ctx!] };
  }
}

/**
 * bpf_spin_lock / bpf_spin_unlock: the argument points exactly at the map value's `struct bpf_spin_lock` (the
 * map's BTF says where); one lock at a time, released by the path that took it, before any other call or exit.
 */
function spinLock(v: VerifierEnv, pc: number, regno: number, r: Reg, lock: boolean): void {
  fieldArg(v, pc, regno, r, lock ? 'bpf_spin_lock' : 'bpf_spin_unlock', 'bpf_spin_lock', 'a lock');
  const held = v.state.lock;
  if (lock) {
    if (held)
      throw new Reject(
        pc,
        'lock_held',
        `a second bpf_spin_lock while holding the one taken at ${v.where(held.at)}`,
      );
    v.state.lock = { map: r.map, id: r.id, at: pc };
    return;
  }
  if (!held)
    throw new Reject(pc, 'lock_unheld', 'bpf_spin_unlock without a bpf_spin_lock taken on this path');
  if (held.map !== r.map || held.id !== r.id)
    throw new Reject(
      pc,
      'lock_other',
      `bpf_spin_unlock of a different lock than the one taken at ${v.where(held.at)}`,
    );
  v.state.lock = undefined;
}

/**
 * A bpf_timer argument: a pointer exactly at the `struct bpf_timer` of a map value (the map's BTF says
 * where); returns the map's index.
 */
function timerArg(v: VerifierEnv, pc: number, regno: number, r: Reg, helper: string): number {
  return fieldArg(v, pc, regno, r, helper, 'bpf_timer', 'a timer');
}

/**
 * An argument that must point exactly at a map value's special field (`struct bpf_spin_lock`, `struct
 * bpf_timer`: where the map's BTF puts it, at a constant offset); returns the map's index.
 */
function fieldArg(
  v: VerifierEnv,
  pc: number,
  regno: number,
  r: Reg,
  helper: string,
  field: 'bpf_spin_lock' | 'bpf_timer',
  noun: string,
): number {
  if (r.kind !== 'map_value')
    throw new Reject(
      pc,
      'bad_arg',
      `argument ${regno} of ${helper} (R${regno}) must point to a struct ${field} in a map value, but it is ${v.describe(r)}`,
    );
  const m = v.maps[r.map]!;
  const offset = field === 'bpf_spin_lock' ? m.spinLockOffset : m.timerOffset;
  if (offset === undefined)
    throw new Reject(
      pc,
      'bad_arg',
      `map '${m.name}' has no struct ${field} in its value (${noun} must be a field of a map value described by BTF)`,
    );
  if (!isConstScalar(r.s))
    throw new Reject(
      pc,
      'bad_arg',
      `R${regno} has a variable offset: a ${field} has to be at a constant offset`,
    );
  const at = r.off + Number(BigInt.asIntN(64, r.s.var.value));
  if (at !== offset)
    throw new Reject(
      pc,
      'bad_arg',
      `R${regno} points at offset ${at} of the value of map '${m.name}', but its struct ${field} is at ${offset}`,
    );
  return r.map;
}

/**
 * The key a key pointer points to when the kernel knows it (get_constant_map_key, privileged only): all
 * key bytes written as zero, or the top bytes of a spilled constant (below). The kernel also knows a
 * 4-byte spill at the bottom of a slot; our spills below 8 bytes are plain bytes, so that case stays a
 * (rare) false alarm.
 */
function stackConstant(v: VerifierEnv, r: Reg, size: number): bigint | undefined {
  if (v.unprivileged || r.kind !== 'stack' || !isConstScalar(r.s)) return undefined;
  const f = v.state.frames[r.frame]!;
  const idx = r.off + Number(BigInt.asIntN(64, r.s.var.value)) + STACK_SIZE;
  if (idx < 0 || idx + size > STACK_SIZE) return undefined;
  markRead(v, r.frame, idx, size); // the verdict depends on these bytes
  const sp = f.spills[idx >> 3];
  if (sp && f.slots[idx] === Slot.SPILL) {
    // The kernel (get_constant_map_key) takes a key that runs from inside a spilled constant exactly to
    // the top of its slot as that whole constant; the key's own bytes are what a lookup finds. The key
    // counts as constant when both are in range, so the larger of the two is returned.
    const within = idx % 8;
    if (sp.kind !== 'scalar' || !isConstScalar(sp.s) || 8 - within !== size) return undefined;
    const whole = BigInt.asUintN(64, sp.s.var.value);
    const own = BigInt.asUintN(size * 8, whole >> BigInt(within * 8));
    return own > whole ? own : whole;
  }
  for (let b = idx; b < idx + size; b++) if (f.slots[b] !== Slot.ZERO) return undefined;
  return 0n;
}

/** An array lookup with a known key below max_entries cannot fail (the kernel elides the NULL check). */
function alwaysFound(v: VerifierEnv, mapIdx: number, key: bigint): boolean {
  const m = v.maps[mapIdx]!;
  return (m.type === MapType.ARRAY || m.type === MapType.PERCPU_ARRAY) && key < BigInt(m.maxEntries);
}

/**
 * A copy of the current state inside a new callback frame with the callback's arguments; `call` counts the
 * callback's calls on this path (more than one: `again`).
 */
function enterCallback(v: VerifierEnv, pc: number, target: number, cb: CallbackFrame, call = 1) {
  const st = cloneState(v.state);
  if (call > 1) {
    // Widen what the callback may have changed in its callers' stacks (through the context pointer):
    // numbers become unknown, so repeated calls reach a state seen before instead of counting forever.
    for (const f of st.frames) {
      ownStack(f);
      f.spills = f.spills.map((r) => (r && r.kind === 'scalar' ? UNKNOWN_SCALAR : r));
      for (let b = 0; b < f.slots.length; b++) if (f.slots[b] === Slot.ZERO) f.slots[b] = Slot.MISC;
    }
  }
  if (st.frames.length >= MAX_CALL_FRAMES) {
    throw new Reject(pc, 'call_depth', `the call chain is deeper than ${MAX_CALL_FRAMES} frames`);
  }
  const f = newFrame(pc, target, st.frames.length);
  cb.args.forEach((r, i) => {
    f.regs[i + 1] = r;
  });
  f.callback = cb;
  f.callbackCall = call;
  st.frames.push(f);
  return st;
}

/** bpf-to-bpf call: a new frame for the callee; returns the callee's first slot. */
export function callLocal(v: VerifierEnv, pc: number, target: number): number {
  const s = v.state;
  if (s.frames.length >= MAX_CALL_FRAMES) {
    throw new Reject(pc, 'call_depth', `the call chain is deeper than ${MAX_CALL_FRAMES} frames`);
  }
  const caller = v.frame;
  const callee = newFrame(pc, target, s.frames.length);
  for (let r = 1; r <= 5; r++) callee.regs[r] = caller.regs[r]!;
  for (let r = 0; r <= 5; r++) caller.regs[r] = NOT_INIT;
  s.frames.push(callee);
  return target;
}

/**
 * A call to a global function: its arguments are checked against the BTF parameter types, the function
 * is not walked here (it is verified on its own), r1-r5 are clobbered and r0 is an unknown number.
 */
export function callGlobal(v: VerifierEnv, pc: number, target: number, params: readonly FuncParam[]): number {
  if (v.state.lock)
    throw new Reject(
      pc,
      'lock_held',
      `a call to the global function at ${target} while holding the bpf_spin_lock taken at ${v.where(v.state.lock.at)} (the kernel allows static functions only)`,
    );
  const regs = v.frame.regs;
  params.forEach((p, i) => {
    const regno = i + 1;
    const r = v.read(regno, pc);
    const need = (ok: boolean, what: string) => {
      if (!ok) {
        throw new Reject(
          pc,
          'bad_arg',
          `argument ${regno} of the global function at ${target} (R${regno}) must be ${what}, but it is ${v.describe(r)}`,
        );
      }
    };
    const isZero = r.kind === 'scalar' && isConstScalar(r.s) && r.s.var.value === 0n;
    if (p.kind === 'scalar') need(r.kind === 'scalar', 'a number');
    else if (p.struct === v.type.ctx.struct) {
      const unmoved = isConstScalar(r.s) && r.s.var.value === 0n;
      need(r.kind === 'ctx' && r.off === 0 && unmoved, 'the unmodified context pointer');
    } else if (!isZero) {
      // NULL, or memory of the pointee's size that the callee may read and write.
      helperMem(v, pc, regno, r, p.size, false);
      helperMem(v, pc, regno, r, p.size, true);
    }
  });
  for (let r = 1; r <= 5; r++) regs[r] = NOT_INIT;
  regs[0] = UNKNOWN_SCALAR;
  return pc + 1;
}

/** `exit` from a subprogram: back to the caller with r0; returns the slot after the call. */
export function returnToCaller(v: VerifierEnv, pc: number): number {
  const s = v.state;
  const depth = s.frames.length - 1;
  const top = s.frames[depth]!;
  // A function may return without setting r0 (a void function): the caller only fails if it reads it.
  // A callback must return a number.
  const cb = top.callback;
  const r0 = cb ? v.read(0, pc) : top.regs[0]!;
  if (r0.kind === 'stack' && r0.frame >= depth) {
    throw new Reject(
      pc,
      'stack_escape',
      `a function returns a pointer into its own stack frame (fp${r0.off}), which is gone after it returns`,
    );
  }
  if (cb) {
    if (r0.kind !== 'scalar' || r0.s.smin < 0n || r0.s.smax > cb.retMax) {
      throw new Reject(
        pc,
        'bad_return',
        `a ${cb.helper} callback must return ${cb.retMax === 0n ? '0' : '0 or 1'}, but R0 may be ${v.describe(r0)}`,
      );
    }
    if (s.refs.length > cb.refs) {
      throw new Reject(
        pc,
        'ref_leak',
        `the ${cb.helper} callback returns holding a reference it acquired at ${v.where(s.refs[s.refs.length - 1]!.at)} (reference leak)`,
      );
    }
    // A timer's callback ran on its own: nothing to return to, and nothing may stay held.
    if (cb.async) {
      if (s.lock)
        throw new Reject(
          pc,
          'lock_held',
          `the ${cb.helper} callback returns holding the bpf_spin_lock taken at ${v.where(s.lock.at)}`,
        );
      return -1;
    }
    s.frames.pop();
    // Another iteration may follow; this path returns to the caller, whose r0 (the helper's result)
    // was set at the call.
    const next = enterCallback(v, top.callsite, top.subprog, cb, (top.callbackCall ?? 1) + 1);
    v.fork(next, top.subprog, pc);
    return top.callsite + 1;
  }
  const callee = s.frames.pop()!;
  // Pointers into the callee's stack are dead now.
  const caller = v.frame;
  caller.regs[0] = r0;
  return callee.callsite + 1;
}

/** Sum of frame sizes along call chains (each rounded up to 32 bytes as the kernel does) must fit. */
export function checkCallChainStack(calls: Map<number, Set<number>>, depth: Map<number, number>): void {
  // As the kernel counts with the JIT on: each frame rounded up to 16 bytes (an unused frame is 0).
  const round = (n: number) => Math.ceil(n / 16) * 16;
  const walk = (sub: number, total: number, chain: number[]): void => {
    const here = total + round(depth.get(sub) ?? 0);
    if (here > STACK_SIZE) {
      throw new Reject(
        sub,
        'stack_depth',
        `the combined stack of the call chain ${[...chain, sub].join(' -> ')} is ${here} bytes; the limit is ${STACK_SIZE}`,
      );
    }
    for (const c of calls.get(sub) ?? []) if (!chain.includes(c)) walk(c, here, [...chain, sub]);
  };
  walk(0, 0, []);
}
