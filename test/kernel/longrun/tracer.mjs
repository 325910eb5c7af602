// The long-running tracer of longrun.test.ts, a separate process as a user's would be: the opensnoop
// example object (tracepoint syscalls/sys_enter_openat + ring buffer) loaded through the built library
// (dist/), attached, its ring buffer drained every 20 ms until SIGINT or SIGTERM; then everything is
// closed and one JSON line says what was read. Arguments: the pid whose opens are traced, and the path
// whose records are counted apart (`matched`: the workload's own opens, not node's other files).
import { setGlobal } from '../../../dist/index.js';
import { loadKernelObject, mapInfo, progInfo } from '../../../dist/kernel/index.js';
import { readObjectFile, ringBuffer } from '../../../dist/node/index.js';

const object = new URL('../../../examples/kernel/opensnoop.bpf.o', import.meta.url).pathname;
const pid = Number(process.argv[2]);
const wanted = new TextEncoder().encode(`${process.argv[3]}\0`);
const spec = readObjectFile(object);
setGlobal(spec, 'target_tgid', pid);
const obj = loadKernelObject(spec, { objectName: 'longrun' });
const links = obj.attachAll();
const ring = ringBuffer(obj, 'events');
let events = 0;
let bytes = 0;
let matched = 0;
/** struct open_event: the path at offset 32. */
const isWanted = (r) => wanted.every((b, i) => r[32 + i] === b);
const drain = () =>
  ring.drain((r) => {
    events++;
    bytes += r.length;
    if (isWanted(r)) matched++;
  });
const timer = setInterval(drain, 20);
const ids = {
  prog: [...obj.programs.values()].map((p) => progInfo(p.fd).id),
  map: [...obj.maps.values()].map((m) => mapInfo(m.fd).id),
  link: links.map((l) => l.id),
};
process.stdout.write(`${JSON.stringify({ ready: true, ids })}\n`);

const stop = (signal) => {
  clearInterval(timer);
  drain();
  const dropped = Number(obj.getGlobal('dropped'));
  for (const l of links) l.close();
  ring.close();
  obj.close();
  process.stdout.write(`${JSON.stringify({ signal, events, matched, bytes, dropped })}\n`);
  // Nothing is left to keep the loop alive: the process exits 0 by itself.
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
