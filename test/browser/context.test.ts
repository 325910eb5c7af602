// The core runs in a browser: the built library (dist/) is loaded into a realm with only Web globals by
// ./run-in-context.mjs, whose module linker refuses `node:` modules, packages and files outside dist/.
// The scenario there assembles, verifies and runs a program on both engines, loads the clang-compiled
// reference object and runs it over the capture; its answers are checked here against the capture itself.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { capturePackets, udpTo } from '../api/support/capture.js';

const here = fileURLToPath(new URL('.', import.meta.url));

function runInRealm(scenario: string): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(
      process.execPath,
      ['--experimental-vm-modules', '--no-warnings', `${here}run-in-context.mjs`, `${here}${scenario}`],
      { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 },
    );
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('the core in a browser-like realm', () => {
  it('assembles, verifies and runs programs on both engines, and loads objects, without Node', () => {
    const run = runInRealm('scenario.js');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.env).toEqual({
      require: 'undefined',
      process: 'undefined',
      Buffer: 'undefined',
      window: 'undefined',
      WebAssembly: 'object',
    });
    expect(out.accepted).toBe(true);
    // 60-byte frame: class 0, dropped; 100: class 0, passed; 1400: class 1, passed.
    const want = {
      retvals: [1, 2, 2],
      counts: [
        [0, '2'],
        [1, '1'],
      ],
    };
    expect(out.engines.interp).toEqual({ ...want, jit: false });
    expect(out.engines.jit).toEqual({ ...want, jit: true });
    const drops = udpTo(5002);
    const dropped = {
      dropped: drops.indices.length,
      packets: String(drops.packets),
      bytes: String(drops.bytes),
    };
    expect(out.udpDrop).toEqual({ interp: dropped, jit: dropped });
    expect(out.packets).toBe(capturePackets().length);
    expect(out.filtered).toBe(udpTo(5001).indices.length);
    expect(out.roundTrip).toBe(true);
  });

  it('refuses a module that imports Node built-ins', () => {
    const run = runInRealm('refused.js');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/refused 'node:fs' imported by dist\/cli\/objects\.js/);
    expect(run.stdout).toBe('');
  });
});
