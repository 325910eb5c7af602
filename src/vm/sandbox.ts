// Checked mode's sandbox: what a program the verifier has not accepted may touch. The verifier is the first
// line; this is the second. A checked run may reach only what it was given:
//
//   stack        the frames of the CPU it runs on
//   context      the one its invocation was given (a context is read-only: hooks allocate it so)
//   packet       its own packet (the frame its invocation points at; never a neighbour of a batch), and the
//                XDP metadata in front of it
//   input        the memory `tsbpf run` / conformance runs hand it (its packet)
//   maps         values of the maps it was prepared with, and of maps that fit an inner-map template of one
//                of them (map-in-map lookups); never a map's handle, index or references
//   ring buffers the data of samples its own invocation reserved and has not submitted or discarded (never a
//                record header, never another run's sample)
//
// Both engines ask `checkAccess` on a miss of their cached window, and `checkHelperArgs` before a helper
// runs, so a helper cannot be made to write where the program could not. Nothing here runs for verified
// programs.

import { RuntimeFault } from '../errors.js';
import type { ArgType, HelperDef } from '../helpers/types.js';
import { innerMapMismatch } from '../maps/fdarray.js';
import { RingBufMap } from '../maps/ringbuf.js';
import type { RuntimeMap } from '../maps/types.js';
import type { AddressSpace, Region } from '../memory/address-space.js';
import { MapType } from '../spec/maps.js';
import type { PreparedProgram } from './program.js';
import type { Runtime } from './runtime.js';

/** A range the last check allowed, for an engine to cache: accesses inside it need no new check. */
export interface AccessWindow {
  lo: number;
  hi: number;
  /** Whether stores are allowed in it too. */
  write: boolean;
}

/** xdp_md.data_meta (the metadata in front of the packet, which the packet region does not cover). */
const XDP_DATA_META = 8;
/** How far past a region an access is still reported as out of its bounds. */
const NEAR_BYTES = 512;

/**
 * Check the access [addr, addr + size) of `prog` in the current invocation of `rt`; throws a RuntimeFault
 * at `pc` when the program may not make it, otherwise fills `out` with the window it may use.
 */
export function checkAccess(
  rt: Runtime,
  prog: PreparedProgram,
  addr: number,
  size: number,
  write: boolean,
  pc: number,
  out: AccessWindow,
): void {
  const what = `${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'}`;
  if (!Number.isInteger(addr) || addr < 0 || addr + size > 0x1_0000_0000) {
    throw new RuntimeFault(`invalid ${what}: the address is outside the 32-bit address space`, pc, addr);
  }
  const space = rt.space;
  const region = space.regionAt(addr, size);
  if (!region) {
    if (inMetadata(rt, addr, size, out)) return;
    throw new RuntimeFault(`invalid ${what} ${nearRegion(space, addr, size)}`, pc, addr);
  }
  const denied = deny(rt, prog, region, addr, size, out);
  if (denied) throw new RuntimeFault(`invalid ${what}: ${denied}`, pc, addr);
  if (write && !region.writable)
    throw new RuntimeFault(`invalid ${what}: ${region.name} is read-only`, pc, addr);
  out.write = region.writable && out.write;
}

/** Why `prog` may not touch `region` now, or undefined (with `out` set to the window it may use). */
function deny(
  rt: Runtime,
  prog: PreparedProgram,
  region: Region,
  addr: number,
  size: number,
  out: AccessWindow,
): string | undefined {
  out.lo = region.start;
  out.hi = region.end;
  out.write = true;
  const inv = rt.invocation;
  switch (region.kind) {
    case 'stack':
      return rt.stackFrames(rt.cpu).includes(region) ? undefined : `${region.name} is another CPU's stack`;
    case 'ctx':
      return inv.ctx >= region.base && inv.ctx < region.base + region.capacity
        ? undefined
        : `${region.name} is not this run's context`;
    case 'packet':
    case 'input':
      return region === packetOf(rt) ||
        (region.kind === 'input' && inv.ctx >= region.start && inv.ctx < region.end)
        ? undefined
        : `${region.name} at 0x${region.start.toString(16)} is not this run's packet`;
    case 'map':
      return `${region.name} is a map handle`;
    case 'map_value': {
      const map = region.owner as RuntimeMap | undefined;
      return map && mayUseMap(prog, map)
        ? undefined
        : `${region.name} belongs to a map this program was not given`;
    }
    case 'ringbuf': {
      const ring = region.owner;
      if (!(ring instanceof RingBufMap) || !mayUseMap(prog, ring))
        return `${region.name} belongs to a map this program was not given`;
      const sample = ring.heldSample(addr, size, inv);
      if (!sample) {
        return `${region.name}: not inside a sample this run reserved and still holds (record headers and other samples are not the program's)`;
      }
      out.lo = sample[0];
      out.hi = sample[1];
      return undefined;
    }
    default:
      return `${region.name} is not memory this program was given`;
  }
}

