// CO-RE relocations against synthetic target BTFs (built with BtfBuilder), for what the running kernel
// cannot show: a field that moved, grew, vanished or became a bitfield elsewhere, enum values that differ,
// flavoured local types, several candidates that agree or not, split (module) BTF. Each case relocates a
// few instructions as clang emits them and checks the patched fields, the poison, or the error.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { BtfBuilder } from '../../src/btf/builder.js';
import {
  applyCoreRelocations,
  CORE_POISON_HELPER,
  CoreContext,
  CoreKind,
  type CoreRelocation,
  CoreRelocationError,
  type CoreTarget,
} from '../../src/btf/core/index.js';
import { type Btf, parseBtf } from '../../src/btf/parse.js';
import { readObject } from '../../src/elf/index.js';
import { parseElf } from '../../src/elf/parse.js';
import { TsbpfError } from '../../src/errors.js';
import { type Insn, insn, lddw } from '../../src/isa/index.js';
import { verify } from '../../src/verifier/index.js';

const LDXW = 0x61;
const LDXDW = 0x79;

/** Build a BTF with `fn(builder)` and parse it back. */
function btfOf(fn: (b: BtfBuilder) => void, base?: Btf): Btf {
  const b = new BtfBuilder(base);
  fn(b);
  return parseBtf(b.encode(), 'synthetic', base);
}

const target = (btf: Btf, modules?: Btf[]): CoreTarget => ({
  btf,
  name: 'test-kernel',
  modules: modules ? () => modules.map((m, i) => ({ name: `mod${i}`, btf: m })) : undefined,
});

function relocate(insns: Insn[], relos: CoreRelocation[], local: Btf, t: CoreTarget) {
  return applyCoreRelocations(insns, relos, new CoreContext(local, t), 'test.o: section kprobe/x');
}

const relo = (insnIdx: number, typeId: number, accessStr: string, kind: number): CoreRelocation => ({
  insn: insnIdx,
  typeId,
  accessStr,
  kind,
});

/** `struct task_struct { int pid; unsigned int flags; long state; }` as the program sees it: ids 1 int, 2 uint, 3 long, 4 struct. */
function localTask(
  name = 'task_struct',
  fields: [string, number][] = [
    ['pid', 1],
    ['flags', 2],
    ['state', 3],
  ],
) {
  return btfOf((b) => {
    b.int('int', 4, true);
    b.int('unsigned int', 4);
    b.int('long', 8, true);
    let off = 0;
    b.struct(
      name,
      16,
      fields.map(([n, t]) => {
        const m = { name: n, type: t, bitOffset: off };
        off += t === 3 ? 64 : 32;
        return m;
      }),
    );
  });
}

