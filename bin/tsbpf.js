#!/usr/bin/env node
// The `tsbpf` executable: runs src/cli/main.ts (built to dist/) and makes sure that whatever happens —
// an error in a command, an exception thrown from a callback, a failing standard output — the user sees
// one `tsbpf:` line and an exit code (docs/cli.md), never a stack trace unless --debug asked for it.

const debug = (() => {
  const args = process.argv.slice(2);
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--debug');
})();

function fail(line, code, err) {
  process.stderr.write(`tsbpf: ${line}\n`);
  if (debug && err?.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(code);
}

// A closed pipe (`tsbpf ... | head`) ends the output quietly, as other command-line tools do; any other
// failure to write standard output (a full disk) is an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  fail(`standard output: cannot write: ${err.code === 'ENOSPC' ? 'no space left on device' : err.message}`, 1, err);
});

let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  fail(`internal error: cannot load dist/cli/main.js (run npm run build): ${err?.message ?? err}`, 70, err);
}

// Thrown outside a command's own flow (a stream or timer callback): reported the same way.
const uncaught = (err) => {
  const code = cli.report(err, debug);
  process.exit(code);
};
process.on('uncaughtException', uncaught);
process.on('unhandledRejection', uncaught);

process.exitCode = await cli.main(process.argv);