/**
 * The run's packet: the one its invocation names (hooks set it), else the packet region an XDP-style
 * context points at with its first word (`xdp_md.data`) — callers that run a program on a context of their
 * own. Only a read-only context counts: a program must not be able to point its context elsewhere.
 */
function packetOf(rt: Runtime): Region | undefined {
  const inv = rt.invocation;
  if (inv.packet || !inv.ctx) return inv.packet;
  const ctx = rt.space.regionAt(inv.ctx, 4);
  if (ctx?.kind !== 'ctx' || ctx.writable) return undefined;
  const data = rt.space.regionAt(rt.space.view.getUint32(inv.ctx, true));
  return data?.kind === 'packet' ? data : undefined;
}

/** XDP metadata: the headroom from xdp_md.data_meta up to the packet's start, read from the run's context. */
function inMetadata(rt: Runtime, addr: number, size: number, out: AccessWindow): boolean {
  const inv = rt.invocation;
  const packet = inv.packet;
  if (!packet || inv.programType !== 'xdp' || !inv.ctx) return false;
  const meta = rt.space.view.getUint32(inv.ctx + XDP_DATA_META, true);
  if (!(meta >= packet.base && meta <= packet.start && addr >= meta && addr + size <= packet.start))
    return false;
  out.lo = meta;
  out.hi = packet.start;
  out.write = true;
  return true;
}

/** Maps a program may use: those it was prepared with, and inner maps its maps of maps can hold. */
export function mayUseMap(prog: PreparedProgram, map: object): boolean {
  const maps = prog.maps;
  if (maps.includes(map as RuntimeMap)) return true;
  const spec = (map as RuntimeMap).spec;
  if (!spec) return false;
  for (const m of maps) {
    const t = m.spec.type;
    if (
      (t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS) &&
      !innerMapMismatch(m.spec.innerMap, spec)
    )
      return true;
  }
  return false;
}

/** How to describe a failed access: out of bounds of the region it nearly hit, or unmapped. */
function nearRegion(space: AddressSpace, addr: number, size: number): string {
  const before = space.regionBefore(addr);
  // Starts inside a region (or in its slack, or a little past its end, e.g. reads above r10): name it.
  if (before && addr < before.base + before.capacity + NEAR_BYTES) return `out of bounds of ${before.name}`;
  const after = space.regionAt(addr + size - 1, 1);
  if (after) return `out of bounds of ${after.name}`;
  return 'to unmapped memory';
}

// --- helper arguments ---------------------------------------------------------------------------------

const scratchWindow: AccessWindow = { lo: 0, hi: 0, write: false };

/**
 * Check a checked run's helper call before the helper runs: every pointer argument must be memory the
 * program may touch for as many bytes as the helper will read or write, a map argument one of its maps, a
 * context argument its own context. `arg(i)` is argument i (1-5) as the helper receives it.
 */
