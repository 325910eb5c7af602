// Verdicts on callbacks, timers, dynptrs and spin locks, kernel as the oracle (issue 16): every object of
// test/fixtures/callbacks loaded by libbpf (bpftool prog loadall) and by tsbpf (each program alone). ok_*
// objects both accept; each bad_* object both refuse, and tsbpf for the reason the fixture is about (its
// message here), never for a missing feature. The corpus objects this work concerns are held to the same.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCollection, readObject } from '../../src/node/root.js';
import { kernelLoad, tsbpfLoad } from '../corpus/measure.js';
import { kernelOracle } from '../support/kernel.js';

const lib = { readObject, loadCollection };
const DIR = new URL('../fixtures/callbacks/', import.meta.url);

/** Why tsbpf must refuse each bad_* fixture (a piece of its message). */
const WHY: Record<string, string> = {
  'bad_drain_ret.o': 'a bpf_user_ringbuf_drain callback must return 0 or 1, but R0 may be 5',
  'bad_drain_release.o': 'must point to a struct bpf_dynptr on the stack, but it is dynptr_ptr(local)',
  'bad_dynptr_bytes.o': 'reads the bytes of the dynptr at fp-',
  'bad_dynptr_overwritten.o': 'argument 3 of dynptr_read (R3) must point to an initialised dynptr',
  'bad_dynptr_from_pkt.o': 'the memory of bpf_dynptr_from_mem (R1) must be a map value, but it is pkt(',
  'bad_dynptr_from_stack.o': 'the memory of bpf_dynptr_from_mem (R1) must be a map value, but it is fp-',
  'bad_dynptr_kind.o': 'must be a ringbuf dynptr, but it is a local one',
  'bad_dynptr_overwrite.o': 'overwrites the referenced dynptr at fp-',
  'bad_dynptr_slice.o': 'R6 is a number (scalar(umin=1)), not a pointer',
  'bad_dynptr_twice.o': 'this overwrites the referenced dynptr at fp-16',
  'bad_dynptr_uaf.o': 'must point to an initialised dynptr',
  'bad_dynptr_varlen.o': 'the length passed to dynptr_data (R3) must be a known constant',
  'bad_find_vma_ret.o': 'a bpf_find_vma callback must return 0 or 1, but R0 may be 2',
  'bad_foreach_key.o': 'R2 points to read-only memory',
  'bad_foreach_ret.o': 'a bpf_for_each_map_elem callback must return 0 or 1, but R0 may be 2',
  'bad_lock_call.o': 'ktime_get_ns is called while holding the bpf_spin_lock',
  'bad_lock_access.o': 'reaches its bpf_spin_lock at 16: it cannot be accessed directly by load/store',
  'bad_lock_global.o': 'a call to the global function at',
  'bad_lock_ldabs.o': 'LD_ABS/LD_IND while holding the bpf_spin_lock',
  'bad_lock_helper.o': 'reaches its bpf_spin_lock at 16',
  'bad_loop_leak.o': 'reference leak',
  'bad_timer_access.o': 'reaches its bpf_timer at 0: it cannot be accessed directly by load/store',
  'bad_timer_leak.o': 'the bpf_timer_set_callback callback returns holding a reference it acquired at line 8',
  'bad_timer_map.o': "the timer in R1 is in map 'elems', but R2 is map 'others'",
  'bad_timer_nofield.o': "map 'plain' has no struct bpf_timer in its value",
  'bad_timer_offset.o': "points at offset 24 of the value of map 'elems', but its struct bpf_timer is at 0",
  'bad_timer_ret.o': 'a bpf_timer_set_callback callback must return 0, but R0 may be 1',
  'bad_timer_stack.o': 'must point to a struct bpf_timer in a map value, but it is fp-',
};

/** Corpus objects the callback work decides, and what tsbpf must say of them. */
const CORPUS: Record<string, { verdict: 'accept' | 'reject'; why?: string }> = {
  'conntrack.o': { verdict: 'accept' },
  'dynptr_rb.o': { verdict: 'accept' },
  'modern_maps.o': { verdict: 'accept' },
  'reject_dynptr_leak.o': {
    verdict: 'reject',
    why: 'neither submitted nor discarded on this path (reference leak)',
  },
  'reject_callback_ret.o': {
    verdict: 'reject',
    why: 'a bpf_loop callback must return 0 or 1, but R0 may be 2',
  },
  'reject_spin_lock.o': { verdict: 'reject', why: 'exit while holding the bpf_spin_lock' },
};

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.o'))
  .sort();

describe('every bad_* fixture has its reason written down', () => {
  it('and every reason a fixture', () => {
    expect(fixtures.filter((f) => f.startsWith('bad_'))).toEqual(Object.keys(WHY).sort());
  });
});

describe.runIf(kernelOracle())('verdicts as the kernel gives them', () => {
  for (const file of fixtures) {
    it(file, () => {
      const k = kernelLoad(`../callbacks/${file}`);
      try {
        const t = tsbpfLoad(lib, `../callbacks/${file}`);
        expect(t.objectError).toBeUndefined();
        expect([...t.verdicts.keys()].sort()).toEqual([...k.verdicts.keys()].sort());
        for (const [name, kv] of k.verdicts) {
          const tv = t.verdicts.get(name)!;
          expect(kv.verdict, `kernel on ${file}:${name}: ${kv.reason ?? ''}`).toBe(
            file.startsWith('ok_') ? 'accept' : 'reject',
          );
          expect(tv.verdict, `tsbpf on ${file}:${name}: ${tv.reason ?? ''}`).toBe(kv.verdict);
          if (tv.verdict === 'reject') expect(tv.reason).toContain(WHY[file]);
        }
      } finally {
        k.release();
      }
    });
  }

  for (const [file, want] of Object.entries(CORPUS)) {
    it(`corpus ${file}`, () => {
      const k = kernelLoad(file);
      try {
        const t = tsbpfLoad(lib, file);
        for (const [name, kv] of k.verdicts) {
          expect(kv.verdict, `kernel on ${file}:${name}`).toBe(want.verdict);
          const tv = t.verdicts.get(name)!;
          expect(tv.verdict, `tsbpf on ${file}:${name}: ${tv.reason ?? ''}`).toBe(want.verdict);
          if (want.why) expect(tv.reason).toContain(want.why);
        }
      } finally {
        k.release();
      }
    });
  }
});
