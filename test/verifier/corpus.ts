// Hand-made programs for the verifier: safe ones and unsafe variants of each rule. Map references use
// TEST_MAPS (support.ts): map_fd(0) hash u32->16B, map_fd(1) array u32->u64, map_fd(2) ringbuf,
// map_fd(3) prog array, map_fd(4) perf event array. `safe` is what the author intends; the kernel
// oracle test compares both verifiers, not this flag.

export interface Case {
  name: string;
  type: string;
  safe: boolean;
  asm: string;
  /** Why the kernel cannot judge this program as written (left out of the kernel comparison). */
  noOracle?: string;
}

const XDP_BOUNDS = (n: number, read: number, size = 'u8') => `
  r2 = *(u32 *)(r1 + 0)
  r3 = *(u32 *)(r1 + 4)
  r4 = r2
  r4 += ${n}
  if r4 > r3 goto +2
  r0 = *(${size} *)(r2 + ${read})
  exit
  r0 = 2
  exit`;

const LOOKUP = (map: number, after: string) => `
  r6 = r1
  r1 = 0
  *(u32 *)(r10 - 4) = r1
  r2 = r10
  r2 += -4
  r1 = map_fd(${map}) ll
  call 1
${after}`;

const RINGBUF = (between: string, end = 'r2 = 0\n  call 132') => `
  r1 = map_fd(2) ll
  r2 = 16
  r3 = 0
  call 131
  if r0 == 0 goto +5
  r1 = r0
  r2 = 7
  *(u64 *)(r1 + 0) = r2
  ${between}
  ${end}
  r0 = 0
  exit`;

/** The kernel wants BTF func_info for callbacks, which raw instruction loads do not carry. */
const NEEDS_BTF = 'callbacks need BTF func_info in the kernel';

const BPF_LOOP = (body: string, ctxSetup = '*(u64 *)(r10 - 8) = 0') => `
  r1 = 10
  ld_pseudo r2, 4, 8
  ${ctxSetup}
  r3 = r10
  r3 += -8
  r4 = 0
  call 181
  r0 = 2
  exit
${body}`;

