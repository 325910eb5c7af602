// `tsbpf asm FILE [-o OUT] [--syntax auto|llvm|mnemonic]`: assemble text into raw bytecode, or into an ELF
// object (one program in --section, default xdp) when OUT ends in `.o`.

import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import { type AsmOptions, assemble } from '../../asm/index.js';
import { writeObject } from '../../elf/index.js';
import { AsmSyntaxError } from '../../errors.js';
import { encode, type Insn } from '../../isa/index.js';
import { programTypeForSection } from '../../object/sections.js';
import { CliError } from '../main.js';
import { readBytes } from '../objects.js';

interface AsmFlags {
  output?: string;
  syntax: 'auto' | 'llvm' | 'mnemonic';
  section: string;
  name?: string;
  license: string;
}

/** Read and assemble FILE ('-' for stdin); syntax errors become `FILE:line:column: reason` plus the line. */
export function assembleFile(file: string, opts: AsmOptions = {}): Insn[] {
  const text = new TextDecoder().decode(file === '-' ? readStdin() : readBytes(file, 'assembler source'));
  try {
    return assemble(text, opts);
  } catch (e) {
    if (!(e instanceof AsmSyntaxError)) throw e;
    const caret = `${' '.repeat(Math.max(0, e.column - 1))}^`;
    throw new CliError(`${file}:${e.line}:${e.column}: ${e.reason}\n  ${e.text}\n  ${caret}`);
  }
}

function readStdin(): Uint8Array {
  return readBytes('/dev/stdin', 'standard input');
}

export function register(program: Command): void {
  program
    .command('asm')
    .description(
      'assemble eBPF text (llvm-objdump or mnemonic syntax) into raw bytecode, or an ELF object for OUT.o',
    )
    .argument('<file>', "assembler source ('-' for standard input)")
    .option(
      '-o, --output <out>',
      'output file (raw bytecode; an ELF object when it ends in .o); default stdout',
    )
    .addOption(
      new Option('--syntax <syntax>', 'input syntax').choices(['auto', 'llvm', 'mnemonic']).default('auto'),
    )
    .option('--section <name>', 'ELF section of the program (sets its type, as libbpf does)', 'xdp')
    .option('--name <name>', 'program (function symbol) name in the ELF object; default from FILE')
    .option('--license <license>', 'license string of the ELF object', 'GPL')
    .action((file: string, flags: AsmFlags) => {
      const insns = assembleFile(file, { syntax: flags.syntax });
      if (insns.length === 0) throw new CliError(`${file}: no instructions`);
      const out = flags.output;
      if (out?.endsWith('.o')) {
        writeFileSync(out, objectFor(insns, file, flags));
        return;
      }
      const bytes = encode(insns);
      if (out) writeFileSync(out, bytes);
      else if (process.stdout.isTTY)
        throw new CliError('refusing to write bytecode to a terminal: use -o FILE');
      else process.stdout.write(bytes);
    });
}

function objectFor(insns: Insn[], file: string, flags: AsmFlags): Uint8Array {
  const kind = programTypeForSection(flags.section);
  if (!kind)
    throw new CliError(
      `--section ${flags.section}: not a program section libbpf knows (e.g. xdp, socket, tc)`,
    );
  const fromFile = basename(file)
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9_]/g, '_');
  const name = flags.name ?? (/^[A-Za-z_]/.test(fromFile) ? fromFile : `prog_${fromFile}`);
  return writeObject({
    programs: [
      {
        name,
        section: flags.section,
        type: kind.type,
        attachTo: kind.attachTo,
        insns,
        license: flags.license,
      },
    ],
    maps: [],
    license: flags.license,
  });
}
