// `tsbpf map list|dump|set`: the maps of an object as its loader would create them — types and sizes, the
// initial contents (global data, BTF-declared values), and a way to change those contents in the object
// file itself (set `.rodata` constants before anyone loads it). On the running kernel (./kernel-inspect.ts):
// `map list` without an object, `map show`, and `map dump|lookup|update|delete` on `id N` / `pinned PATH`.

import type { Command } from 'commander';
import type { Btf } from '../../btf/index.js';
import { loadObject } from '../../collection/userspace.js';
import { writeObject } from '../../elf/index.js';
import { mapTypeInfo } from '../../maps/registry.js';
import { CliError, EXIT } from '../errors.js';
import { Files, writing } from '../files.js';
import {
  bytesToHex,
  cliRuntime,
  dumpMap,
  hexToBytes,
  jsonSafe,
  readObjectFile,
  type SizeFlags,
  sizeMaps,
  sizeOptions,
} from '../objects.js';
import { isSelector, mapDump, mapElement, mapShow } from './kernel-inspect.js';

/** `--pid N` of map dump: a positive process id. */
function stackPid(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text))
    throw new CliError(`map dump: --pid '${text}' is not a process id`, EXIT.usage);
  return Number(text);
}

export function register(program: Command): void {
  const map = program.command('map').description('inspect and edit the maps of an object (like bpftool map)');
  map
    .command('list')
    .description(
      "list the maps of an object (name, type, key/value size, max entries, flags), or without one the kernel's",
    )
    .argument('[prog.o]', 'ELF object (none: every map in the kernel, as map show)')
    .option('--json', 'one JSON array')
    .action((file: string | undefined, o: { json?: boolean }) => {
      if (file === undefined) return mapShow([], o.json === true);
      const maps = readObjectFile(file).maps.map((m) => ({
        name: m.name,
        type: mapTypeInfo(m.type)?.name ?? `type ${m.type}`,
        key_size: m.keySize,
        value_size: m.valueSize,
        max_entries: m.maxEntries,
        flags: m.flags,
      }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify(maps)}\n`);
        return;
      }
      for (const m of maps) {
        process.stdout.write(
          `${m.name}: ${m.type}  key ${m.key_size}B  value ${m.value_size}B  max_entries ${m.max_entries}  flags 0x${m.flags.toString(16)}\n`,
        );
      }
    });
  map
    .command('show')
    .description("show the kernel's maps as bpftool map show: every one, or id N, or pinned PATH")
    .argument('[selector...]', 'id N | pinned PATH (none: every map)')
    .option('--json', 'as bpftool -j')
    .action((words: string[], o: { json?: boolean }) => mapShow(words, o.json === true));
  const dump = map
    .command('dump')
    .description(
      "print a map's contents: an object's after load (its initial contents), or a kernel map's (id N, pinned PATH); BTF-formatted when possible",
    )
    .argument('<prog.o>', 'ELF object, or id / pinned')
    .argument('<name>', 'map name (.rodata, .data, .bss for global data), or the id / path')
    .option('--json', 'one JSON array of {key, value[, formatted]} (stack_trace maps: {key, value, frames})')
    .option('--pid <n>', 'stack_trace maps: the process whose user addresses the stacks hold');
  sizeOptions(dump).action((file: string, name: string, o: { json?: boolean; pid?: string } & SizeFlags) => {
    if (isSelector(file)) return mapDump([file, name], o.json === true, { pid: stackPid(o.pid) });
    const spec = readObjectFile(file);
    sizeMaps(spec, o);
    const obj = loadObject(spec, {
      verify: false,
      programs: [],
      runtimeOptions: cliRuntime(o.cpus),
    });
    const entries = dumpMap(obj.map(name), obj.spec.btf as Btf | undefined, obj.runtime.cpus);
    if (o.json) {
      process.stdout.write(`${JSON.stringify(entries.map((e) => jsonSafe(e)))}\n`);
      return;
    }
    for (const e of entries) {
      const shown = e.formatted
        ? `${JSON.stringify(e.formatted.key)}: ${JSON.stringify(e.formatted.value)}`
        : '';
      process.stdout.write(
        `key: ${e.key}  value: ${e.value ?? e.values?.join(' ')}${shown ? `  (${shown})` : ''}\n`,
      );
    }
  });
  for (const op of ['lookup', 'update', 'delete'] as const) {
    const usage = op === 'update' ? 'key BYTES value BYTES [any|exist|noexist]' : 'key BYTES';
    map
      .command(op)
      .description(
        `${op} an element of a kernel map: (id N | pinned PATH) ${usage}; BYTES: hex B…, bytes (decimal or 0x), or one value of the map's BTF type (JSON)`,
      )
      .argument('<words...>', `id N | pinned PATH, then ${usage}`)
      .option('--json', 'as bpftool -j')
      .action((words: string[], o: { json?: boolean }) => mapElement(op, words, o.json === true));
  }
  map
    .command('set')
    .description("set a map's initial contents in the object file: KEY=VALUE, hex bytes in memory order")
    .argument('<prog.o>', 'ELF object')
    .argument('<name>', 'map name')
    .argument('<entries...>', 'KEY=VALUE (a shorter VALUE overwrites the start of the existing value)')
    .requiredOption(
      '-o, --output <file>',
      'object to write (may be <prog.o> itself: replaced only on success)',
    )
    .action((file: string, name: string, entries: string[], o: { output: string }) => {
      // Editing the object in place is allowed: it is read whole first, and the new one replaces it by a
      // rename only once written, so a failure leaves it as it was.
      const files = new Files().input(file, 'object').output(o.output, '-o', { replaces: 'object' });
      writing(files, () => setEntries(file, name, entries, files));
      process.stdout.write(`wrote ${o.output}\n`);
    });
}

function setEntries(file: string, name: string, entries: string[], files: Files): void {
  const spec = readObjectFile(file);
  const m = spec.maps.find((x) => x.name === name);
  if (!m) throw new CliError(`${file}: no map '${name}' (maps: ${spec.maps.map((x) => x.name).join(', ')})`);
  // Check the whole result the way a loader would before writing anything.
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new CliError(`map set: expected KEY=VALUE, got '${entry}'`, 2);
    const key = hexToBytes(entry.slice(0, eq), 'key');
    const value = hexToBytes(entry.slice(eq + 1), 'value');
    if (key.length !== m.keySize)
      throw new CliError(`map set ${name}: key has ${key.length} bytes, the map's have ${m.keySize}`);
    if (value.length > m.valueSize) {
      throw new CliError(`map set ${name}: value has ${value.length} bytes, the map's have ${m.valueSize}`);
    }
    const old = m.contents?.find((c) => bytesToHex(c.key) === bytesToHex(key));
    const full = new Uint8Array(old?.value ?? new Uint8Array(m.valueSize));
    full.set(value);
    m.contents = [...(m.contents ?? []).filter((c) => c !== old), { key, value: full }];
  }
  loadObject(spec, { verify: false, programs: [], runtimeOptions: cliRuntime() });
  files.writer('-o')!.write(writeObject(spec));
}
