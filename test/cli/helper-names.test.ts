// Errors name helpers (issue 16): "call to unknown helper bpf_fib_lookup (#69)", not "#69", in the
// verifier, in program preparation (unverified runs) and on the command line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/asm/index.js';
import { helperById } from '../../src/helpers/registry.js';
import { helperLabel, kernelHelperName } from '../../src/spec/helper-names.js';
import { verify } from '../../src/verifier/index.js';
import { Runtime } from '../../src/vm/index.js';
import { tsbpf, xdpObject } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-helpers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A helper the kernel defines and tsbpf does not implement (the first such id).
const id = Array.from({ length: 300 }, (_, i) => i + 1).find(
  (n) => kernelHelperName(n) !== undefined && helperById(n) === undefined,
);

describe('helpers named in errors', () => {
  it('helperLabel names kernel helpers and numbers the rest', () => {
    expect(helperLabel(69)).toBe('bpf_fib_lookup (#69)');
    expect(helperLabel(1)).toBe('bpf_map_lookup_elem (#1)');
    expect(helperLabel(100000)).toBe('#100000');
  });

  it('there is a kernel helper tsbpf lacks to test with', () => {
    expect(id).toBeDefined();
  });

  it('the verifier names it', () => {
    const r = verify({
      name: 'p',
      section: 'xdp',
      type: 'xdp',
      insns: assemble(`call ${id}\nr0 = 2\nexit`),
      license: 'GPL',
    });
    expect(r.accepted).toBe(false);
    expect(r.diagnostics[0]!.message).toBe(`call to unknown helper bpf_${kernelHelperName(id!)} (#${id})`);
  });

  it('preparing an unverified program names it; an id the kernel lacks stays a number', () => {
    const rt = new Runtime();
    expect(() => rt.prepare(assemble(`call ${id}\nexit`))).toThrow(
      `call to unknown helper function bpf_${kernelHelperName(id!)} (#${id})`,
    );
    expect(() => rt.prepare(assemble('call 100000\nexit'))).toThrow('call to unknown helper function 100000');
  });

  it('the command line says it in one line', () => {
    const obj = xdpObject(dir, 'unknown_helper', `call ${id}\nr0 = 2\nexit`);
    const r = tsbpf(['verify', obj]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`call to unknown helper bpf_${kernelHelperName(id!)} (#${id})`);
  });
});
