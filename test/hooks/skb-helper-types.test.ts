// Which __sk_buff program types may call each skb helper: the registry's `programTypes` against the
// kernel's answer (a one-call program loaded per helper and type; "program of this type cannot use
// helper" means refused). And whether a call ends the life of packet pointers (`changesPacket`), for the
// helpers whose arguments may all be numbers: a tc program that reads through a packet pointer taken
// before the call is refused by the kernel exactly then.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { SKB_HELPERS } from '../../src/helpers/skb.js';
import { helperAllowed, programTypeByName } from '../../src/spec/program-types.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/**
 * Whether the kernel lets programs of type `type` call helper `id`: a one-call program is refused with
 * "cannot use helper" (or "unknown func") when not; other refusals are about its arguments.
 */
async function kernelAllows(type: number, id: number): Promise<boolean> {
  const { progLoad, close } = await import('../../src/kernel/index.js');
  try {
    close(progLoad({ type, insns: assemble(`r2 = 0\ncall ${id}\nr0 = 0\nexit`), license: 'GPL' }).fd);
    return true;
  } catch (e) {
    return !/cannot use helper|unknown func/.test((e as Error).message);
  }
}
const TYPES = [
  'socket_filter',
  'sched_cls',
  'sched_act',
  'cgroup_skb',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'sk_skb',
];

describe.skipIf(!oracle)('skb helpers: allowed program types', () => {
  for (const helper of SKB_HELPERS) {
    it(`${helper.name} (#${helper.id})`, async () => {
      const ours: string[] = [];
      const kernel: string[] = [];
      for (const name of TYPES) {
        const type = programTypeByName(name)!;
        if (helperAllowed(type, helper)) ours.push(name);
        if (await kernelAllows(type.kernel, helper.id)) kernel.push(name);
      }
      expect(ours.join(' '), `${helper.name}: types that may call it`).toBe(kernel.join(' '));
    });
  }
});

/** A tc program that keeps a packet pointer across a call of helper `id` (numbers as its arguments). */
const KEEPS_POINTER = (id: number) => `
  r6 = r1
  r2 = *(u32 *)(r6 + 76)
  r3 = *(u32 *)(r6 + 80)
  r4 = r2
  r4 += 1
  if r4 > r3 goto out
  r7 = r2
  r1 = r6
  r2 = 0
  r3 = 0
  r4 = 0
  r5 = 0
  call ${id}
  r0 = *(u8 *)(r7 + 0)
out:
  r0 = 0
  exit
`;

describe.skipIf(!oracle)('skb helpers: packet pointers across the call', () => {
  const numeric = SKB_HELPERS.filter(
    (h) =>
      h.programTypes?.includes('sched_cls') && h.proto.args.every((a) => a === 'ctx' || a === 'anything'),
  );
  for (const helper of numeric) {
    it(`${helper.name} (#${helper.id})`, async () => {
      const { progLoad, close } = await import('../../src/kernel/index.js');
      let kernelKeeps = true;
      try {
        close(progLoad({ type: 3, insns: assemble(KEEPS_POINTER(helper.id)), license: 'GPL' }).fd);
      } catch (e) {
        expect((e as Error).message).toMatch(/R7 invalid mem access/);
        kernelKeeps = false;
      }
      expect(!helper.proto.changesPacket, `${helper.name}: packet pointers survive the call`).toBe(
        kernelKeeps,
      );
    });
  }
});
