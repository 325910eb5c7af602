// examples/kernel/biolatency against the kernel: 40 direct, synchronous 4 KiB writes (dd oflag=direct,dsync)
// to a file on the disk under /tmp, with the histogram limited to that disk: at least 40 requests are
// measured (the writes, plus their cache flushes and whatever else the machine writes there), each under
// a second; on a tmpfs /tmp (no disk) the test says so and fails in CI rather than pass silently.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { biolatency, deviceOf, formatHistogram, readHistogram } from '../../examples/kernel/biolatency.js';
import { progInfo } from '../../src/kernel/index.js';
import { exists } from '../kernel/attach/support.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

describe.skipIf(!oracle)('examples/kernel/biolatency', () => {
  it('40 direct synchronous writes: at least 40 requests of that disk measured, none over a second', async () => {
    const dir = mkdtempSync('/tmp/tsbpf-biolat-');
    try {
      expect(deviceOf(dir).major, `${dir} is not on a block device`).not.toBe(0);
      const tool = biolatency({ path: dir });
      const ids = [...tool.obj.programs.values()].map((p) => progInfo(p.fd).id);
      expect(ids).toHaveLength(2);
      let counts: bigint[];
      try {
        const dd = spawnSync(
          'dd',
          ['if=/dev/zero', `of=${dir}/data`, 'bs=4096', 'count=40', 'oflag=direct,dsync'],
          { encoding: 'utf8' },
        );
        expect(dd.status, dd.stderr).toBe(0);
        counts = readHistogram(tool);
      } finally {
        tool.stop();
      }
      const total = counts.reduce((a, b) => a + b, 0n);
      expect(total, formatHistogram(counts).join('\n')).toBeGreaterThanOrEqual(40n);
      expect(counts.slice(20).every((c) => c === 0n)).toBe(true);
      const deadline = Date.now() + 5000;
      while (ids.some((id) => exists('prog', id)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(ids.filter((id) => exists('prog', id))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
