// Tunnel options and IPsec state (src/helpers/tunnel.ts) against the kernel: the clang-built tc program
// test/fixtures/helpers2/tunnel_opt.c run by BPF_PROG_TEST_RUN and by tsbpf on both engines over the
// bundled captures — each call's result (get/set_tunnel_opt before and after a key, bad sizes, the bytes
// read back, the key's flags after options, xfrm_state without a sec_path) must be the kernel's; and an
// lwt_xmit program's get_tunnel_opt (test/fixtures/helpers2/others.c ok_tunnel_lwt).
import { describe, expect, it } from 'vitest';
import { compareWithKernel, PACKETS } from '../hooks/tc-kernel.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

describe.runIf(oracle)('skb_get/set_tunnel_opt, skb_get_xfrm_state: tsbpf vs the kernel', () => {
  it('every call result over the captures, with and without a __sk_buff in', async () => {
    const packets = PACKETS.filter((_, i) => i % 8 === 0);
    expect(packets.length).toBeGreaterThan(20);
    expect(await compareWithKernel('test/fixtures/helpers2/tunnel_opt.o', 'tunnel_opt', packets)).toBe(
      packets.length * 2 * 2,
    );
  });

  it('lwt_xmit programs: get_tunnel_opt without tunnel metadata, as the kernel answers', async () => {
    const packets = PACKETS.filter((_, i) => i % 16 === 0);
    expect(
      await compareWithKernel('test/fixtures/helpers2/others.o', 'ok_tunnel_lwt', packets, [false]),
    ).toBe(packets.length * 2);
  });
});
