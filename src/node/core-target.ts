// The running kernel's BTF as the default CO-RE target under Node: /sys/kernel/btf/vmlinux, parsed once per
// process (about 5 MB, some 150,000 types) the first time an object with CO-RE relocations is read without
// a target, and the module BTFs beside it (split over vmlinux) parsed only when vmlinux has no candidate
// for a type. Importing this module registers it (src/node/index.ts, root.ts and load.ts import it).

import { readdirSync, readFileSync } from 'node:fs';
import type { CoreTarget } from '../btf/core/relocate.js';
import { setDefaultCoreTarget } from '../btf/core/target.js';
import { type Btf, parseBtf } from '../btf/parse.js';
import { parseElf } from '../elf/parse.js';
import { TsbpfError } from '../errors.js';
import './externs.js';

/** Where the kernel publishes its BTF: vmlinux, and one file per module with BTF. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

let cached: CoreTarget | null | undefined;

/** The running kernel's BTF as a CO-RE target, or undefined when it publishes none. Parsed once. */
export function kernelCoreTarget(): CoreTarget | undefined {
  if (cached !== undefined) return cached ?? undefined;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(`${KERNEL_BTF_DIR}/vmlinux`));
  } catch {
    cached = null;
    return undefined;
  }
  const btf = parseBtf(bytes, `${KERNEL_BTF_DIR}/vmlinux`);
  cached = { btf, name: 'vmlinux', modules: () => moduleBtfs(btf) };
  return cached;
}

let modules: { name: string; btf: Btf }[] | undefined;

/** Every module's BTF, split over vmlinux's (read when a type is missing from vmlinux, then kept). */
function moduleBtfs(base: Btf): { name: string; btf: Btf }[] {
  if (modules) return modules;
  modules = [];
  let names: string[];
  try {
    names = readdirSync(KERNEL_BTF_DIR).filter((n) => n !== 'vmlinux');
  } catch {
    return modules;
  }
  for (const name of names.sort()) {
    const file = `${KERNEL_BTF_DIR}/${name}`;
    try {
      modules.push({ name, btf: parseBtf(new Uint8Array(readFileSync(file)), file, base) });
    } catch {
      // A module unloaded meanwhile, or BTF this parser refuses: its types are not candidates.
    }
  }
  return modules;
}

/**
 * Make `file` the default CO-RE target (the CLI's `--btf FILE`): raw BTF as /sys/kernel/btf/* holds it, or
 * an ELF file with a .BTF section (a vmlinux image, an object). Read now, so a bad path is reported even
 * for objects without CO-RE relocations; parsed the first time an object needs it.
 */
export function useCoreBtfFile(file: string): void {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TsbpfError(`cannot read BTF: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, file);
  }
  let target: CoreTarget | undefined;
  setDefaultCoreTarget(() => {
    target ??= { btf: parseBtf(btfBytes(bytes, file), file), name: file };
    return target;
  });
}

/** The BTF in `bytes`: the file itself, or the .BTF section of an ELF file. */
function btfBytes(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return bytes;
  const section = parseElf(bytes, file).sectionNamed('.BTF');
  if (!section) throw new TsbpfError('ELF file without a .BTF section: no types to relocate against', file);
  return section.data;
}

setDefaultCoreTarget(kernelCoreTarget);
