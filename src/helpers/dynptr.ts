// Dynptrs (#197-203) and the user ring buffer's drain (#209). A `struct bpf_dynptr` is 16 bytes on the
// program's stack, laid out as the kernel's bpf_dynptr_kern: the data address (u64), the size in the low 24
// bits of a u32 with the kind at bit 28 and a read-only bit at 31, and an offset (u32) into the data. A
// NULL dynptr is all zero. Offsets and lengths are checked here at run time as the kernel does (-E2BIG out
// of range, -EINVAL for a NULL or read-only dynptr or unknown flags); the verifier proves the rest.

import { RingBufMap } from '../maps/ringbuf.js';
import { MAX_USER_RINGBUF_SAMPLES, UserRingBufMap } from '../maps/user-ringbuf.js';
import { Errno } from '../spec/errno.js';
import { mapWord, ptrWord, readable, writable } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

/** The largest dynptr (the kernel's DYNPTR_MAX_SIZE). */
export const DYNPTR_MAX_SIZE = (1 << 24) - 1;
const TYPE_SHIFT = 28;
const RDONLY_BIT = 0x80000000;
/** Dynptr kinds as the kernel numbers them (BPF_DYNPTR_TYPE_*). */
export const DynptrType = { LOCAL: 1, RINGBUF: 2, SKB: 3, XDP: 4 } as const;

/** A dynptr as the helpers see it. */
export interface Dynptr {
  data: number;
  size: number;
  type: number;
  rdonly: boolean;
  offset: number;
}

/** Read the dynptr at `at` (undefined: a NULL dynptr). */
export function readDynptr(env: HelperEnv, at: number): Dynptr | undefined {
  // Unverified programs may pass anything: the 16 bytes must be the program's memory.
  if (!readable(env, at, 16))
    throw new Error(`dynptr: 0x${at.toString(16)} is not a dynptr in program memory`);
  const v = env.space.view;
  const data = Number(v.getBigUint64(at, true));
  if (data === 0) return undefined;
  const word = v.getUint32(at + 8, true);
  return {
    data,
    size: word & DYNPTR_MAX_SIZE,
    type: (word >>> TYPE_SHIFT) & 7,
    rdonly: (word & RDONLY_BIT) !== 0,
    offset: v.getUint32(at + 12, true),
  };
}

/** Make the dynptr at `at` (rdonly: writes through it fail). */
export function writeDynptr(
  env: HelperEnv,
  at: number,
  data: number,
  type: number,
  size: number,
  rdonly = false,
): void {
  writable(env, at, 16, 'dynptr');
  const v = env.space.view;
  v.setBigUint64(at, BigInt(data), true);
  v.setUint32(
    at + 8,
    ((size & DYNPTR_MAX_SIZE) | (type << TYPE_SHIFT) | (rdonly ? RDONLY_BIT : 0)) >>> 0,
    true,
  );
  v.setUint32(at + 12, 0, true);
}

function setNull(env: HelperEnv, at: number): void {
  writable(env, at, 16, 'dynptr');
  env.space.bytes.fill(0, at, at + 16);
}

/** The kernel's bpf_dynptr_check_off_len: 0, or -E2BIG when [off, off+len) leaves the dynptr. */
function checkOffLen(d: Dynptr, off: number, len: number): number {
  return off > d.size || len > d.size - off ? -Errno.E2BIG : 0;
}

const u32 = (v: bigint) => Number(v & 0xffffffffn);
const addr = (v: bigint) => ptrWord(Number(BigInt.asIntN(64, v)));

