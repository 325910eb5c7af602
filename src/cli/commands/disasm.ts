// `tsbpf disasm FILE [--syntax llvm|mnemonic]`: print raw bytecode or the programs of an ELF object, one
// instruction per line with its slot index (`   12: r1 = r2`). The output assembles back with `tsbpf asm`.

import { type Command, Option } from 'commander';
import { disassemble, type Syntax } from '../../asm/index.js';
import { readObject } from '../../elf/index.js';
import { TsbpfError } from '../../errors.js';
import { decode, type Insn, LDDW } from '../../isa/index.js';
import { CliError } from '../errors.js';
import { readBytes } from '../objects.js';

const isElf = (b: Uint8Array): boolean => b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

/** Lines of `index: text`, indices counting slots (lddw takes two). */
export function listing(insns: readonly Insn[], syntax: Syntax): string[] {
  const texts = disassemble(insns, { syntax });
  const width = Math.max(4, String(insns.length).length);
  const out: string[] = [];
  for (let slot = 0, line = 0; line < texts.length; line++) {
    out.push(`${String(slot).padStart(width)}: ${texts[line]}`);
    slot += insns[slot]!.code === LDDW && slot + 1 < insns.length ? 2 : 1;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('disasm')
    .description('disassemble raw eBPF bytecode or an ELF object')
    .argument('<file>', 'raw bytecode or ELF object')
    .addOption(new Option('--syntax <syntax>', 'output syntax').choices(['llvm', 'mnemonic']).default('llvm'))
    .option('--program <name>', 'only this program (function or section name) of an ELF object')
    .action((file: string, flags: { syntax: Syntax; program?: string }) => {
      const bytes = readBytes(file, 'program');
      const lines: string[] = [];
      try {
        if (isElf(bytes)) {
          const spec = readObject(bytes, { file });
          const progs = spec.programs.filter(
            (p) => !flags.program || p.name === flags.program || p.section === flags.program,
          );
          if (progs.length === 0) {
            const names = spec.programs.map((p) => `${p.name} (${p.section})`).join(', ') || 'none';
            throw new CliError(`${file}: no program '${flags.program}' (programs: ${names})`);
          }
          for (const p of progs) {
            if (lines.length) lines.push('');
            lines.push(`; program ${p.name}, section ${p.section}, ${p.insns.length} slots`, `${p.name}:`);
            lines.push(...listing(p.insns, flags.syntax));
          }
        } else {
          if (bytes.length === 0) throw new CliError(`${file}: empty file`);
          lines.push(...listing(decode(bytes), flags.syntax));
        }
      } catch (e) {
        if (e instanceof TsbpfError) throw new CliError(`${file}: ${e.message}`);
        throw e;
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