export function checkHelperArgs(
  rt: Runtime,
  prog: PreparedProgram,
  def: HelperDef,
  arg: (i: number) => number | bigint,
  pc: number,
): void {
  const kinds = def.proto.args;
  let map: RuntimeMap | undefined;
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    if (!POINTER_KINDS.has(kind)) continue;
    const raw = arg(i + 1);
    const where = `${def.name} argument ${i + 1}`;
    const addr = address(raw);
    if (addr === undefined) {
      // As the register holds it: a negative value read as 64 unsigned bits (-1 is 0xffffffffffffffff).
      const bits = BigInt.asUintN(64, typeof raw === 'bigint' ? raw : BigInt(Math.trunc(raw)));
      throw new RuntimeFault(`${where}: 0x${bits.toString(16)} is not an address`, pc);
    }
    switch (kind) {
      case 'const_map_ptr': {
        const m = rt.mapAt(addr);
        if (!m) throw new RuntimeFault(`${where}: 0x${addr.toString(16)} is not a map`, pc);
        if (!mayUseMap(prog, m))
          throw new RuntimeFault(`${where}: map '${m.spec.name}' was not given to this program`, pc);
        map ??= m;
        break;
      }
      case 'ctx':
        if (addr !== rt.invocation.ctx)
          throw new RuntimeFault(`${where}: 0x${addr.toString(16)} is not this run's context`, pc);
        break;
      case 'map_key':
        span(rt, prog, addr, map?.spec.keySize ?? 0, false, pc, where);
        break;
      case 'map_value':
      case 'uninit_map_value':
        span(rt, prog, addr, map?.spec.valueSize ?? 0, kind === 'uninit_map_value', pc, where);
        break;
      case 'mem':
      case 'mem_or_null':
      case 'uninit_mem': {
        const size = Number(arg(i + 2));
        if (kind === 'mem_or_null' && addr === 0) break;
        span(rt, prog, addr, size, kind === 'uninit_mem', pc, where);
        break;
      }
      case 'const_str':
        cString(rt, prog, addr, pc, where);
        break;
      case 'ptr_to_stack':
      case 'ptr_to_stack_or_null':
        // Handed on (a callback's context), never read by the helper: any address of this CPU's stack,
        // its top (r10 itself) included, as the verifier and the kernel take it. The callback's own
        // accesses through it are checked as they happen.
        if (kind === 'ptr_to_stack_or_null' && addr === 0) break;
        if (!rt.stackFrames(rt.cpu).some((f) => addr >= f.start && addr <= f.end))
          throw new RuntimeFault(`${where}: 0x${addr.toString(16)} is not on this CPU's stack`, pc);
        break;
      case 'ringbuf_mem': {
        const ring = RingBufMap.ofSample(rt.space, addr);
        if (!ring?.heldSample(addr, 0, rt.invocation)) {
          throw new RuntimeFault(
            `${where}: 0x${addr.toString(16)} is not a ring-buffer sample this run holds (submitted or discarded twice?)`,
            pc,
          );
        }
        break;
      }
      case 'spin_lock':
        span(rt, prog, addr, 4, true, pc, where);
        if (rt.space.regionAt(addr)?.kind !== 'map_value')
          throw new RuntimeFault(`${where}: a spin lock must be in a map value`, pc);
        break;
      case 'long_ptr':
        span(rt, prog, addr, 8, true, pc, where);
        break;
      case 'fixed_mem':
        span(rt, prog, addr, def.proto.fixedSizes?.[i] ?? 0, false, pc, where);
        break;
    }
  }
}

/** Argument kinds that are (or may be) pointers the helper dereferences. */
const POINTER_KINDS: ReadonlySet<ArgType> = new Set<ArgType>([
  'const_map_ptr',
  'ctx',
  'map_key',
  'map_value',
  'uninit_map_value',
  'mem',
  'mem_or_null',
  'uninit_mem',
  'const_str',
  'ptr_to_stack',
  'ptr_to_stack_or_null',
  'ringbuf_mem',
  'spin_lock',
  'long_ptr',
  'fixed_mem',
]);

/** A register value as a 32-bit linear address, or undefined. */
function address(v: number | bigint): number | undefined {
  if (typeof v === 'bigint') return v >= 0n && v <= 0xffffffffn ? Number(v) : undefined;
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined;
}

/** [addr, addr + size) must be one window the program may read (or write). */
function span(
  rt: Runtime,
  prog: PreparedProgram,
  addr: number,
  size: number,
  write: boolean,
  pc: number,
  where: string,
): void {
  if (!Number.isInteger(size) || size < 0) throw new RuntimeFault(`${where}: bad size ${size}`, pc, addr);
  if (size === 0) return;
  try {
    checkAccess(rt, prog, addr, size, write, pc, scratchWindow);
  } catch (e) {
    if (e instanceof RuntimeFault) throw new RuntimeFault(`${where}: ${e.reason}`, pc, addr);
    throw e;
  }
}

/** A NUL-terminated string the program may read. */
function cString(rt: Runtime, prog: PreparedProgram, addr: number, pc: number, where: string): void {
  span(rt, prog, addr, 1, false, pc, where);
  const bytes = rt.space.bytes;
  for (let a = addr; a < scratchWindow.hi; a++) if (bytes[a] === 0) return;
  throw new RuntimeFault(`${where}: the string is not NUL-terminated within its memory`, pc, addr);
}
