// struct_ops in the ELF reader (src/elf/struct-ops.ts): each `.struct_ops` / `.struct_ops.link` variable
// becomes a STRUCT_OPS map named after it, its value the struct's bytes with the function-pointer slots
// cleared, and each program its member points at gets the target `struct.member`. What libbpf refuses when
// it opens an object (a relocation to what is not a program, a non-function-pointer member pointing at a
// program, one program for two members) is a one-line error naming the map and the member.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readObject } from '../../src/elf/index.js';
import { FormatError } from '../../src/errors.js';
import { MapType } from '../../src/spec/maps.js';

const read = (dir: string, file: string) =>
  readObject(new Uint8Array(readFileSync(new URL(`../fixtures/${dir}/${file}`, import.meta.url))), {
    file,
  });

describe('struct_ops maps from the ELF object', () => {
  it('tcp_cc.o: one STRUCT_OPS map named after its variable, its members naming the four programs', () => {
    const spec = read('corpus', 'tcp_cc.o');
    const maps = spec.maps.filter((m) => m.type === MapType.STRUCT_OPS);
    expect(maps.map((m) => m.name)).toEqual(['corpus_reno']);
    const m = maps[0]!;
    expect(m).toMatchObject({ keySize: 4, maxEntries: 1, flags: 0 });
    expect(spec.btf!.typeName(m.btfValueTypeId!)).toBe('struct tcp_congestion_ops');
    expect(m.valueSize).toBe(spec.btf!.sizeof(m.btfValueTypeId!));
    expect(m.structOps?.struct).toBe('tcp_congestion_ops');
    const named = Object.fromEntries(
      m.structOps!.members.filter((x) => x.program).map((x) => [x.name, x.program]),
    );
    expect(named).toEqual({
      init: 'reno_init',
      ssthresh: 'reno_ssthresh',
      cong_avoid: 'reno_cong_avoid',
      undo_cwnd: 'reno_undo_cwnd',
    });
    // The initial value: `name` as written, the function-pointer slots cleared for the loader.
    const value = m.contents![0]!.value;
    const name = m.structOps!.members.find((x) => x.name === 'name')!;
    expect(new TextDecoder().decode(value.subarray(name.offset, name.offset + 11))).toBe('corpus_reno');
    for (const x of m.structOps!.members.filter((y) => y.program))
      expect([...value.subarray(x.offset, x.offset + 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Object.fromEntries(spec.programs.map((p) => [p.name, p.attachTo]))).toEqual({
      reno_init: 'tcp_congestion_ops.init',
      reno_ssthresh: 'tcp_congestion_ops.ssthresh',
      reno_cong_avoid: 'tcp_congestion_ops.cong_avoid',
      reno_undo_cwnd: 'tcp_congestion_ops.undo_cwnd',
    });
  });

  it('.struct_ops.link marks the map BPF_F_LINK; members matched by name whatever their order', () => {
    const spec = read('struct-ops', 'cc_link.o');
    const m = spec.maps.find((x) => x.name === 'tsbpf_lk')!;
    expect(m.type).toBe(MapType.STRUCT_OPS);
    expect(m.flags).toBe(1 << 13);
    expect(spec.programs.find((p) => p.name === 'lk_ssthresh')?.attachTo).toBe('tcp_congestion_ops.ssthresh');
    // The global data map comes before the struct_ops map, as libbpf orders them.
    expect(spec.maps.map((x) => x.name)).toEqual(['.bss', 'tsbpf_lk']);
  });

  it('two maps may share a program through the same member (libbpf allows it)', () => {
    const spec = read('struct-ops', 'shared.o');
    const named = (map: string) =>
      spec.maps
        .find((m) => m.name === map)!
        .structOps!.members.filter((x) => x.program)
        .map((x) => `${x.name}=${x.program}`);
    expect(named('tsbpf_sh1')).toEqual(['ssthresh=sh_ssthresh', 'cong_avoid=sh_avoid', 'undo_cwnd=sh_undo']);
    expect(named('tsbpf_sh2')).toEqual(named('tsbpf_sh1'));
    expect(spec.programs.find((p) => p.name === 'sh_ssthresh')?.attachTo).toBe('tcp_congestion_ops.ssthresh');
  });

  it('a struct the kernel may lack still reads: the target names its struct and member', () => {
    const spec = read('struct-ops', 'unknown_struct.o');
    expect(spec.maps.find((x) => x.name === 'tsbpf_unknown')?.structOps?.struct).toBe('tsbpf_ops');
    expect(spec.programs[0]?.attachTo).toBe('tsbpf_ops.op');
  });

  it.each([
    [
      'bad_target.o',
      'struct_ops map tsbpf_bt_owner, member owner: relocation to bt_ssthresh, but the member is not a function pointer',
    ],
    ['bad_data.o', /struct_ops map tsbpf_bd, member cong_avoid: .*not_a_program.* is not a program/],
    [
      'twice.o',
      'struct_ops map tsbpf_tw, member undo_cwnd: program tw_both already implements tcp_congestion_ops.ssthresh (map tsbpf_tw); a struct_ops program serves one member of one struct',
    ],
  ])('%s is refused in one line naming map and member', (file, why) => {
    let err: unknown;
    try {
      read('struct-ops', file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    const msg = (err as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    if (typeof why === 'string') expect(msg).toContain(why);
    else expect(msg).toMatch(why);
  });
});
