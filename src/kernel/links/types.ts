// What attaching needs of a loaded program: its fd, its name and its spec (section, type, attach type).
// KernelProgram has these; the attach functions take this shape so they need not import the loader.

import type { ProgramSpec } from '../../spec/object.js';

/** A program loaded in the kernel, as the attach functions see it. */
export interface AttachableProgram {
  readonly fd: number;
  readonly name: string;
  readonly spec: ProgramSpec;
}