describe('field relocations', () => {
  it('moves loads, stores and offset arithmetic to where the target has the field', () => {
    const local = localTask();
    const kernel = btfOf((b) => {
      const i = b.int('int', 4, true);
      const u = b.int('unsigned int', 4);
      const l = b.int('long', 8, true);
      b.struct('task_struct', 64, [
        { name: 'state', type: l, bitOffset: 24 * 8 },
        { name: 'pid', type: i, bitOffset: 40 * 8 },
        { name: 'flags', type: u, bitOffset: 44 * 8 },
      ]);
    });
    const insns = [
      insn(LDXW, 0, 1, 0), // r0 = *(u32 *)(r1 + 0)  pid
      insn(LDXDW, 2, 1, 8), // r2 = *(u64 *)(r1 + 8)  state
      insn(0x07, 1, 0, 0, 4), // r1 += 4  &flags
      insn(0x63, 1, 2, 4), // *(u32 *)(r1 + 4) = r2  flags (store)
      insn(0x95),
    ];
    const out = relocate(
      insns,
      [
        relo(0, 4, '0:0', CoreKind.FIELD_BYTE_OFFSET),
        relo(1, 4, '0:2', CoreKind.FIELD_BYTE_OFFSET),
        relo(2, 4, '0:1', CoreKind.FIELD_BYTE_OFFSET),
        relo(3, 4, '0:1', CoreKind.FIELD_BYTE_OFFSET),
      ],
      local,
      target(kernel),
    );
    expect(insns.map((i) => [i.off, i.imm])).toEqual([
      [40, 0],
      [24, 0],
      [0, 44],
      [44, 0],
      [0, 0],
    ]);
    expect(out.map((o) => o.what)).toEqual([
      'byte offset of struct task_struct.pid',
      'byte offset of struct task_struct.state',
      'byte offset of struct task_struct.flags',
      'byte offset of struct task_struct.flags',
    ]);
    expect(out.every((o) => !o.poisoned)).toBe(true);
  });

  it('resizes a load of an unsigned field of another size, and poisons one of a signed field', () => {
    const local = localTask();
    const kernel = btfOf((b) => {
      const i = b.int('short', 2, true);
      const u = b.int('unsigned long', 8);
      b.struct('task_struct', 16, [
        { name: 'pid', type: i, bitOffset: 0 },
        { name: 'flags', type: u, bitOffset: 64 },
      ]);
    });
    const insns = [insn(LDXW, 0, 1, 4), insn(LDXW, 2, 1, 0), insn(0x95)];
    const out = relocate(
      insns,
      [relo(0, 4, '0:1', CoreKind.FIELD_BYTE_OFFSET), relo(1, 4, '0:0', CoreKind.FIELD_BYTE_OFFSET)],
      local,
      target(kernel),
    );
    expect(insns[0]).toEqual(insn(LDXDW, 0, 1, 8));
    expect(insns[1]).toEqual(insn(0x85, 0, 0, 0, CORE_POISON_HELPER));
    expect(out[1]!.poisoned).toBe(true);
    expect(out[1]!.reason).toMatch(/size changes from 4 to 2 bytes/);
  });

  it('a missing field: offsets poisoned, existence 0, size poisoned', () => {
    const local = localTask();
    const kernel = btfOf((b) => {
      const i = b.int('int', 4, true);
      b.struct('task_struct', 8, [{ name: 'pid', type: i, bitOffset: 0 }]);
    });
    const [lo, hi] = lddw(3, 8n);
    const insns = [
      insn(LDXDW, 2, 1, 8),
      insn(0xb7, 4, 0, 0, 1), // r4 = 1  (field exists)
      insn(0xb7, 5, 0, 0, 8), // r5 = 8  (field size)
      lo,
      hi,
      insn(0x95),
    ];
    const out = relocate(
      insns,
      [
        relo(0, 4, '0:2', CoreKind.FIELD_BYTE_OFFSET),
        relo(1, 4, '0:2', CoreKind.FIELD_EXISTS),
        relo(2, 4, '0:2', CoreKind.FIELD_BYTE_SIZE),
        relo(3, 4, '0:2', CoreKind.FIELD_BYTE_OFFSET),
      ],
      local,
      target(kernel),
    );
    const poison = insn(0x85, 0, 0, 0, CORE_POISON_HELPER);
    expect(insns).toEqual([poison, insn(0xb7, 4, 0, 0, 0), poison, poison, poison, insn(0x95)]);
    expect(out[0]!.reason).toBe(
      'the program reads field state of struct task_struct, which the target BTF (test-kernel) does not have',
    );
    expect(out.map((o) => o.poisoned)).toEqual([true, false, true, true]);
  });

  it('finds a field that moved into an anonymous union of the target', () => {
    const local = localTask();
    const kernel = btfOf((b) => {
      const i = b.int('int', 4, true);
      const l = b.int('long', 8, true);
      const u = b.union('', 8, [
        { name: 'state', type: l, bitOffset: 0 },
        { name: 'other', type: i, bitOffset: 0 },
      ]);
      b.struct('task_struct', 48, [
        { name: 'pid', type: i, bitOffset: 0 },
        { name: '', type: u, bitOffset: 32 * 8 },
      ]);
    });
    const insns = [insn(LDXDW, 2, 1, 8), insn(0x95)];
    relocate(insns, [relo(0, 4, '0:2', CoreKind.FIELD_BYTE_OFFSET)], local, target(kernel));
    expect(insns[0]!.off).toBe(32);
  });

  it('array elements and nested structs along the access path', () => {
    // struct s { int a; struct in { int x; int y; } arr[4]; }; reading s->arr[2].y
    const mk = (arrOff: number, yOff: number) =>
      btfOf((b) => {
        const i = b.int('int', 4, true);
        const inner = b.struct('in', 8 + yOff / 8 - 4, [
          { name: 'x', type: i, bitOffset: 0 },
          { name: 'y', type: i, bitOffset: yOff },
        ]);
        const arr = b.array(inner, 4);
        b.struct('s', 64, [
          { name: 'a', type: i, bitOffset: 0 },
          { name: 'arr', type: arr, bitOffset: arrOff },
        ]);
      });
    const local = mk(32, 32); // arr at 4, in is 8 bytes, y at 4: arr[2].y at 4 + 16 + 4 = 24
    const kernel = mk(64, 64); // arr at 8, in is 12 bytes, y at 8: 8 + 24 + 8 = 40
    const structId = local.types.findIndex((t) => t.name === 's');
    const insns = [insn(LDXW, 0, 1, 24), insn(0x95)];
    const out = relocate(
      insns,
      [relo(0, structId, '0:1:2:1', CoreKind.FIELD_BYTE_OFFSET)],
      local,
      target(kernel),
    );
    expect(insns[0]!.off).toBe(40);
    expect(out[0]!.what).toBe('byte offset of struct s.arr[2].y');
  });

  it('bitfields: byte offset, size, shifts and signedness as the target lays them out', () => {
    // local: struct bf { unsigned int a:3; unsigned int b:5; int c:4; }, target moves b and c
    const mk = (bOff: number, bBits: number, cOff: number) =>
      btfOf((b) => {
        const u = b.int('unsigned int', 4);
        const s = b.int('int', 4, true);
        b.struct('bf', 8, [
          { name: 'a', type: u, bitOffset: 0, bitSize: 3 },
          { name: 'b', type: u, bitOffset: bOff, bitSize: bBits },
          { name: 'c', type: s, bitOffset: cOff, bitSize: 4 },
        ]);
      });
    const local = mk(3, 5, 8);
    const kernel = mk(30, 6, 40);
    const id = 3;
    const values = (t: Btf) => {
      const insns = [0, 1, 2, 3, 4, 5, 6, 7].map(() => insn(0xb7, 0, 0, 0, 0));
      const kinds = [
        CoreKind.FIELD_BYTE_OFFSET,
        CoreKind.FIELD_BYTE_SIZE,
        CoreKind.FIELD_LSHIFT_U64,
        CoreKind.FIELD_RSHIFT_U64,
      ];
      // bitfield values are not validated against the instruction, except signedness and right shift
      const localVals = [0, 4, 56, 59, 0, 1, 52, 60];
      insns.forEach((x, i) => {
        x.imm = localVals[i]!;
      });
      relocate(
        insns,
        [
          ...kinds.map((k, i) => relo(i, id, '0:1', k)),
          relo(4, id, '0:2', CoreKind.FIELD_BYTE_OFFSET),
          relo(5, id, '0:2', CoreKind.FIELD_SIGNED),
          relo(6, id, '0:2', CoreKind.FIELD_LSHIFT_U64),
          relo(7, id, '0:2', CoreKind.FIELD_RSHIFT_U64),
        ],
        local,
        target(t),
      );
      return insns.map((x) => x.imm);
    };
    // b at bit 30, 6 bits: crosses the u32 at 0, so an 8-byte load at 0; lshift 64-36 = 28, rshift 58.
    // c at bit 40, 4 bits: the u32 at 4; lshift 64-(40+4-32) = 52; signed.
    expect(values(kernel)).toEqual([0, 8, 28, 58, 4, 1, 52, 60]);
    expect(() => values(mk(3, 5, 8))).not.toThrow();
  });

  it('refuses an instruction that does not hold the value the local BTF gives', () => {
    const local = localTask();
    const insns = [insn(LDXW, 0, 1, 12), insn(0x95)];
    expect(() =>
      relocate(insns, [relo(0, 4, '0:0', CoreKind.FIELD_BYTE_OFFSET)], local, target(localTask())),
    ).toThrow(
      /test\.o: section kprobe\/x: insn 0: CO-RE relocation #0 \(byte offset of struct task_struct\.pid\): the instruction's offset is 12, not the expected 0/,
    );
  });

  it('refuses a malformed access string and a member index past the struct', () => {
    const local = localTask();
    const t = target(localTask());
    expect(() => relocate([insn(LDXW)], [relo(0, 4, '0:x', 0)], local, t)).toThrow(CoreRelocationError);
    expect(() => relocate([insn(LDXW)], [relo(0, 4, '0:7', 0)], local, t)).toThrow(/has no member #7/);
    expect(() => relocate([insn(0xb7, 0, 0, 0, 1)], [relo(0, 4, '0', 8)], local, t)).not.toThrow();
    expect(() => relocate([insn(LDXW)], [relo(0, 4, '0:1', 8)], local, t)).toThrow(/not '0'/);
    expect(() => relocate([insn(LDXW)], [relo(5, 4, '0:1', 0)], local, t)).toThrow(/outside the code/);
  });
});

describe('flavours and candidates', () => {
  it('task_struct___old and ___new find task_struct; the missing one is poisoned or 0', () => {
    const local = btfOf((b) => {
      const i = b.int('int', 4, true);
      b.struct('task_struct___old', 8, [{ name: 'state', type: i, bitOffset: 0 }]); // 2
      b.struct('task_struct___new', 8, [{ name: '__state', type: i, bitOffset: 0 }]); // 3
    });
    const kernel = btfOf((b) => {
      const i = b.int('unsigned int', 4);
      b.struct('task_struct', 64, [{ name: '__state', type: i, bitOffset: 24 * 8 }]);
    });
    const insns = [
      insn(0xb7, 1, 0, 0, 1), // bpf_core_field_exists(old->state)
      insn(0xb7, 2, 0, 0, 1), // bpf_core_field_exists(new->__state)
      insn(LDXW, 3, 1, 0), // new->__state
      insn(LDXW, 4, 1, 0), // old->state
    ];
    const out = relocate(
      insns,
      [
        relo(0, 2, '0:0', CoreKind.FIELD_EXISTS),
        relo(1, 3, '0:0', CoreKind.FIELD_EXISTS),
        relo(2, 3, '0:0', CoreKind.FIELD_BYTE_OFFSET),
        relo(3, 2, '0:0', CoreKind.FIELD_BYTE_OFFSET),
      ],
      local,
      target(kernel),
    );
    expect(insns.slice(0, 3).map((x) => [x.imm, x.off])).toEqual([
      [0, 0],
      [1, 0],
      [0, 24],
    ]);
    expect(insns[3]!.imm).toBe(CORE_POISON_HELPER);
    expect(out[3]!.reason).toMatch(/field state of struct task_struct___old/);
  });

  it('several candidates: agreeing ones are fine, disagreeing ones are an error', () => {
    const local = localTask();
    const two = (secondPid: number) =>
      btfOf((b) => {
        const i = b.int('int', 4, true);
        b.struct('task_struct', 8, [{ name: 'pid', type: i, bitOffset: 32 }]);
        b.struct('task_struct___v2', 8, [{ name: 'pid', type: i, bitOffset: secondPid }]);
      });
    const ok = [insn(LDXW, 0, 1, 0)];
    relocate(ok, [relo(0, 4, '0:0', CoreKind.FIELD_BYTE_OFFSET)], local, target(two(32)));
    expect(ok[0]!.off).toBe(4);
    expect(() =>
      relocate(
        [insn(LDXW, 0, 1, 0)],
        [relo(0, 4, '0:0', CoreKind.FIELD_BYTE_OFFSET)],
        local,
        target(two(64)),
      ),
    ).toThrow(/candidates disagree on its offset/);
  });

  it('a candidate whose field has an incompatible type does not match', () => {
    const local = localTask();
    const kernel = btfOf((b) => {
      const i = b.int('int', 4, true);
      const s = b.struct('pid_s', 4, [{ name: 'nr', type: i, bitOffset: 0 }]);
      b.struct('task_struct', 8, [{ name: 'pid', type: s, bitOffset: 32 }]);
    });
    const insns = [insn(0xb7, 1, 0, 0, 1)];
    relocate(insns, [relo(0, 4, '0:0', CoreKind.FIELD_EXISTS)], local, target(kernel));
    expect(insns[0]!.imm).toBe(0);
  });

  it('searches module BTF (split over the main one) only when the main one has no candidate', () => {
    const kernel = btfOf((b) => {
      b.int('int', 4, true);
    });
    const module = btfOf((b) => {
      b.struct('nf_conn', 16, [{ name: 'mark', type: 1, bitOffset: 96 }]);
    }, kernel);
    expect(module.types[2]!.name).toBe('nf_conn');
    expect(module.type(2).id).toBe(2);
    const local = btfOf((b) => {
      const i = b.int('int', 4, true);
      b.struct('nf_conn', 8, [{ name: 'mark', type: i, bitOffset: 0 }]);
    });
    const insns = [insn(LDXW, 0, 1, 0), ...lddw(2, 2n)];
    let loaded = 0;
    const t: CoreTarget = {
      btf: kernel,
      name: 'vmlinux',
      modules: () => {
        loaded++;
        return [{ name: 'nf_conntrack', btf: module }];
      },
    };
    const out = relocate(
      insns,
      [relo(0, 2, '0:0', CoreKind.FIELD_BYTE_OFFSET), relo(1, 2, '0', CoreKind.TYPE_ID_TARGET)],
      local,
      t,
    );
    expect(insns[0]!.off).toBe(12);
    expect(out[1]!.value).toBe(2n);
    expect(loaded).toBe(1);
  });
});

describe('type and enum relocations', () => {
  const local = btfOf((b) => {
    const i = b.int('int', 4, true); // 1
    b.struct('task_struct', 16, [{ name: 'pid', type: i, bitOffset: 0 }]); // 2
    b.enumType('state', 4, [
      { name: 'RUNNING', value: 0n },
      { name: 'STOPPED', value: 4n },
      { name: 'GONE___v2', value: 9n },
    ]); // 3
    b.struct('absent', 4, [{ name: 'x', type: i, bitOffset: 0 }]); // 4
    b.enumType('big', 8, [{ name: 'HUGE', value: 1n << 40n }]); // 5
  });
  const kernel = btfOf((b) => {
    b.int('char', 1); // 1
    const i = b.int('int', 4, true); // 2
    b.struct('task_struct', 9000, [{ name: 'pid', type: i, bitOffset: 64 }]); // 3
    b.enumType('state', 4, [
      { name: 'STOPPED', value: 0x80000000n },
      { name: 'RUNNING', value: 3n },
    ]); // 4
    b.enumType('big', 8, [{ name: 'HUGE', value: (1n << 40n) + 5n }]); // 5
  });

  it('type id, existence, size and match against the target', () => {
    const insns = [
      ...lddw(1, 2n), // bpf_core_type_id_kernel(struct task_struct)
      insn(0xb7, 2, 0, 0, 1), // bpf_core_type_exists(struct task_struct)
      insn(0xb7, 3, 0, 0, 16), // bpf_core_type_size(struct task_struct)
      insn(0xb7, 4, 0, 0, 1), // bpf_core_type_exists(struct absent)
      insn(0xb7, 5, 0, 0, 4), // bpf_core_type_size(struct absent)
      insn(0xb7, 6, 0, 0, 2), // bpf_core_type_id_local(struct task_struct)
      insn(0xb7, 7, 0, 0, 1), // bpf_core_type_matches(struct task_struct)
      ...lddw(8, 4n), // bpf_core_type_id_kernel(struct absent)
    ];
    const out = relocate(
      insns,
      [
        relo(0, 2, '0', CoreKind.TYPE_ID_TARGET),
        relo(2, 2, '0', CoreKind.TYPE_EXISTS),
        relo(3, 2, '0', CoreKind.TYPE_SIZE),
        relo(4, 4, '0', CoreKind.TYPE_EXISTS),
        relo(5, 4, '0', CoreKind.TYPE_SIZE),
        relo(6, 2, '0', CoreKind.TYPE_ID_LOCAL),
        relo(7, 2, '0', CoreKind.TYPE_MATCHES),
        relo(8, 4, '0', CoreKind.TYPE_ID_TARGET),
      ],
      local,
      target(kernel),
    );
    expect(out.map((o) => o.value)).toEqual([3n, 1n, 9000n, 0n, 0n, 2n, 1n, 0n]);
    expect(insns.map((x) => x.imm)).toEqual([3, 0, 1, 9000, 0, 0, 2, 1, 0, 0]);
  });

  it('TYPE_MATCHES is stricter than existence: a member of another signedness does not match', () => {
    const other = btfOf((b) => {
      const u = b.int('unsigned int', 4);
      b.struct('task_struct', 16, [{ name: 'pid', type: u, bitOffset: 0 }]);
    });
    const insns = [insn(0xb7, 2, 0, 0, 1), insn(0xb7, 7, 0, 0, 1)];
    relocate(
      insns,
      [relo(0, 2, '0', CoreKind.TYPE_EXISTS), relo(1, 2, '0', CoreKind.TYPE_MATCHES)],
      local,
      target(other),
    );
    expect(insns.map((x) => x.imm)).toEqual([1, 0]);
  });

  it('enum values by name (flavour dropped), widened as libbpf widens them; missing: 0 or poison', () => {
    const insns = [
      ...lddw(1, 4n), // bpf_core_enum_value(enum state, STOPPED) as 64-bit
      insn(0xb7, 2, 0, 0, 0), // bpf_core_enum_value(enum state, RUNNING)
      insn(0xb7, 3, 0, 0, 1), // bpf_core_enum_value_exists(enum state, GONE___v2)
      insn(0xb7, 4, 0, 0, 9), // bpf_core_enum_value(enum state, GONE___v2)
      ...lddw(5, 1n << 40n), // bpf_core_enum_value(enum big, HUGE)
    ];
    const out = relocate(
      insns,
      [
        relo(0, 3, '1', CoreKind.ENUMVAL_VALUE),
        relo(2, 3, '0', CoreKind.ENUMVAL_VALUE),
        relo(3, 3, '2', CoreKind.ENUMVAL_EXISTS),
        relo(4, 3, '2', CoreKind.ENUMVAL_VALUE),
        relo(5, 5, '0', CoreKind.ENUMVAL_VALUE),
      ],
      local,
      target(kernel),
    );
    expect(out[0]!.value).toBe(0xffffffff80000000n);
    expect([insns[0]!.imm, insns[1]!.imm]).toEqual([-0x80000000, -1]);
    expect(insns[2]!.imm).toBe(3);
    expect(insns[3]!.imm).toBe(0);
    expect(insns[4]!.imm).toBe(CORE_POISON_HELPER);
    expect(out[3]!.reason).toBe(
      'the program reads value GONE___v2 of enum state, which the target BTF (test-kernel) does not have',
    );
    expect([insns[5]!.imm, insns[6]!.imm]).toEqual([5, 256]);
  });
});

describe('the poisoned call and the verifier', () => {
  it('is refused where a path reaches it, with words that say it is a CO-RE relocation', () => {
    const reached = assemble(`r0 = 0\ncall ${CORE_POISON_HELPER}\nexit`);
    const r = verify({ insns: reached, type: 'kprobe' });
    expect(r.accepted).toBe(false);
    expect(r.diagnostics[0]!.message).toMatch(/CO-RE relocation.*could not be applied/);
  });

  it('is accepted where no path reaches it (guarded by an existence check that relocated to 0)', () => {
    const guarded = assemble(`r1 = 0\nif r1 == 0 goto +1\ncall ${CORE_POISON_HELPER}\nr0 = 0\nexit`);
    expect(verify({ insns: guarded, type: 'kprobe' }).accepted).toBe(true);
  });
});

describe('hostile input: bounded, and every failure a CoreRelocationError', () => {
  /** struct A { A; A; ... } — 40 anonymous members of its own type (a cycle no compiler writes). */
  const cyclic = () =>
    btfOf((b) => {
      b.int('int', 4, true); // 1
      b.struct(
        'A',
        4,
        Array.from({ length: 40 }, () => ({ name: '', type: 2, bitOffset: 0 })),
      ); // 2
      b.struct('B', 4, [{ name: 'x', type: 1, bitOffset: 0 }]); // 3
    });

  it('a type match that would branch without end stops at the step limit', () => {
    const t0 = performance.now();
    expect(() =>
      relocate(
        [insn(0xb7, 0, 0, 0, 1)],
        [relo(0, 2, '0', CoreKind.TYPE_MATCHES)],
        cyclic(),
        target(cyclic()),
      ),
    ).toThrow(/nest too deeply to match|too complex to compare/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a member search through endlessly nested anonymous members stops too', () => {
    const local = btfOf((b) => {
      const i = b.int('int', 4, true);
      b.struct('A', 4, [{ name: 'x', type: i, bitOffset: 0 }]);
    });
    const t0 = performance.now();
    expect(() =>
      relocate([insn(0xb7, 0, 0, 0, 1)], [relo(0, 2, '0:0', CoreKind.FIELD_EXISTS)], local, target(cyclic())),
    ).toThrow(CoreRelocationError);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('2,000 random relocations: applied, or refused with a CoreRelocationError', () => {
    const local = localTask();
    const kernel = btfOf((b) => {
      const i = b.int('int', 4, true);
      const u = b.int('unsigned int', 4);
      b.struct('task_struct', 64, [
        { name: 'flags', type: u, bitOffset: 0 },
        { name: 'pid', type: i, bitOffset: 32, bitSize: 0 },
      ]);
    });
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let applied = 0;
    let refused = 0;
    for (let n = 0; n < 2000; n++) {
      const codes = [LDXW, LDXDW, 0xb7, 0x07, 0x18, 0x85, 0x63, 0x0f];
      const insns = [insn(codes[rnd(codes.length)]!, 0, 1, rnd(3) * 4, rnd(3)), insn(0), insn(0x95)];
      const access = Array.from({ length: 1 + rnd(4) }, () => rnd(4)).join(':');
      try {
        relocate(insns, [relo(rnd(3), rnd(6), rnd(10) === 0 ? 'x' : access, rnd(14))], local, target(kernel));
        applied++;
      } catch (e) {
        expect(e).toBeInstanceOf(CoreRelocationError);
        refused++;
      }
    }
    expect(applied).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(200);
  });
});

describe('hostile .BTF.ext through readObject', () => {
  it('500 objects with bytes of their CO-RE records changed: read, or refused with a TsbpfError', () => {
    const bytes = new Uint8Array(readFileSync(new URL('../fixtures/core/regs.o', import.meta.url)));
    const ext = parseElf(bytes, 'regs.o').sectionNamed('.BTF.ext')!;
    const v = new DataView(ext.data.buffer, ext.data.byteOffset, ext.data.byteLength);
    const hdrLen = v.getUint32(4, true);
    const coreStart = ext.offset + hdrLen + v.getUint32(24, true);
    const coreLen = v.getUint32(28, true);
    const b = new BtfBuilder();
    const ul = b.int('long unsigned int', 8);
    b.struct('pt_regs', 168, [{ name: 'di', type: ul, bitOffset: 112 * 8 }]);
    const kernel = parseBtf(b.encode(), 'pt_regs');
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const outcomes = { read: 0, refused: 0 };
    for (let i = 0; i < 500; i++) {
      const m = bytes.slice();
      for (let k = 0; k < 1 + rnd(4); k++) m[coreStart + rnd(coreLen)] = rnd(4) === 0 ? 0xff : rnd(40);
      try {
        readObject(m, { file: 'm.o', btf: kernel });
        outcomes.read++;
      } catch (e) {
        expect(e).toBeInstanceOf(TsbpfError);
        outcomes.refused++;
      }
    }
    // Most changes break a record (a type id, an access string, an offset): each says which, in one line.
    expect(outcomes.read + outcomes.refused).toBe(500);
    expect(outcomes.refused).toBeGreaterThan(250);
  });
});
