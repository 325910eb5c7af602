#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A closed pipe (`tsbpf ... | head`) ends the output quietly, as other command-line tools do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tsbpf: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
