import type { Command } from 'commander';
import { CliError } from '../main.js';

// Placeholder until the owning issue lands this command.
export function register(program: Command): void {
  program
    .command('asm')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('asm: not implemented yet', 2);
    });
}
