// Runs a module of the built library the way a browser would: in a fresh JavaScript realm (node:vm) whose
// globals are only what browsers have — no require, process, Buffer or module resolution — with an ES
// module linker that loads files of dist/ (and the scenario itself) and refuses anything else: `node:`
// modules, packages, files outside dist/.
//   Usage: node --experimental-vm-modules run-in-context.mjs SCENARIO.js
// The scenario reads `globalThis.fixtures` (bytes a page would fetch) and prints with console.log; this
// script copies what it prints to stdout and exits 1 on any error, with the message.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = path.join(root, 'dist') + path.sep;
const scenario = path.resolve(process.argv[2] ?? '');
const fixtures = { udpDrop: 'examples/xdp/udp_drop.o', capture: 'examples/xdp/iperf.pcap' };

const context = vm.createContext({}, { name: 'browser-like realm' });
const host = {
  encode: (s) => new TextEncoder().encode(s),
  decode: (bytes, fatal) => new TextDecoder('utf-8', { fatal }).decode(bytes),
  now: () => performance.now(),
  print: (line) => process.stdout.write(`${line}\n`),
  bytes: (file) => readFileSync(path.join(root, file)),
};
// The Web APIs the core uses, defined inside the realm so that what they return belongs to it. This
// function is not called here: its source text is evaluated in the realm, where `globalThis` is the realm's.
function setUpRealm(host, fixtureFiles) {
  const copy = (b) => {
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b[i];
    return out;
  };
  const view = (b) =>
    ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
  globalThis.TextEncoder = class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(s = '') {
      return copy(host.encode(String(s)));
    }
  };
  globalThis.TextDecoder = class TextDecoder {
    constructor(_label = 'utf-8', options = {}) {
      this.fatal = !!options.fatal;
    }
    decode(b = new Uint8Array(0)) {
      return host.decode(copy(view(b)), this.fatal);
    }
  };
  const origin = host.now();
  globalThis.performance = { now: () => host.now() - origin, timeOrigin: Date.now() };
  globalThis.queueMicrotask = (f) => {
    Promise.resolve().then(f);
  };
  const line = (...a) => host.print(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
  globalThis.console = { log: line, info: line, warn: line, error: line, debug: () => {} };
  const entries = Object.entries(fixtureFiles).map(([k, f]) => [k, copy(host.bytes(f))]);
  globalThis.fixtures = Object.fromEntries(entries);
}
vm.runInContext(`(${setUpRealm})`, context)(host, fixtures);

const modules = new Map();
function moduleAt(file) {
  let m = modules.get(file);
  if (!m) {
    const url = pathToFileURL(file).href;
    m = new vm.SourceTextModule(readFileSync(file, 'utf8'), {
      identifier: url,
      context,
      initializeImportMeta(meta) {
        meta.url = url;
      },
    });
    modules.set(file, m);
  }
  return m;
}

function link(specifier, referencing) {
  const from = path.relative(root, fileURLToPath(referencing.identifier));
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
    throw new Error(`refused '${specifier}' imported by ${from}: a browser has no such module`);
  }
  const file = fileURLToPath(new URL(specifier, referencing.identifier));
  if (!file.startsWith(dist)) throw new Error(`refused '${specifier}' imported by ${from}: outside dist/`);
  return moduleAt(file);
}

try {
  const main = moduleAt(scenario);
  await main.link(link);
  await main.evaluate();
} catch (e) {
  process.stderr.write(`browser-like run failed: ${e?.stack ?? e}\n`);
  process.exit(1);
}
