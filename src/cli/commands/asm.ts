// `tsbpf asm FILE [-o OUT] [--syntax auto|llvm|mnemonic]`: assemble text into raw bytecode, or into an ELF
// object (one program in --section, default xdp) when OUT ends in `.o`.

import { basename } from 'node:path';
import { type Command, Option } from 'commander';
import { type AsmOptions, assemble } from '../../asm/index.js';
import { writeObject } from '../../elf/index.js';
import { AsmSyntaxError } from '../../errors.js';
import { encode, type Insn } from '../../isa/index.js';
import { programTypeForSection } from '../../spec/sections.js';
import { CliError } from '../errors.js';
import { Files, writing } from '../files.js';
import { readBytes } from '../objects.js';

interface AsmFlags {
  output?: string;
  syntax: 'auto' | 'llvm' | 'mnemonic';
  section: string;
  name?: string;
  license: string;
}

/** Read and assemble FILE ('-' for stdin); a syntax error is one line: `FILE:line:column: reason: text`. */
export function assembleFile(file: string, opts: AsmOptions = {}): Insn[] {
  const bytes = readBytes(file, file === '-' ? 'standard input' : 'assembler source');
  if (bytes.includes(0))
    throw new CliError(`${file}: not assembler text (it has NUL bytes; disasm reads bytecode)`);
  const text = new TextDecoder().decode(bytes);
  try {
    return assemble(text, opts);
  } catch (e) {
    if (!(e instanceof AsmSyntaxError)) throw e;
    throw new CliError(`${file}:${e.line}:${e.column}: ${e.reason}: ${e.text.trim()}`);
  }
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
      const out = flags.output;
      if (!out && process.stdout.isTTY)
        throw new CliError('refusing to write bytecode to a terminal: use -o FILE', 2);
      const files = new Files().input(file, 'source').output(out, '-o');
      writing(files, () => {
        const insns = assembleFile(file, { syntax: flags.syntax });
        if (insns.length === 0) throw new CliError(`${file}: no instructions`);
        const bytes = out?.endsWith('.o') ? objectFor(insns, file, flags) : encode(insns);
        if (out) files.writer('-o')!.write(bytes);
        else process.stdout.write(bytes);
      });
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
