import type { Command } from 'commander';
import { CliError } from '../main.js';

// Placeholder until issue 7 lands `tsbpf xdp attach`.
export function register(xdp: Command): void {
  xdp
    .command('attach')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('xdp attach: not implemented yet', 2);
    });
}
