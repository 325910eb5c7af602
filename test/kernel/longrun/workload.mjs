// The busy workload of longrun.test.ts: after "go" on stdin, open and close one file as fast as it can
// (each an openat(2) the tracer sees) until "stop", then print how many opens it made.
import { closeSync, openSync } from 'node:fs';

const path = process.argv[2];
let opens = 0;
let running = false;
const burst = () => {
  if (!running) return;
  for (let i = 0; i < 200; i++) {
    closeSync(openSync(path, 'r'));
    opens++;
  }
  setImmediate(burst);
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (d.includes('go') && !running) {
    running = true;
    burst();
  }
  if (d.includes('stop')) {
    running = false;
    process.stdout.write(`${opens}\n`);
    process.exit(0);
  }
});
