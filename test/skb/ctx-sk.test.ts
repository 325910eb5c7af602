// ctx->sk in an skb test run (test/fixtures/tc/ctx_sk.c): the kernel hangs a fresh socket on the skb, of
// the packet's family with its addresses, in state TCP_CLOSE, no type, protocol, ports, mark or priority,
// rx_queue_mapping -1, a full socket but not a TCP one. Every field, the casts and the map slots against
// BPF_PROG_TEST_RUN over the bundled captures, on both engines, for a tc and a cgroup_skb program.
import { describe, expect, it } from 'vitest';
import { compareWithKernel } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

describe.skipIf(!oracle)('ctx->sk, the test run socket', () => {
  for (const program of ['tc_sk', 'cg_sk']) {
    it(`${program}: every bpf_sock field as BPF_PROG_TEST_RUN gives it`, async () => {
      expect(await compareWithKernel('test/fixtures/tc/ctx_sk.o', program)).toBeGreaterThan(100);
    });
  }
});
