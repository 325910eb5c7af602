// The `union bpf_attr` offsets in src/kernel/attr.ts, checked against the system's kernel header with
// offsetof() through a small C program built by clang. Fields newer than the installed header (6.1 in
// Debian 12: log_true_size ...) are checked against their documented position instead.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as attr from '../../src/kernel/attr.js';
import { clang, kernelOracle } from '../support/kernel.js';

const oracle = kernelOracle();

/** Our table -> the C member expression (within union bpf_attr unless a struct is named). */
const CHECKS: [string, Record<string, number>, string][] = [
  ['union bpf_attr', attr.MapCreate, ''],
  ['union bpf_attr', attr.MapElem, ''],
  ['union bpf_attr', attr.ProgLoad, ''],
  ['union bpf_attr', attr.Obj, ''],
  ['union bpf_attr', attr.TestRun, 'test.'],
  ['union bpf_attr', attr.InfoByFd, 'info.'],
  ['union bpf_attr', attr.BtfLoad, ''],
  ['union bpf_attr', attr.LinkCreate, 'link_create.'],
  ['struct bpf_map_info', attr.MapInfo, ''],
  ['struct bpf_prog_info', attr.ProgInfo, ''],
];
/** Added after the 6.1 header; their places follow the 6.18 header (see attr.ts). */
const NEWER = new Set(['log_true_size', 'prog_token_fd', 'fd_array_cnt', 'btf_log_true_size']);

describe.skipIf(!oracle)('bpf_attr layout', () => {
  it('matches offsetof() in <linux/bpf.h>', () => {
    const cc = clang();
    expect(cc, 'clang is needed to check the layout').toBeDefined();
    expect(existsSync('/usr/include/linux/bpf.h'), 'linux-libc-dev provides <linux/bpf.h>').toBe(true);
    const lines: string[] = [];
    const expected: string[] = [];
    for (const [type, table, prefix] of CHECKS) {
      for (const [field, offset] of Object.entries(table)) {
        if (field === 'SIZE' || NEWER.has(field)) continue;
        lines.push(`printf("%s %zu\\n", "${type} ${prefix}${field}", offsetof(${type}, ${prefix}${field}));`);
        expected.push(`${type} ${prefix}${field} ${offset}`);
      }
    }
    const enums = {
      BPF_MAP_CREATE: attr.Cmd.MAP_CREATE,
      BPF_PROG_LOAD: attr.Cmd.PROG_LOAD,
      BPF_PROG_TEST_RUN: attr.Cmd.PROG_TEST_RUN,
      BPF_OBJ_GET_INFO_BY_FD: attr.Cmd.OBJ_GET_INFO_BY_FD,
      BPF_BTF_LOAD: attr.Cmd.BTF_LOAD,
      BPF_MAP_FREEZE: attr.Cmd.MAP_FREEZE,
      BPF_LINK_CREATE: attr.Cmd.LINK_CREATE,
      BPF_LINK_DETACH: attr.Cmd.LINK_DETACH,
      BPF_XDP: attr.AttachType.XDP,
      BPF_PROG_TYPE_XDP: attr.ProgType.XDP,
      BPF_PROG_TYPE_SYSCALL: attr.ProgType.SYSCALL,
    };
    for (const [name, value] of Object.entries(enums)) {
      lines.push(`printf("%s %d\\n", "${name}", (int)${name});`);
      expected.push(`${name} ${value}`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-attr-'));
    try {
      writeFileSync(
        join(dir, 'attr.c'),
        `#include <linux/bpf.h>\n#include <stddef.h>\n#include <stdio.h>\nint main(void) {\n${lines.join('\n')}\nreturn 0;\n}\n`,
      );
      execFileSync(cc!, ['-o', join(dir, 'attr'), join(dir, 'attr.c')], { stdio: 'pipe' });
      const got = execFileSync(join(dir, 'attr')).toString().trim().split('\n');
      expect(got).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // the newer fields directly follow core_relo_rec_size / btf_log_level
    expect(attr.ProgLoad.log_true_size).toBe(attr.ProgLoad.core_relo_rec_size + 4);
    expect(attr.BtfLoad.btf_log_true_size).toBe(attr.BtfLoad.btf_log_level + 4);
  });
});
