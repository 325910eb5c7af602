// `tsbpf verify` end to end through the built CLI.

import { describe, expect, it } from 'vitest';
import { tsbpf } from '../cli/run-cli.js';

describe('tsbpf verify', () => {
  it('accepts a safe program with a one-line summary and exit 0', () => {
    const r = tsbpf(['verify', 'test/fixtures/verifier/in_bounds.bin', '--type', 'xdp']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^test\/fixtures\/verifier\/in_bounds\.bin: accepted, 9 insns processed, \d+ states, [\d.]+ ms\n$/,
    );
  });
  it('rejects with the reason and exit 1', () => {
    const r = tsbpf(['verify', 'test/fixtures/verifier/off_by_one.bin', '--type', 'xdp']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('insn 5: R2 may point 1 byte past the end of the proven packet');
    expect(r.stderr).toContain('5: r0 = *(u8 *)(r2 + 0xe)');
    expect(r.stderr).toContain('path: 4 not taken');
  });
  it('--json gives one object with accepted and diagnostics', () => {
    const r = tsbpf(['verify', 'test/fixtures/verifier/off_by_one.bin', '--type', 'xdp', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.accepted).toBe(false);
    expect(j.programs[0].diagnostics[0]).toMatchObject({ insn: 5, kind: 'pkt_bounds' });
  });
  it('--log-level 2 prints the per-instruction trace', () => {
    const r = tsbpf(['verify', 'test/fixtures/verifier/in_bounds.bin', '--type', 'xdp', '--log-level', '2']);
    expect(r.stdout).toContain(
      '4: if r4 > r3 goto +0x2    ; R1=ctx(off=0) R2=pkt(off=0,r=0) R3=pkt_end R4=pkt(off=14,r=0) R10=fp0',
    );
  });
  it('verifies ELF objects, picks a function, and maps source lines', () => {
    const ok = tsbpf(['verify', 'examples/xdp/udp_drop.o']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('xdp_udp_drop: accepted');
    const none = tsbpf(['verify', 'examples/xdp/udp_drop.o', '--function', 'nope']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no program in function 'nope'");
  });
  it('reports user errors without a stack trace', () => {
    const r = tsbpf(['verify', 'test/fixtures/verifier/in_bounds.bin']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tsbpf: .*raw bytecode needs --type/);
    const t = tsbpf(['verify', 'test/fixtures/verifier/in_bounds.bin', '--type', 'nonsense']);
    expect(t.stderr).toContain("unknown program type 'nonsense'");
    expect(tsbpf(['verify', 'no/such/file.o']).stderr).toContain('no such file');
  });
});
