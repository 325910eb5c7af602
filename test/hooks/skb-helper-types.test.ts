// Which __sk_buff program types may call each skb helper: the registry's `programTypes` against the
// kernel's answer (a one-call program loaded per helper and type; "program of this type cannot use
// helper" means refused).
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
