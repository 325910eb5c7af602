// `tsbpf link list|show|detach`: the kernel's BPF links as bpftool link shows them (./kernel-inspect.ts);
// detach in ./prog-kernel.ts.

import type { Command } from 'commander';
import { linkShow } from './kernel-inspect.js';
import { linkDetach } from './prog-kernel.js';

export function register(program: Command): void {
  const link = program.command('link').description("inspect the kernel's BPF links (like bpftool link)");
  link
    .command('list')
    .description('every link: id, type, program id, interface')
    .option('--json', 'as bpftool -j')
    .action((o: { json?: boolean }) => linkShow([], o.json === true));
  link
    .command('show')
    .description('one link (id N, pinned PATH) or every link')
    .argument('[selector...]', 'id N | pinned PATH (none: every link)')
    .option('--json', 'as bpftool -j')
    .action((words: string[], o: { json?: boolean }) => linkShow(words, o.json === true));
  link
    .command('detach')
    .description('detach a link (id N, or pinned PATH: the pin is removed too)')
    .argument('<selector...>', 'id N | pinned PATH')
    .action((words: string[]) => linkDetach(words));
}