export const CASES: Case[] = [
  // ---- packet bounds ----
  { name: 'pkt: read inside the checked range', type: 'xdp', safe: true, asm: XDP_BOUNDS(14, 13) },
  { name: 'pkt: off-by-one read past the check', type: 'xdp', safe: false, asm: XDP_BOUNDS(14, 14) },
  { name: 'pkt: 2-byte read straddling the end', type: 'xdp', safe: false, asm: XDP_BOUNDS(14, 13, 'u16') },
  { name: 'pkt: 8-byte read at the end', type: 'xdp', safe: true, asm: XDP_BOUNDS(16, 8, 'u64') },
  {
    name: 'pkt: no bounds check at all',
    type: 'xdp',
    safe: false,
    asm: 'r2 = *(u32 *)(r1 + 0)\n r0 = *(u8 *)(r2 + 0)\n exit',
  },
  {
    name: 'pkt: check on the wrong branch',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto +1
      exit
      r0 = *(u8 *)(r2 + 0)
      exit`,
  },
  {
    name: 'pkt: reversed operands (end < ptr)',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 20
      if r3 < r4 goto +2
      r0 = *(u32 *)(r2 + 16)
      exit
      r0 = 1
      exit`,
  },
  {
    name: 'pkt: reversed operands, off by one',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 20
      if r3 < r4 goto +2
      r0 = *(u32 *)(r2 + 17)
      exit
      r0 = 1
      exit`,
  },
  {
    name: 'pkt: ptr <= end on the taken side',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 8
      if r4 <= r3 goto +2
      r0 = 1
      exit
      r0 = *(u64 *)(r2 + 0)
      exit`,
  },
  {
    name: 'pkt: ptr >= end, read on fall-through',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 8
      if r4 >= r3 goto +2
      r0 = *(u64 *)(r2 + 0)
      exit
      r0 = 1
      exit`,
  },
  {
    name: 'pkt: strict < gives one more byte?',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 8
      if r4 < r3 goto +2
      r0 = 1
      exit
      r0 = *(u8 *)(r2 + 8)
      exit`,
  },
  {
    name: 'pkt: variable offset after the check',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto +5
      r5 = *(u8 *)(r2 + 0)
      r2 += r5
      r0 = *(u8 *)(r2 + 0)
      exit
      r0 = 2
      exit
      r0 = 1
      exit`,
  },
  {
    name: 'pkt: variable offset checked again',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto +8
      r5 = *(u8 *)(r2 + 0)
      r5 &= 63
      r2 += r5
      r4 = r2
      r4 += 4
      if r4 > r3 goto +2
      r0 = *(u32 *)(r2 + 0)
      exit
      r0 = 1
      exit`,
  },
  {
    name: 'pkt: unbounded variable offset',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto +7
      r5 = *(u32 *)(r2 + 0)
      r2 += r5
      r4 = r2
      r4 += 4
      if r4 > r3 goto +2
      r0 = *(u32 *)(r2 + 0)
      exit
      r0 = 1
      exit`,
  },
  {
    name: 'pkt: write in xdp',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 4
      if r4 > r3 goto +1
      *(u32 *)(r2 + 0) = 0
      r0 = 2
      exit`,
  },
  {
    name: 'pkt: negative offset before the start',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 4
      if r4 > r3 goto +1
      r0 = *(u8 *)(r2 - 1)
      r0 = 2
      exit`,
  },
  {
    name: 'pkt: used after xdp_adjust_head',
    type: 'xdp',
    safe: false,
    asm: `r6 = r1
      r2 = *(u32 *)(r1 + 0)
      r3 = *(u32 *)(r1 + 4)
      r4 = r2
      r4 += 14
      if r4 > r3 goto +5
      r7 = r2
      r1 = r6
      r2 = 4
      call 44
      r0 = *(u8 *)(r7 + 0)
      r0 = 2
      exit`,
  },
  {
    name: 'pkt: reloaded after xdp_adjust_head',
    type: 'xdp',
    safe: true,
    asm: `r6 = r1
      r2 = 4
      call 44
      r2 = *(u32 *)(r6 + 0)
      r3 = *(u32 *)(r6 + 4)
      r4 = r2
      r4 += 1
      if r4 > r3 goto +1
      r0 = *(u8 *)(r2 + 0)
      r0 = 2
      exit`,
  },
  {
    name: 'pkt: data_meta checked against data',
    type: 'xdp',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 8)
      r3 = *(u32 *)(r1 + 0)
      r4 = r2
      r4 += 4
      if r4 > r3 goto +1
      r0 = *(u32 *)(r2 + 0)
      r0 = 2
      exit`,
  },
  {
    name: 'pkt: data_meta unchecked',
    type: 'xdp',
    safe: false,
    asm: 'r2 = *(u32 *)(r1 + 8)\n r0 = *(u32 *)(r2 + 0)\n r0 = 2\n exit',
  },
  {
    name: 'pkt: tc reads through __sk_buff data',
    type: 'sched_cls',
    safe: true,
    asm: `r2 = *(u32 *)(r1 + 76)
      r3 = *(u32 *)(r1 + 80)
      r4 = r2
      r4 += 14
      if r4 > r3 goto +1
      r0 = *(u16 *)(r2 + 12)
      r0 = 0
      exit`,
  },
  {
    name: 'pkt: comparing packet pointer with a scalar does not bound it',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 0)
      r3 = 1000
      r4 = r2
      r4 += 14
      if r4 > r3 goto +1
      r0 = *(u8 *)(r2 + 0)
      r0 = 2
      exit`,
  },
  // ---- context ----
  { name: 'ctx: xdp_md.ingress_ifindex', type: 'xdp', safe: true, asm: 'r0 = *(u32 *)(r1 + 12)\n exit' },
  { name: 'ctx: xdp_md beyond the struct', type: 'xdp', safe: false, asm: 'r0 = *(u32 *)(r1 + 24)\n exit' },
  { name: 'ctx: xdp_md misaligned', type: 'xdp', safe: false, asm: 'r0 = *(u32 *)(r1 + 2)\n exit' },
  { name: 'ctx: xdp_md narrow load of data', type: 'xdp', safe: false, asm: 'r0 = *(u16 *)(r1 + 0)\n exit' },
  { name: 'ctx: xdp_md 8-byte load', type: 'xdp', safe: false, asm: 'r0 = *(u64 *)(r1 + 0)\n exit' },
  {
    name: 'ctx: xdp_md write',
    type: 'xdp',
    safe: false,
    asm: 'r2 = 1\n *(u32 *)(r1 + 12) = r2\n r0 = 2\n exit',
  },
  { name: 'ctx: negative offset', type: 'xdp', safe: false, asm: 'r0 = *(u32 *)(r1 - 4)\n exit' },
  {
    name: 'ctx: modified ctx pointer',
    type: 'xdp',
    safe: false,
    asm: 'r1 += 4\n r0 = *(u32 *)(r1 + 0)\n exit',
  },
  { name: 'ctx: skb len narrow', type: 'socket_filter', safe: true, asm: 'r0 = *(u8 *)(r1 + 0)\n exit' },
  { name: 'ctx: skb len', type: 'socket_filter', safe: true, asm: 'r0 = *(u32 *)(r1 + 0)\n exit' },
  {
    name: 'ctx: skb data in socket filter',
    type: 'socket_filter',
    safe: false,
    asm: 'r0 = *(u32 *)(r1 + 76)\n exit',
  },
  {
    name: 'ctx: skb mark write in socket filter',
    type: 'socket_filter',
    safe: false,
    asm: 'r2 = 1\n *(u32 *)(r1 + 8) = r2\n r0 = 0\n exit',
  },
  {
    name: 'ctx: skb cb write in socket filter',
    type: 'socket_filter',
    safe: true,
    asm: 'r2 = 1\n *(u32 *)(r1 + 48) = r2\n r0 = 0\n exit',
  },
  {
    name: 'ctx: skb cb 8-byte write',
    type: 'socket_filter',
    safe: true,
    asm: 'r2 = 1\n *(u64 *)(r1 + 48) = r2\n r0 = 0\n exit',
  },
  {
    name: 'ctx: skb mark write in tc',
    type: 'sched_cls',
    safe: true,
    asm: 'r2 = 1\n *(u32 *)(r1 + 8) = r2\n r0 = 0\n exit',
  },
  {
    name: 'ctx: skb mark ST imm in tc',
    type: 'sched_cls',
    safe: false,
    asm: '*(u32 *)(r1 + 8) = 1\n r0 = 0\n exit',
  },
  {
    name: 'ctx: skb len write in tc',
    type: 'sched_cls',
    safe: false,
    asm: 'r2 = 1\n *(u32 *)(r1 + 0) = r2\n r0 = 0\n exit',
  },
  { name: 'ctx: skb family in tc', type: 'sched_cls', safe: false, asm: 'r0 = *(u32 *)(r1 + 88)\n exit' },
  {
    name: 'ctx: skb tstamp 8 bytes',
    type: 'sched_cls',
    safe: true,
    asm: 'r0 = *(u64 *)(r1 + 152)\n r0 = 0\n exit',
  },
  {
    name: 'ctx: skb tstamp 4 bytes',
    type: 'sched_cls',
    safe: false,
    asm: 'r0 = *(u32 *)(r1 + 152)\n r0 = 0\n exit',
  },
  { name: 'ctx: kprobe pt_regs di', type: 'kprobe', safe: true, asm: 'r0 = *(u64 *)(r1 + 112)\n exit' },
  { name: 'ctx: kprobe past pt_regs', type: 'kprobe', safe: false, asm: 'r0 = *(u64 *)(r1 + 168)\n exit' },
  {
    name: 'ctx: kprobe write',
    type: 'kprobe',
    safe: false,
    asm: 'r2 = 0\n *(u64 *)(r1 + 0) = r2\n r0 = 0\n exit',
  },
  {
    name: 'ctx: tracepoint common fields',
    type: 'tracepoint',
    safe: false,
    asm: 'r0 = *(u32 *)(r1 + 0)\n exit',
  },
  { name: 'ctx: tracepoint args', type: 'tracepoint', safe: true, asm: 'r0 = *(u64 *)(r1 + 16)\n exit' },
  // ---- maps ----
  {
    name: 'map: lookup, NULL check, read',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(0, '  if r0 == 0 goto +1\n  r0 = *(u64 *)(r0 + 8)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: array lookup with a zero key needs no NULL check',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(1, '  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: array lookup with a 4-byte key in an 8-byte spill',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 3\n *(u64 *)(r10 - 8) = r1\n r2 = r10\n r2 += -8\n r1 = map_fd(1) ll\n call 1\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit',
  },
  {
    // get_constant_map_key: the key's bytes run from inside the spill to the top of its slot
    name: 'map: array lookup with a 4-byte key in the upper half of an 8-byte spill',
    type: 'xdp',
    safe: true,
    asm: 'r1 = 3\n *(u64 *)(r10 - 8) = r1\n r2 = r10\n r2 += -4\n r1 = map_fd(1) ll\n call 1\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit',
  },
  {
    // out of range both as the kernel reads the key (the whole spilled constant) and as a lookup does
    // (the key's own bytes, 5): the NULL check is needed
    name: 'map: array lookup with a key in the upper half of a spill, out of range there',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 0x500000003 ll\n *(u64 *)(r10 - 8) = r1\n r2 = r10\n r2 += -4\n r1 = map_fd(1) ll\n call 1\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit',
  },
  {
    name: 'map: array lookup with a constant key out of range',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 4\n *(u64 *)(r10 - 8) = r1\n r2 = r10\n r2 += -8\n r1 = map_fd(1) ll\n call 1\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit',
  },
  {
    name: 'map: array lookup with a non-zero key not spilled',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 1\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n r1 = map_fd(1) ll\n call 1\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit',
  },
  {
    name: 'map: lookup without NULL check',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(0, '  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: read past the value',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(0, '  if r0 == 0 goto +1\n  r0 = *(u64 *)(r0 + 9)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: read before the value',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(0, '  if r0 == 0 goto +1\n  r0 = *(u8 *)(r0 - 1)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: write last byte',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(1, '  if r0 == 0 goto +1\n  *(u8 *)(r0 + 7) = 1\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: write past array value',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(1, '  if r0 == 0 goto +1\n  *(u8 *)(r0 + 8) = 1\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: NULL check on a copy',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(0, '  r7 = r0\n  if r7 == 0 goto +1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: NULL check inverted (reads on the NULL side)',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(0, '  if r0 != 0 goto +1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: variable index bounded by mask',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +4\n  r1 = *(u32 *)(r6 + 12)\n  r1 &= 7\n  r0 += r1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'map: variable index one too large',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +4\n  r1 = *(u32 *)(r6 + 12)\n  r1 &= 15\n  r0 += r1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'map: variable index bounded by compare',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +5\n  r1 = *(u32 *)(r6 + 12)\n  if r1 > 12 goto +3\n  r0 += r1\n  r0 = *(u32 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'map: variable index compare off by one',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +5\n  r1 = *(u32 *)(r6 + 12)\n  if r1 > 13 goto +3\n  r0 += r1\n  r0 = *(u32 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'map: signed compare leaves negative index',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +6\n  r1 = *(u32 *)(r6 + 12)\n  r1 <<= 32\n  r1 s>>= 32\n  if r1 s> 12 goto +2\n  r0 += r1\n  r0 = *(u8 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'map: key on uninitialised stack',
    type: 'xdp',
    safe: false,
    asm: 'r2 = r10\n r2 += -4\n r1 = map_fd(0) ll\n call 1\n r0 = 2\n exit',
  },
  {
    name: 'map: key partly initialised',
    type: 'xdp',
    safe: false,
    asm: '*(u16 *)(r10 - 4) = 0\n r2 = r10\n r2 += -4\n r1 = map_fd(0) ll\n call 1\n r0 = 2\n exit',
  },
  {
    name: 'map: update with value from stack',
    type: 'xdp',
    safe: true,
    asm: `*(u32 *)(r10 - 4) = 0
      *(u64 *)(r10 - 16) = 0
      *(u64 *)(r10 - 24) = 0
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -24
      r4 = 0
      r1 = map_fd(0) ll
      call 2
      r0 = 2
      exit`,
  },
  {
    name: 'map: update with a value too short on the stack',
    type: 'xdp',
    safe: false,
    asm: `*(u32 *)(r10 - 4) = 0
      *(u64 *)(r10 - 16) = 0
      r2 = r10
      r2 += -4
      r3 = r10
      r3 += -16
      r4 = 0
      r1 = map_fd(0) ll
      call 2
      r0 = 2
      exit`,
  },
  {
    name: 'map: lookup with a scalar as map',
    type: 'xdp',
    safe: false,
    asm: '*(u32 *)(r10 - 4) = 0\n r2 = r10\n r2 += -4\n r1 = 0\n call 1\n r0 = 2\n exit',
  },
  { name: 'map: lookup in a ringbuf', type: 'xdp', safe: false, asm: LOOKUP(2, '  r0 = 2\n  exit') },
  {
    name: 'map: atomic add on value',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(1, '  if r0 == 0 goto +2\n  r1 = 1\n  lock *(u64 *)(r0 + 0) += r1\n  r0 = 2\n  exit'),
  },
  {
    name: 'map: pointer arithmetic before NULL check',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(0, '  r0 += 8\n  if r0 == 0 goto +1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit'),
  },
  // ---- stack ----
  {
    name: 'stack: read after write',
    type: 'xdp',
    safe: true,
    asm: '*(u64 *)(r10 - 8) = 1\n r0 = *(u64 *)(r10 - 8)\n exit',
  },
  { name: 'stack: read uninitialised', type: 'xdp', safe: false, asm: 'r0 = *(u64 *)(r10 - 8)\n exit' },
  {
    name: 'stack: unwritten on one path, a pointer on the other',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 12)
      if r2 == 0 goto +1
      goto +1
      *(u64 *)(r10 - 8) = r1
      r0 = *(u64 *)(r10 - 8)
      r0 *= 2
      r0 = 2
      exit`,
  },
  {
    name: 'helper: trace_printk with only a format',
    type: 'xdp',
    safe: true,
    asm: 'r1 = 0x0a6968\n *(u64 *)(r10 - 8) = r1\n r1 = r10\n r1 += -8\n r2 = 4\n call 6\n r0 = 2\n exit',
  },
  {
    name: 'alu: neg with an immediate',
    type: 'xdp',
    safe: false,
    asm: 'r0 = 2\n .insn 0x87, 0, 0, 0, 2\n exit',
  },
  {
    name: 'atomic: 2-byte atomic add',
    type: 'xdp',
    safe: false,
    asm: '*(u64 *)(r10 - 8) = 0\n r1 = 1\n .insn 0xcb, 10, 1, -8, 0\n r0 = 2\n exit',
  },
  {
    name: 'atomic: 2-byte atomic on a path never taken',
    type: 'xdp',
    safe: false,
    asm: '*(u64 *)(r10 - 8) = 0\n r1 = 1\n r0 = 2\n if r0 == 2 goto +1\n .insn 0xcb, 10, 1, -8, 0\n exit',
  },
  {
    name: 'alu: malformed instruction on a path never taken',
    type: 'xdp',
    safe: true,
    asm: 'r0 = 2\n if r0 == 2 goto +1\n .insn 0x87, 0, 0, 0, 2\n exit',
  },
  {
    name: 'stack: read half initialised',
    type: 'xdp',
    safe: false,
    asm: '*(u32 *)(r10 - 8) = 1\n r0 = *(u64 *)(r10 - 8)\n exit',
  },
  {
    name: 'stack: below the frame',
    type: 'xdp',
    safe: false,
    asm: '*(u64 *)(r10 - 520) = 1\n r0 = 2\n exit',
  },
  {
    name: 'stack: at the frame pointer',
    type: 'xdp',
    safe: false,
    asm: '*(u64 *)(r10 + 0) = 1\n r0 = 2\n exit',
  },
  {
    name: 'stack: lowest slot',
    type: 'xdp',
    safe: true,
    asm: '*(u64 *)(r10 - 512) = 1\n r0 = *(u64 *)(r10 - 512)\n exit',
  },
  { name: 'stack: misaligned', type: 'xdp', safe: false, asm: '*(u64 *)(r10 - 12) = 1\n r0 = 2\n exit' },
  {
    name: 'stack: misaligned store above the frame pointer',
    type: 'xdp',
    safe: false,
    asm: 'r3 = 1\n *(u64 *)(r10 + 4) = r3\n r0 = 2\n exit',
  },
  {
    name: 'stack: misaligned through a moved pointer',
    type: 'xdp',
    safe: false,
    asm: 'r3 = 1\n r2 = r10\n r2 += -12\n *(u64 *)(r2 + 0) = r3\n r0 = 2\n exit',
  },
  {
    name: 'stack: misaligned 2-byte read',
    type: 'xdp',
    safe: false,
    asm: 'r3 = 1\n *(u64 *)(r10 - 8) = r3\n r0 = *(u16 *)(r10 - 3)\n r0 = 2\n exit',
  },
  {
    name: 'stack: misaligned atomic',
    type: 'xdp',
    safe: false,
    asm: '*(u64 *)(r10 - 8) = 0\n r1 = 1\n lock *(u32 *)(r10 - 6) += w1\n r0 = 2\n exit',
  },
  {
    name: 'map value: misaligned atomic',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(0, 'if r0 == 0 goto +2\n  r1 = 1\n  lock *(u64 *)(r0 + 2) += r1\n  r0 = 2\n  exit'),
  },
  {
    name: 'map value: aligned atomic',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(0, 'if r0 == 0 goto +2\n  r1 = 1\n  lock *(u64 *)(r0 + 8) += r1\n  r0 = 2\n  exit'),
  },
  {
    name: 'stack: bytes at any offset',
    type: 'xdp',
    safe: true,
    asm: '*(u8 *)(r10 - 3) = 1\n r0 = *(u8 *)(r10 - 3)\n r0 = 2\n exit',
  },
  {
    name: 'stack: spill and fill a pointer',
    type: 'xdp',
    safe: true,
    asm: '*(u64 *)(r10 - 8) = r1\n r1 = *(u64 *)(r10 - 8)\n r0 = *(u32 *)(r1 + 12)\n exit',
  },
  {
    name: 'stack: partial spill of a pointer',
    type: 'xdp',
    safe: false,
    asm: '*(u32 *)(r10 - 8) = r1\n r0 = 2\n exit',
  },
  {
    name: 'stack: partial fill of a pointer',
    type: 'xdp',
    safe: false,
    asm: '*(u64 *)(r10 - 8) = r1\n r0 = *(u32 *)(r10 - 8)\n r0 = 2\n exit',
  },
  {
    name: 'stack: spilled constant keeps its value',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +4\n  r1 = 8\n  *(u64 *)(r10 - 16) = r1\n  r1 = *(u64 *)(r10 - 16)\n  r0 += r1\n  r0 = 2\n  exit',
    ),
  },
  // ---- registers ----
  { name: 'reg: read uninitialised r2', type: 'xdp', safe: false, asm: 'r0 = r2\n exit' },
  { name: 'reg: exit without r0', type: 'xdp', safe: false, asm: 'exit' },
  { name: 'reg: write r10', type: 'xdp', safe: false, asm: 'r10 = 0\n r0 = 2\n exit' },
  { name: 'reg: add to r10', type: 'xdp', safe: false, asm: 'r10 += 8\n r0 = 2\n exit' },
  {
    name: 'reg: r1-r5 clobbered by a call',
    type: 'xdp',
    safe: false,
    asm: 'r2 = 1\n call 5\n r0 = r2\n exit',
  },
  { name: 'reg: r6 survives a call', type: 'xdp', safe: true, asm: 'r6 = 1\n call 5\n r0 = r6\n exit' },
  { name: 'reg: div by zero immediate', type: 'xdp', safe: false, asm: 'r0 = 1\n r0 /= 0\n exit' },
  {
    name: 'reg: div by zero register is defined',
    type: 'xdp',
    safe: true,
    asm: 'r0 = 1\n r1 = 0\n r0 /= r1\n exit',
  },
  { name: 'reg: shift by 64', type: 'xdp', safe: false, asm: 'r0 = 1\n r0 <<= 64\n exit' },
  { name: 'reg: shift32 by 32', type: 'xdp', safe: false, asm: 'w0 = 1\n w0 <<= 32\n exit' },
  // ---- pointer arithmetic ----
  { name: 'ptr: ctx + ctx', type: 'xdp', safe: false, asm: 'r2 = r1\n r1 += r2\n r0 = 2\n exit' },
  {
    name: 'ptr: pointer minus pointer (privileged)',
    type: 'xdp',
    safe: true,
    asm: 'r2 = r10\n r2 -= r10\n r0 = 2\n exit',
  },
  { name: 'ptr: multiply a pointer', type: 'xdp', safe: false, asm: 'r2 = r10\n r2 *= 2\n r0 = 2\n exit' },
  { name: 'ptr: and a pointer', type: 'xdp', safe: false, asm: 'r2 = r10\n r2 &= 0xff\n r0 = 2\n exit' },
  {
    name: 'ptr: 32-bit add to a pointer',
    type: 'xdp',
    safe: false,
    asm: 'r2 = r10\n w2 += 8\n r0 = 2\n exit',
  },
  { name: 'ptr: scalar minus pointer', type: 'xdp', safe: false, asm: 'r2 = 8\n r2 -= r10\n r0 = 2\n exit' },
  {
    name: 'ptr: dereference a scalar',
    type: 'xdp',
    safe: false,
    asm: 'r2 = 4096\n r0 = *(u64 *)(r2 + 0)\n exit',
  },
  {
    name: 'ptr: pkt_end arithmetic',
    type: 'xdp',
    safe: false,
    asm: 'r3 = *(u32 *)(r1 + 4)\n r3 += 1\n r0 = 2\n exit',
  },
  { name: 'ptr: return a pointer from xdp (privileged)', type: 'xdp', safe: true, asm: 'r0 = r10\n exit' },
  {
    name: 'ptr: stack pointer arithmetic then access',
    type: 'xdp',
    safe: true,
    asm: 'r2 = r10\n r2 += -16\n *(u64 *)(r2 + 8) = 3\n r0 = *(u64 *)(r10 - 8)\n exit',
  },
  // ---- control flow ----
  { name: 'cfg: jump out of range', type: 'xdp', safe: false, asm: 'r0 = 2\n if r0 > 1 goto +5\n exit' },
  { name: 'cfg: fall off the end', type: 'xdp', safe: false, asm: 'r0 = 2' },
  { name: 'cfg: unreachable instruction', type: 'xdp', safe: false, asm: 'r0 = 2\n exit\n r0 = 1\n exit' },
  {
    name: 'cfg: jump into lddw',
    type: 'xdp',
    safe: false,
    asm: 'r0 = 2\n if r0 > 1 goto +1\n r1 = 0x100000000 ll\n exit',
  },
  { name: 'cfg: unknown helper', type: 'xdp', safe: false, asm: 'call 100000\n r0 = 2\n exit' },
  {
    name: 'cfg: helper of another program type',
    type: 'kprobe',
    safe: false,
    asm: 'r2 = 0\n call 44\n r0 = 0\n exit',
  },
  {
    name: 'loop: bounded counter',
    type: 'xdp',
    safe: true,
    asm: 'r1 = 0\n r1 += 1\n if r1 < 10 goto -2\n r0 = 2\n exit',
  },
  {
    name: 'loop: infinite',
    type: 'xdp',
    safe: false,
    asm: 'r0 = 2\n r1 = *(u32 *)(r1 + 12)\n if r1 > 5 goto +1\n exit\n goto -1',
  },
  {
    name: 'loop: unbounded counter',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 0\n r1 += 1\n if r1 != 0 goto -2\n r0 = 2\n exit',
  },
  {
    name: 'loop: depends on packet byte',
    type: 'xdp',
    safe: false,
    asm: 'r2 = *(u32 *)(r1 + 12)\n r2 += 1\n if r2 != 0 goto -2\n r0 = 2\n exit',
  },
  {
    name: 'loop: counter to 1000',
    type: 'xdp',
    safe: true,
    asm: 'r1 = 0\n r2 = 0\n r2 += r1\n r1 += 1\n if r1 < 1000 goto -3\n r0 = 2\n exit',
  },
  {
    name: 'loop: pruned branch states',
    type: 'xdp',
    safe: true,
    asm: 'r6 = *(u32 *)(r1 + 12)\n r1 = 0\n if r6 > 5 goto +1\n r1 = 1\n r0 = 2\n exit',
  },
  // ---- return values ----
  { name: 'ret: cgroup_skb returns 1', type: 'cgroup_skb', safe: true, asm: 'r0 = 1\n exit' },
  { name: 'ret: cgroup_skb returns 2', type: 'cgroup_skb', safe: false, asm: 'r0 = 2\n exit' },
  {
    name: 'ret: cgroup_skb returns unknown',
    type: 'cgroup_skb',
    safe: false,
    asm: 'r0 = *(u32 *)(r1 + 0)\n exit',
  },
  {
    name: 'ret: cgroup_skb returns masked',
    type: 'cgroup_skb',
    safe: true,
    asm: 'r0 = *(u32 *)(r1 + 0)\n r0 &= 1\n exit',
  },
  { name: 'ret: xdp returns anything', type: 'xdp', safe: true, asm: 'r0 = 12345\n exit' },
  // ---- ringbuf references ----
  { name: 'ringbuf: reserve, write, submit', type: 'xdp', safe: true, asm: RINGBUF('') },
  { name: 'ringbuf: reserve, discard', type: 'xdp', safe: true, asm: RINGBUF('', 'r2 = 0\n  call 133') },
  { name: 'ringbuf: leaked record', type: 'xdp', safe: false, asm: RINGBUF('', 'r2 = 0') },
  {
    name: 'ringbuf: write past the record',
    type: 'xdp',
    safe: false,
    asm: RINGBUF('*(u64 *)(r1 + 16) = r2'),
  },
  {
    name: 'ringbuf: use after submit',
    type: 'xdp',
    safe: false,
    asm: RINGBUF('r6 = r1', 'r2 = 0\n  call 132\n  *(u64 *)(r6 + 0) = 1'),
  },
  {
    name: 'ringbuf: missing NULL check',
    type: 'xdp',
    safe: false,
    asm: `r1 = map_fd(2) ll
      r2 = 16
      r3 = 0
      call 131
      *(u64 *)(r0 + 0) = 1
      r1 = r0
      r2 = 0
      call 132
      r0 = 0
      exit`,
  },
  {
    name: 'ringbuf: submit of a moved pointer',
    type: 'xdp',
    safe: false,
    asm: RINGBUF('r1 += 8'),
  },
  {
    name: 'ringbuf: output from stack',
    type: 'xdp',
    safe: true,
    asm: `*(u64 *)(r10 - 8) = 0
      r1 = map_fd(2) ll
      r2 = r10
      r2 += -8
      r3 = 8
      r4 = 0
      call 130
      r0 = 2
      exit`,
  },
  {
    name: 'ringbuf: output of uninitialised stack',
    type: 'xdp',
    safe: false,
    asm: `r1 = map_fd(2) ll
      r2 = r10
      r2 += -8
      r3 = 8
      r4 = 0
      call 130
      r0 = 2
      exit`,
  },
  {
    name: 'ringbuf: output with zero size',
    type: 'xdp',
    safe: true,
    asm: `r1 = map_fd(2) ll
      r2 = r10
      r2 += -8
      r3 = 0
      r4 = 0
      call 130
      r0 = 2
      exit`,
  },
  {
    name: 'ringbuf: reserve with a variable size',
    type: 'xdp',
    safe: false,
    asm: `r2 = *(u32 *)(r1 + 12)
      r1 = map_fd(2) ll
      r3 = 0
      call 131
      if r0 == 0 goto +3
      r1 = r0
      r2 = 0
      call 133
      r0 = 0
      exit`,
  },
  // ---- helpers ----
  {
    name: 'helper: tail call',
    type: 'xdp',
    safe: true,
    asm: 'r2 = map_fd(3) ll\n r3 = 0\n call 12\n r0 = 2\n exit',
  },
  {
    name: 'helper: tail call into a hash map',
    type: 'xdp',
    safe: false,
    asm: 'r2 = map_fd(0) ll\n r3 = 0\n call 12\n r0 = 2\n exit',
  },
  {
    name: 'helper: tail call with a non-ctx',
    type: 'xdp',
    safe: false,
    asm: 'r1 = r10\n r2 = map_fd(3) ll\n r3 = 0\n call 12\n r0 = 2\n exit',
  },
  {
    name: 'helper: probe_read into stack',
    type: 'kprobe',
    safe: true,
    asm: 'r3 = *(u64 *)(r1 + 112)\n r1 = r10\n r1 += -16\n r2 = 16\n call 113\n r0 = *(u64 *)(r10 - 8)\n r0 = 0\n exit',
  },
  {
    name: 'helper: probe_read past the stack',
    type: 'kprobe',
    safe: false,
    asm: 'r3 = *(u64 *)(r1 + 112)\n r1 = r10\n r1 += -16\n r2 = 24\n call 113\n r0 = 0\n exit',
  },
  {
    name: 'helper: probe_read with a bounded size',
    type: 'kprobe',
    safe: true,
    asm: 'r3 = *(u64 *)(r1 + 112)\n r2 = *(u64 *)(r1 + 104)\n r2 &= 15\n r1 = r10\n r1 += -16\n call 113\n r0 = 0\n exit',
  },
  {
    name: 'helper: probe_read with an unbounded size',
    type: 'kprobe',
    safe: false,
    asm: 'r3 = *(u64 *)(r1 + 112)\n r2 = *(u64 *)(r1 + 104)\n r1 = r10\n r1 += -16\n call 113\n r0 = 0\n exit',
  },
  {
    name: 'helper: perf_event_output from a map value',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +7\n  r4 = r0\n  r1 = r6\n  r2 = map_fd(4) ll\n  r3 = 0\n  r5 = 16\n  call 25\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'helper: perf_event_output too many bytes of a map value',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +7\n  r4 = r0\n  r1 = r6\n  r2 = map_fd(4) ll\n  r3 = 0\n  r5 = 17\n  call 25\n  r0 = 2\n  exit',
    ),
  },
  // ---- bpf-to-bpf calls ----
  {
    name: 'call: subprogram returns a value',
    type: 'xdp',
    safe: true,
    asm: 'r1 = 1\n call pc+2\n r0 = 2\n exit\n r0 = r1\n exit',
  },
  {
    name: 'call: void subprogram',
    type: 'xdp',
    safe: true,
    asm: 'r1 = 1\n call pc+2\n r0 = 2\n exit\n r1 += 1\n exit',
  },
  {
    name: 'call: result of a void subprogram read',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 1\n call pc+1\n exit\n r1 += 1\n exit',
  },
  {
    name: 'call: caller r1 clobbered',
    type: 'xdp',
    safe: false,
    asm: 'r1 = 1\n call pc+2\n r0 = r1\n exit\n r0 = 0\n exit',
  },
  {
    name: 'call: callee reads uninit arg',
    type: 'xdp',
    safe: false,
    asm: 'call pc+2\n r0 = 2\n exit\n r0 = r3\n exit',
  },
  {
    name: 'call: callee writes caller stack through a pointer',
    type: 'xdp',
    safe: true,
    asm: 'r1 = r10\n r1 += -8\n call pc+3\n r0 = *(u64 *)(r10 - 8)\n r0 = 2\n exit\n *(u64 *)(r1 + 0) = 7\n r0 = 0\n exit',
  },
  {
    name: 'call: callee returns its stack',
    type: 'xdp',
    safe: false,
    asm: 'call pc+3\n r0 = *(u64 *)(r0 + 0)\n r0 = 2\n exit\n *(u64 *)(r10 - 8) = 1\n r0 = r10\n r0 += -8\n exit',
  },
  // ---- sign extension, jmp32, bswap ----
  {
    name: 'alu: movsx keeps an index in range',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +4\n  r1 = *(u32 *)(r6 + 12)\n  r1 = (s8) r1\n  if r1 s< 0 goto +1\n  r0 = 2\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'alu: jmp32 bound on a 64-bit value does not bound it',
    type: 'xdp',
    safe: false,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +5\n  r1 = *(u64 *)(r10 - 8)\n  r1 = *(u32 *)(r6 + 12)\n  r1 <<= 32\n  if w1 > 7 goto +1\n  r0 += r1\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'alu: w-register bound works',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +5\n  w1 = *(u32 *)(r6 + 12)\n  if w1 > 7 goto +3\n  r0 += r1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  {
    name: 'alu: be16 bounds the value',
    type: 'xdp',
    safe: true,
    asm: LOOKUP(
      0,
      '  if r0 == 0 goto +6\n  r1 = *(u32 *)(r6 + 12)\n  r1 = be16 r1\n  r1 >>= 13\n  r0 += r1\n  r0 = *(u64 *)(r0 + 0)\n  r0 = 2\n  exit',
    ),
  },
  // ---- bpf_loop callbacks ----
  {
    name: 'loop helper: callback sums into the context',
    type: 'xdp',
    safe: true,
    noOracle: NEEDS_BTF,
    asm: BPF_LOOP('  r3 = *(u64 *)(r2 + 0)\n  r3 += r1\n  *(u64 *)(r2 + 0) = r3\n  r0 = 0\n  exit'),
  },
  {
    name: 'loop helper: callback returns 2',
    type: 'xdp',
    safe: false,
    noOracle: NEEDS_BTF,
    asm: BPF_LOOP('  r0 = 2\n  exit'),
  },
  {
    name: 'loop helper: callback writes past its context',
    type: 'xdp',
    safe: false,
    noOracle: NEEDS_BTF,
    asm: BPF_LOOP('  *(u64 *)(r2 + 8) = 1\n  r0 = 0\n  exit'),
  },
  {
    name: 'loop helper: callback reads uninitialised context',
    type: 'xdp',
    safe: false,
    noOracle: NEEDS_BTF,
    asm: BPF_LOOP('  r0 = *(u64 *)(r2 + 0)\n  r0 = 0\n  exit', 'r5 = 0'),
  },
];
