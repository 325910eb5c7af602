// One script, two back ends: the UDP-drop program (examples/xdp/udp_drop.c) loaded with
// `loadCollection(spec, { backend })`, where only `backend` changes — 'userspace' (a tsbpf runtime) or
// 'kernel' (the Linux kernel, as root). Two ways to feed it:
//   udpDrop(backend)         attach to a veth in a private network namespace and send real UDP datagrams
//                            from the peer namespace (as root: namespaces, the packet socket or bpf())
//   udpDropCapture(backend)  test-run every packet of a capture (no root for 'userspace')
// Both read the per-port `drops` map the same way, through its BTF types, and release everything.
// In your own code: `import { loadCollection, readObject } from 'tsbpf'` (under Node that entry registers
// the kernel back end and live interfaces for user space) and `import { readCapture } from 'tsbpf/pcap'`.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readCapture } from '../../src/net/index.js';
import { type BackendName, loadCollection, readObject } from '../../src/node/root.js';

const file = (name: string) => new Uint8Array(readFileSync(new URL(`../xdp/${name}`, import.meta.url)));

/** What the program counted, by destination port. */
export type Drops = Map<number, { packets: bigint; bytes: bigint }>;

/** A veth pair across two network namespaces: the program attaches to `dev`, datagrams come from the peer. */
export interface Veth {
  /** Namespace of `dev`. */
  netns: string;
  dev: string;
  /** Namespace the datagrams are sent from, to `address` (on `dev`). */
  peerNetns: string;
  address: string;
}

/** Datagrams sent per port by default: 5002 first, then 5001 (blocked by udp_drop.o). */
const DATAGRAMS: [port: number, count: number][] = [
  [5002, 4],
  [5001, 5],
];

/**
 * Load udp_drop.o on `backend`, attach it to `net.dev` (a veth of its own when none is given: created and
 * removed here), send `datagrams` from the peer namespace, and return the drop counters.
 */
export async function udpDrop(backend: BackendName, net?: Veth, datagrams = DATAGRAMS): Promise<Drops> {
  const own = net ? undefined : createVeth(`tsbpf-ex${process.pid}`);
  const veth = net ?? own!;
  try {
    const collection = loadCollection(readObject(file('udp_drop.o')), { backend });
    try {
      const link = collection.program('xdp_udp_drop').attachXdp(veth.dev, { netns: veth.netns });
      try {
        for (const [port, count] of datagrams) await send(veth, port, count);
        // The blocked port's datagrams went last: once all of them are counted, every frame before them has
        // been through the program too (the kernel counts as frames arrive; the user-space data path as the
        // event loop reads them from its socket).
        const drops = collection.typedMap<number, { packets: bigint; bytes: bigint }>('drops');
        const blocked = Number(collection.getGlobal('blocked_port'));
        const sent = BigInt(datagrams.find(([port]) => port === blocked)?.[1] ?? 0);
        await until(() => (drops.get(blocked)?.packets ?? 0n) >= sent, 5000);
        return new Map(drops);
      } finally {
        await link.close(); // the user-space data path settles once its sockets are closed
      }
    } finally {
      collection.close();
    }
  } finally {
    own?.remove();
  }
}

/** The same over a capture: every packet of examples/xdp/iperf.pcap test-run; the verdicts in order. */
export function udpDropCapture(backend: BackendName): { verdicts: number[]; drops: Drops } {
  const collection = loadCollection(readObject(file('udp_drop.o')), { backend });
  try {
    const program = collection.program('xdp_udp_drop');
    const verdicts = readCapture(file('iperf.pcap')).packets.map(
      (p) => program.run({ dataIn: p.data }).retval,
    );
    const drops = collection.typedMap<number, { packets: bigint; bytes: bigint }>('drops');
    return { verdicts, drops: new Map(drops) };
  } finally {
    collection.close();
  }
}

/** Wait until `done()` holds, checking every 10 ms, for at most `ms` milliseconds. */
async function until(done: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !done() && Date.now() < end; )
    await new Promise((r) => setTimeout(r, 10));
}

/** `count` datagrams to `port` from the peer namespace, sent by a child Node process living there. */
function send(net: Veth, port: number, count: number): Promise<void> {
  const script = `const s = require('node:dgram').createSocket('udp4');
let left = ${count};
const next = () => (left-- > 0 ? s.send('tsbpf', ${port}, '${net.address}', (e) => (e ? process.exit(1) : next())) : s.close());
next();`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', net.peerNetns, process.execPath, '-e', script], {
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`sending to port ${port} from ${net.peerNetns} failed (exit ${code})`));
    });
  });
}

/**
 * Two network namespaces `${tag}a` (the sender, 10.99.0.1) and `${tag}b` (vb, 10.99.0.2) joined by a veth
 * pair with static neighbours, so no ARP mixes with the datagrams. No interface of the machine is touched.
 */
export function createVeth(tag: string): Veth & { remove(): void } {
  const [a, b] = [`${tag}a`, `${tag}b`];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  const remove = () => {
    for (const ns of [a, b]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* never created */
      }
    }
  };
  try {
    ip('netns', 'add', a);
    ip('netns', 'add', b);
    ip(
      '-n',
      a,
      'link',
      'add',
      'va',
      'address',
      '02:00:00:00:00:0a',
      'type',
      'veth',
      'peer',
      'name',
      'vb',
      'netns',
      b,
    );
    ip('-n', b, 'link', 'set', 'vb', 'address', '02:00:00:00:00:0b');
    ip('-n', a, 'addr', 'add', '10.99.0.1/24', 'dev', 'va');
    ip('-n', b, 'addr', 'add', '10.99.0.2/24', 'dev', 'vb');
    for (const [ns, dev] of [
      [a, 'va'],
      [b, 'vb'],
    ] as const)
      ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', a, 'neigh', 'add', '10.99.0.2', 'lladdr', '02:00:00:00:00:0b', 'dev', 'va');
    ip('-n', b, 'neigh', 'add', '10.99.0.1', 'lladdr', '02:00:00:00:00:0a', 'dev', 'vb');
  } catch (e) {
    remove();
    throw e;
  }
  return { netns: b, dev: 'vb', peerNetns: a, address: '10.99.0.2', remove };
}

/** The capture on each back end asked for (user space needs no root), printed as drops per port. */
export function main(backends: BackendName[] = ['userspace'], print: (line: string) => void = console.log) {
  const results = new Map<BackendName, ReturnType<typeof udpDropCapture>>();
  for (const backend of backends) {
    const result = udpDropCapture(backend);
    results.set(backend, result);
    for (const [port, { packets, bytes }] of result.drops)
      print(`${backend}: port ${port}: ${packets} packets, ${bytes} bytes dropped`);
  }
  return results;
}
