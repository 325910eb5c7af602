// A helper that returns or takes a pointer typed by the kernel's BTF gets the kernel's BTF, whatever the
// program type (src/verifier/index.ts takesBtfPointer): a perf_event program calling
// bpf_get_current_task_btf (RET_PTR_TO_BTF_ID, never NULL) reads the task's fields, accepted as the kernel
// accepts it (libbpf-bootstrap profile's wprof_tick was refused for want of the BTF).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readObject } from '../../src/node/root.js';
import { verify } from '../../src/verifier/index.js';
import { kernelLoad } from '../corpus/measure.js';
import { kernelOracle } from '../support/kernel.js';

const FILE = 'a_task_btf.o';

describe('helpers returning BTF pointers', () => {
  it('a_task_btf.o (perf_event, get_current_task_btf): accepted as by the kernel, typed by its BTF', () => {
    const spec = readObject(
      new Uint8Array(readFileSync(new URL(`../fixtures/rodata/${FILE}`, import.meta.url))),
      {
        file: FILE,
      },
    );
    const r = verify(spec.programs[0]!, { maps: spec.maps, logLevel: 2 });
    expect(r.accepted, r.log).toBe(true);
    // R0 after the call is the typed task pointer, not an unknown struct.
    expect(r.log).toMatch(/R0=\w*task_struct/);
    if (!kernelOracle()) return;
    const k = kernelLoad(`../rodata/${FILE}`);
    try {
      expect([...k.verdicts.values()][0]?.verdict).toBe('accept');
    } finally {
      k.release();
    }
  });
});
