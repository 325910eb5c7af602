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

// Every helper of the kernel's list is implemented (issue 16), so a helper is named in errors through a program
// type that may not call it: skb_load_bytes (#26) in an XDP program.
const NOT_IN_XDP = 26;

describe('helpers named in errors', () => {
  it('helperLabel names kernel helpers and numbers the rest', () => {
    expect(helperLabel(69)).toBe('bpf_fib_lookup (#69)');
    expect(helperLabel(1)).toBe('bpf_map_lookup_elem (#1)');
    expect(helperLabel(100000)).toBe('#100000');
  });

  it("every helper of the kernel's list is in the registry", () => {
    const missing = Array.from({ length: 300 }, (_, i) => i + 1).filter(
      (n) => kernelHelperName(n) !== undefined && helperById(n) === undefined,
    );
    expect(missing).toEqual([]);
  });

  it('the verifier names a helper the program type may not call', () => {
    const r = verify({
      name: 'p',
      section: 'xdp',
      type: 'xdp',
      insns: assemble(`call ${NOT_IN_XDP}\nr0 = 2\nexit`),
      license: 'GPL',
    });
    expect(r.accepted).toBe(false);
    expect(r.diagnostics[0]!.message).toBe(
      `xdp programs cannot call helper ${kernelHelperName(NOT_IN_XDP)} (#${NOT_IN_XDP})`,
    );
  });

  it('preparing an unverified program with an id the kernel lacks says the number', () => {
    const rt = new Runtime();
    expect(() => rt.prepare(assemble('call 100000\nexit'))).toThrow('call to unknown helper function 100000');
  });

  it('the command line says it in one line', () => {
    const obj = xdpObject(dir, 'not_in_xdp', `call ${NOT_IN_XDP}\nr0 = 2\nexit`);
    const r = tsbpf(['verify', obj]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`xdp programs cannot call helper skb_load_bytes (#${NOT_IN_XDP})`);
  });
});
