// bpf_sk_fullsock casts a socket: the result is the same socket or NULL, and a NULL result does not release
// the reference the argument holds (the kernel's pointer casts). Three programs on a socket from
// sk_lookup_tcp, our verdicts beside the kernel's: leaking the lookup's reference on the NULL path is
// refused; releasing it on both paths, or through the cast pointer, is accepted.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import * as kernel from '../../src/kernel/index.js';
import { verify } from '../../src/verifier/index.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/** r7 = sk_lookup_tcp(ctx, zeroed 12-byte tuple, current netns); on NULL straight to the exit (`out`). */
const LOOKUP = (out: number) => `
  r6 = r1
  r1 = 0
  *(u64 *)(r10 - 16) = r1
  *(u64 *)(r10 - 8) = r1
  r1 = r6
  r2 = r10
  r2 += -16
  r3 = 12
  r4 = -1
  r5 = 0
  call 84
  if r0 == 0 goto +${out}
  r7 = r0
  r1 = r0
  call 95`;

const PROGRAMS: [name: string, text: string, accepted: boolean][] = [
  // NULL from the cast: exits holding the lookup's reference.
  [
    'leak on a NULL cast',
    `${LOOKUP(6)}\n  if r0 == 0 goto +2\n  r1 = r7\n  call 86\n  r0 = 0\n  exit`,
    false,
  ],
  ['release on both paths', `${LOOKUP(5)}\n  r1 = r7\n  call 86\n  r0 = 0\n  exit`, true],
  [
    'release through the cast pointer',
    `${LOOKUP(9)}\n  if r0 == 0 goto +3\n  r1 = r0\n  call 86\n  goto +2\n  r1 = r7\n  call 86\n  r0 = 0\n  exit`,
    true,
  ],
];

describe('sk_fullsock', () => {
  for (const [name, text, accepted] of PROGRAMS) {
    it(`${name}: ${accepted ? 'accepted' : 'refused'}`, () => {
      const r = verify({
        name: 'p',
        section: 'tc',
        type: 'sched_cls',
        insns: assemble(text),
        license: 'GPL',
      });
      expect(r.accepted, r.diagnostics[0]?.message).toBe(accepted);
      if (!accepted) expect(r.diagnostics[0]?.kind).toBe('ref_leak');
    });
  }

  it.skipIf(!oracle)('the kernel gives the same verdicts (BPF_PROG_LOAD, sched_cls)', () => {
    for (const [name, text, accepted] of PROGRAMS) {
      let ok = true;
      try {
        kernel.close(kernel.progLoad({ type: 3, insns: assemble(text), license: 'GPL' }).fd);
      } catch (e) {
        if (!(e instanceof kernel.KernelError || e instanceof kernel.VerifierRejectedError)) throw e;
        ok = false;
      }
      expect(ok, name).toBe(accepted);
    }
  });
});