export const DYNPTR_HELPERS: HelperDef[] = [
  {
    id: 197,
    name: 'dynptr_from_mem',
    proto: { ret: 'integer', args: ['uninit_mem', 'const_size_or_zero', 'anything', 'dynptr_uninit'] },
    call: (env, data, size, flags, out) => {
      const at = addr(out);
      const err = u32(size) > DYNPTR_MAX_SIZE ? -Errno.E2BIG : flags !== 0n ? -Errno.EINVAL : 0;
      if (err) setNull(env, at);
      else writeDynptr(env, at, addr(data), DynptrType.LOCAL, u32(size));
      return BigInt(err);
    },
  },
  {
    id: 198,
    name: 'ringbuf_reserve_dynptr',
    proto: { ret: 'integer', args: ['const_map_ptr', 'anything', 'anything', 'dynptr_uninit'] },
    call: (env, map, size, flags, out) => {
      const at = addr(out);
      const rb = mapWord(env, Number(map), 'ringbuf_reserve_dynptr');
      if (!(rb instanceof RingBufMap))
        throw new Error(`ringbuf_reserve_dynptr: map '${rb.spec.name}' is not a ring buffer`);
      const n = u32(size);
      let err = n > DYNPTR_MAX_SIZE ? -Errno.E2BIG : flags !== 0n ? -Errno.EINVAL : 0;
      let sample = 0;
      if (!err) {
        // Held by the run as ringbuf_reserve's samples are (released for it if the run ends holding it).
        const inv = env.invocation;
        if (inv.rings === undefined) inv.rings = [rb];
        else if (!inv.rings.includes(rb)) inv.rings.push(rb);
        sample = rb.reserve(n, inv);
        if (sample === 0) err = -Errno.EINVAL;
      }
      if (err) setNull(env, at);
      else writeDynptr(env, at, sample, DynptrType.RINGBUF, n);
      return BigInt(err);
    },
  },
  ...(['submit', 'discard'] as const).map(
    (op, i): HelperDef => ({
      id: 199 + i,
      name: `ringbuf_${op}_dynptr`,
      proto: { ret: 'void', args: ['dynptr_release', 'anything'] },
      call: (env, ptr, flags) => {
        const at = addr(ptr);
        const d = readDynptr(env, at);
        // A NULL dynptr (a failed reservation) releases nothing.
        if (!d) return 0n;
        const rb = RingBufMap.ofSample(env.space, d.data);
        if (!rb) throw new Error(`ringbuf_${op}_dynptr: the dynptr is not a ring-buffer sample`);
        rb.commit(d.data, op === 'discard', Math.min(u32(flags), 0xffff));
        setNull(env, at);
        return 0n;
      },
    }),
  ),
  {
    id: 201,
    name: 'dynptr_read',
    proto: { ret: 'integer', args: ['uninit_mem', 'const_size_or_zero', 'dynptr', 'anything', 'anything'] },
    call: (env, dst, len, src, offset, flags) => {
      const d = readDynptr(env, addr(src));
      if (!d || flags !== 0n) return BigInt(-Errno.EINVAL);
      const n = u32(len);
      const off = u32(offset);
      const err = checkOffLen(d, off, n);
      if (err) return BigInt(err);
      const from = d.data + d.offset + off;
      // A dynptr forged by an unverified program may point anywhere: both ends must be program memory.
      if (!readable(env, from, n))
        throw new Error(`dynptr_read: the dynptr's data at 0x${from.toString(16)} is not program memory`);
      writable(env, addr(dst), n, 'dynptr_read');
      env.space.bytes.copyWithin(addr(dst), from, from + n);
      return 0n;
    },
  },
  {
    id: 202,
    name: 'dynptr_write',
    proto: { ret: 'integer', args: ['dynptr', 'anything', 'mem', 'const_size_or_zero', 'anything'] },
    call: (env, dst, offset, src, len, flags) => {
      const d = readDynptr(env, addr(dst));
      if (!d || d.rdonly) return BigInt(-Errno.EINVAL);
      const n = u32(len);
      const off = u32(offset);
      const err = checkOffLen(d, off, n);
      if (err) return BigInt(err);
      if (flags !== 0n) return BigInt(-Errno.EINVAL);
      const from = addr(src);
      if (!readable(env, from, n))
        throw new Error(`dynptr_write: 0x${from.toString(16)} is not program memory`);
      writable(env, d.data + d.offset + off, n, 'dynptr_write');
      env.space.bytes.copyWithin(d.data + d.offset + off, from, from + n);
      return 0n;
    },
  },
  {
    id: 203,
    name: 'dynptr_data',
    proto: { ret: 'dynptr_mem_or_null', args: ['dynptr', 'anything', 'const_alloc_size_or_zero'] },
    call: (env, ptr, offset, len) => {
      const d = readDynptr(env, addr(ptr));
      if (!d || d.rdonly || checkOffLen(d, u32(offset), u32(len))) return 0n;
      return BigInt(d.data + d.offset + u32(offset));
    },
  },
  {
    id: 209,
    name: 'user_ringbuf_drain',
    proto: { ret: 'integer', args: ['const_map_ptr', 'func', 'ptr_to_stack_or_null', 'anything'] },
    // Each sample goes to the callback as a local dynptr; a non-zero return stops after that sample.
    call: (env, map, fn, ctx, flags) => {
      const m = mapWord(env, Number(map), 'user_ringbuf_drain');
      if (!(m instanceof UserRingBufMap))
        throw new Error(`user_ringbuf_drain: map '${m.spec.name}' is not a user ring buffer`);
      if (flags & ~3n) return BigInt(-Errno.EINVAL);
      if (m.busy) return BigInt(-Errno.EBUSY);
      m.busy = true;
      let n = 0;
      try {
        for (let ret = 0n; n < MAX_USER_RINGBUF_SAMPLES && ret === 0n; n++) {
          const s = m.peek();
          if (!s) break;
          writeDynptr(env, m.dynptrAddr, s[0], DynptrType.LOCAL, s[1]);
          ret = env.callback(Number(fn), BigInt(m.dynptrAddr), ctx, 0n, 0n, 0n);
          m.release(s[1]);
        }
      } finally {
        m.busy = false;
      }
      return BigInt(n);
    },
  },
];
