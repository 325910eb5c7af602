// The corpus measure's reading of what the kernel and tsbpf say, on logs and messages as they come (no
// kernel needed): the complaint line of a verifier log, refusal reasons grouped by cause, and the totals.
import { describe, expect, it } from 'vitest';
import { groupReason, logReason, MISSING_FEATURE, type Row, summarize } from './measure.js';

describe('logReason', () => {
  it('takes the line after the last instruction, skipping statistics', () => {
    const log = [
      '20: (b4) w0 = 0                       ; R0=0 refs=2',
      '21: (95) exit',
      'Unreleased reference id=2 alloc_insn=4',
      'BPF_EXIT instruction in main prog would lead to reference leak',
      'verification time 177 usec',
      'stack depth 0',
      'processed 23 insns (limit 1000000) max_states_per_insn 0 total_states 2 peak_states 2 mark_read 0',
    ];
    expect(logReason(log)).toBe('Unreleased reference id=2 alloc_insn=4');
  });

  it('skips the precision-tracking trace and the states an infinite loop compares', () => {
    expect(
      logReason([
        '4: (95) exit',
        'mark_precise: frame0: last_idx 4 first_idx 0 subseq_idx -1',
        'mark_precise: frame0: regs=r0 stack= before 3: (b4) w0 = -1',
        'At program exit the register R0 has smin=4294967295 smax=4294967295 should have been in [0, 1]',
        'processed 5 insns (limit 1000000)',
      ]),
    ).toBe('At program exit the register R0 has smin=4294967295 smax=4294967295 should have been in [0, 1]');
    expect(
      logReason([
        '23: (05) goto pc-1',
        'infinite loop detected at insn 23',
        'cur state: R0=map_value(map=pool,ks=4,vs=128) R10=fp0',
        'old state: R0=map_value(map=pool,ks=4,vs=128) R10=fp0',
      ]),
    ).toBe('infinite loop detected at insn 23');
  });
});

describe('groupReason', () => {
  it('groups by cause: no file, program, section, instruction, register or byte position', () => {
    const a = groupReason(
      'kfunc_task.o: section tp_btf/task_newtask: instruction 6: call to extern function bpf_cpumask_create (kfuncs are unsupported) (program track_new_task) (at byte 72)',
    );
    expect(a).toBe('call to extern function bpf_cpumask_create (kfuncs are unsupported)');
    expect(
      groupReason('program lb: R2 passes 16 bytes at fp-16 to the helper, but fp-8 was never written'),
    ).toBe(
      groupReason('program nat: R3 passes 16 bytes at fp-32 to the helper, but fp-24 was never written'),
    );
  });

  it('keeps what says what is missing: helper names and numbers, map types, symbols', () => {
    expect(groupReason('program tune: call to unknown helper bpf_setsockopt (#49)')).toBe(
      'call to unknown helper bpf_setsockopt (#49)',
    );
    expect(groupReason("map 'stackmap': map type 7 is not supported")).toBe(
      "map '…': map type 7 is not supported",
    );
    expect(groupReason('program tick: instruction 3: symbol LINUX_KERNEL_VERSION is undefined')).toBe(
      'symbol LINUX_KERNEL_VERSION is undefined',
    );
  });
});

describe('summarize', () => {
  const row = (over: Partial<Row>): Row => ({
    object: 'x.o',
    program: 'p',
    kernel: 'accept',
    tsbpf: 'accept',
    agree: 'yes',
    type: 'xdp',
    ...over,
  });

  it('counts the share of kernel-accepted programs, the unsound ones and the early rejections', () => {
    const t = summarize([
      row({ program: 'a' }),
      row({
        program: 'b',
        tsbpf: 'reject',
        tsbpfReason: 'program b: call to unknown helper bpf_x (#9)',
        agree: 'no',
      }),
      row({
        program: 'c',
        type: 'sched_cls',
        tsbpf: 'reject',
        tsbpfReason: 'program c: call to unknown helper bpf_x (#9)',
        agree: 'no',
      }),
      row({
        program: 'd',
        kernel: 'reject',
        kernelReason: 'R0 invalid mem access',
        tsbpf: 'accept',
        agree: 'no',
      }),
      row({ program: 'e', kernel: 'reject', tsbpf: 'reject', tsbpfReason: 'spin locks are not supported' }),
      row({ program: 'f', kernel: 'unavailable', tsbpf: 'accept', agree: 'n/a' }),
    ]);
    expect(t.kernelAccepted).toBe(3);
    expect(t.bothAccept).toBe(1);
    expect(t.acceptedShare).toBeCloseTo(1 / 3);
    expect(t.kernelUndecided).toBe(1);
    expect(t.unsound).toEqual(['x.o:d']);
    expect(t.bothReject).toBe(1);
    expect(t.earlyRejections).toEqual(['x.o:e']);
    expect(t.refusals).toEqual([['call to unknown helper bpf_x (#9)', 2]]);
    expect(t.byType).toEqual({
      xdp: { kernelAccepted: 2, tsbpfAccepted: 1 },
      sched_cls: { kernelAccepted: 1, tsbpfAccepted: 0 },
    });
  });

  it('tells a missing feature from a program error', () => {
    expect(MISSING_FEATURE.test('call to unknown helper bpf_timer_init (#169)')).toBe(true);
    expect(MISSING_FEATURE.test('R0 may be NULL (map_value_or_null): compare it with 0')).toBe(false);
  });
});
