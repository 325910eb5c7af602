// The helpers of tunnel.ts, sock-casts.ts, syncookie.ts, cgroup-storage.ts, sock-calls.ts, syscall.ts,
// security.ts and trace-output.ts against the kernel's verifier: every program of the clang-built fixtures
// in test/fixtures/helpers2 (ok_* the kernel loads, bad_* it refuses: a helper of the wrong program or
// attach type, a NULL result not checked, a leaked reference, a bad size, a wrong map) is loaded by the
// kernel and by our verifier, and the verdicts and the reasons must be the same.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCollection } from '../../src/collection/load.js';
import { readObject } from '../../src/elf/index.js';
import '../../src/kernel/register.js';
import '../../src/node/core-target.js';
import { kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();
const FIXTURES = join(__dirname, '../fixtures/helpers2');
const FILES = ['casts', 'syncookie', 'cgroup', 'others'];

/** Our verdict's reason in the kernel's terms, from our verifier's message. */
function ourReason(message: string): string {
  if (/programs cannot call helper/.test(message)) return 'helper for type';
  if (/cannot be passed to/.test(message)) return 'map for helper';
  if (/reference leak|would never be released|still holds/.test(message)) return 'leak';
  if (/may be NULL/.test(message)) return 'NULL';
  if (/is a number .* not a pointer/.test(message)) return 'not a pointer';
  if (/must be 8-byte aligned/.test(message)) return 'misaligned';
  if (/argument \d of/.test(message)) return 'argument';
  if (/outside|past the end of the proven packet|reads up to byte \d+ of the/.test(message)) return 'memory';
  return message;
}

/** The kernel's reason, from its log. */
function kernelReason(log: string): string {
  if (/cannot use helper|ENOTSUPP|not allowed in probe/.test(log)) return 'helper for type';
  if (/cannot pass map_type/.test(log)) return 'map for helper';
  if (/reference leak|Unreleased reference/.test(log)) return 'leak';
  if (/invalid mem access '\w*or_null/.test(log)) return 'NULL';
  if (/invalid mem access 'scalar'/.test(log)) return 'not a pointer';
  if (/misaligned stack access/.test(log)) return 'misaligned';
  if (/R\d type=\S+ expected=/.test(log)) return 'argument';
  if (/invalid access to (packet|map value)|invalid (read|write|indirect read) (from|to) stack/.test(log))
    return 'memory';
  return log.trim().split('\n').slice(-3).join(' | ');
}

describe.runIf(oracle)('helpers2 fixtures: the kernel and our verifier agree', () => {
  const cases = FILES.flatMap((f) => {
    const spec = readObject(readFileSync(join(FIXTURES, `${f}.o`)));
    return spec.programs
      .filter((p) => /^(ok|bad)_/.test(p.name))
      .map((p) => [`${f}.o ${p.name} (${p.type})`, spec, p.name] as const);
  });

  it('has programs of both verdicts in every fixture', () => {
    for (const f of FILES) {
      const names = cases.filter((c) => c[0].startsWith(`${f}.o `)).map((c) => c[2]);
      expect(names.some((n) => n.startsWith('ok_')) && names.some((n) => n.startsWith('bad_')), f).toBe(true);
    }
  });

  it.each(cases)('%s', (_, spec, name) => {
    const verdict = (backend: 'kernel' | 'userspace') => {
      try {
        loadCollection(spec, { backend, programs: [name] }).close();
        return 'accepted';
      } catch (e) {
        const err = e as Error & { log?: string };
        return backend === 'kernel' ? kernelReason(err.log ?? err.message) : ourReason(err.message);
      }
    };
    const kernel = verdict('kernel');
    expect(kernel === 'accepted', `the kernel's verdict on ${name}: ${kernel}`).toBe(name.startsWith('ok_'));
    expect(verdict('userspace')).toBe(kernel);
  });
});
