// The kernel's layout of a struct_ops value (src/kernel/struct-ops.ts), from the running kernel's BTF: the
// object's members matched by name into `struct bpf_struct_ops_<name>`'s `data`, and each way a value
// cannot be laid out refused in one line naming the map and the member. No syscall: BTF only.

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, Kind, parseBtf } from '../../src/btf/index.js';
import { structOpsLayout, structOpsValue } from '../../src/kernel/struct-ops.js';
import { type MapSpec, MapType, type StructOpsSpec } from '../../src/spec/maps.js';
import { btfNamed } from '../../src/verifier/btf-ctx.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const haveBtf = existsSync(VMLINUX);
if (!haveBtf && process.env.CI === 'true') throw new Error(`${VMLINUX} is required in CI`);
let kbtf: Btf | undefined;
const btf = () => {
  kbtf ??= parseBtf(new Uint8Array(readFileSync(VMLINUX)), VMLINUX);
  return kbtf;
};

/** Byte offset and size of `member` in the kernel's struct tcp_congestion_ops. */
function kernelMember(member: string): { offset: number; size: number } {
  const t = btfNamed(btf(), 'tcp_congestion_ops', Kind.STRUCT)!;
  if (t.kind !== Kind.STRUCT) throw new Error('no tcp_congestion_ops');
  const m = t.members.find((x) => x.name === member)!;
  return { offset: m.bitOffset / 8, size: btf().sizeof(m.type) };
}

/**
 * An object's tcp_congestion_ops of its own shape (members in another order, some missing): `name` (16
 * bytes) at 0, `ssthresh` at 16, and what `extra` adds.
 */
function spec(extra: StructOpsSpec['members'] = []): MapSpec {
  const value = new Uint8Array(64);
  value.set(new TextEncoder().encode('mine'), 0);
  return {
    name: 'mine',
    type: MapType.STRUCT_OPS,
    keySize: 4,
    valueSize: 64,
    maxEntries: 1,
    flags: 0,
    contents: [{ key: new Uint8Array(4), value }],
    structOps: {
      struct: 'tcp_congestion_ops',
      members: [
        { name: 'name', offset: 0, size: 16, funcPtr: false },
        { name: 'ssthresh', offset: 16, size: 8, funcPtr: true, program: 'p_ssthresh' },
        ...extra,
      ],
    },
  };
}

describe.skipIf(!haveBtf)("struct_ops values in the kernel's layout", () => {
  it('data at bpf_struct_ops_tcp_congestion_ops.data; name copied, the fd where ssthresh is, the rest zero', () => {
    const s = spec();
    const layout = structOpsLayout(s, btf());
    const vt = btfNamed(btf(), 'bpf_struct_ops_tcp_congestion_ops', Kind.STRUCT)!;
    expect(layout.valueTypeId).toBe(vt.id);
    expect(layout.valueSize).toBe(btf().sizeof(vt.id));
    const value = structOpsValue(s, layout, (p) => (p === 'p_ssthresh' ? 77 : undefined), btf());
    expect(value.length).toBe(layout.valueSize);
    const name = kernelMember('name');
    const ss = kernelMember('ssthresh');
    const at = layout.dataOffset;
    expect(new TextDecoder().decode(value.subarray(at + name.offset, at + name.offset + 4))).toBe('mine');
    expect(new DataView(value.buffer).getBigUint64(at + ss.offset, true)).toBe(77n);
    // Everything else is zero: 4 name bytes and one fd byte set.
    expect(value.reduce((n, b) => n + (b !== 0 ? 1 : 0), 0)).toBe(5);
  });

  it('a member the kernel lacks is skipped when empty, refused when set', () => {
    const empty = spec([{ name: 'not_in_kernel', offset: 24, size: 8, funcPtr: false }]);
    expect(() => structOpsValue(empty, structOpsLayout(empty, btf()), () => 3, btf())).not.toThrow();
    const set = spec([{ name: 'not_in_kernel', offset: 24, size: 8, funcPtr: true, program: 'x' }]);
    expect(() => structOpsValue(set, structOpsLayout(set, btf()), () => 3, btf())).toThrow(
      "struct_ops map mine: member not_in_kernel: the kernel's struct tcp_congestion_ops has no such member",
    );
  });

  it('kind and size mismatches, and a program not loaded, name map and member', () => {
    const kind = spec([{ name: 'flags', offset: 24, size: 8, funcPtr: true, program: 'p' }]);
    expect(() => structOpsValue(kind, structOpsLayout(kind, btf()), () => 3, btf())).toThrow(
      'struct_ops map mine: member flags: a function pointer in the object, data in the kernel',
    );
    const size = spec([{ name: 'flags', offset: 24, size: 8, funcPtr: false }]);
    expect(() => structOpsValue(size, structOpsLayout(size, btf()), () => 3, btf())).toThrow(
      `struct_ops map mine: member flags: 8 bytes in the object, ${kernelMember('flags').size} in the kernel's struct tcp_congestion_ops`,
    );
    const s = spec();
    expect(() => structOpsValue(s, structOpsLayout(s, btf()), () => undefined, btf())).toThrow(
      'struct_ops map mine: member ssthresh: its program p_ssthresh is not loaded',
    );
  });

  it('a struct without a struct_ops type in the kernel', () => {
    const s = { ...spec(), structOps: { struct: 'task_struct', members: [] } };
    expect(() => structOpsLayout(s, btf())).toThrow(
      'struct_ops map mine: the kernel has no struct_ops type task_struct (no struct bpf_struct_ops_task_struct in its BTF)',
    );
  });
});
