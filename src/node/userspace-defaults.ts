// Under Node a user-space loadCollection takes the same map memory limit as loadObject and the CLI: a
// quarter of the machine's memory, within the runtime's address space (1 GiB by default), instead of the
// core's 256 MiB (chosen for browsers). Maps are still charged at their largest when created, as the
// kernel preallocates them; only the ceiling is the machine's. Importing this module sets it.

import { setUserspaceDefaults } from '../collection/load.js';
import { machineMapMemoryLimit } from './load.js';

setUserspaceDefaults((options) =>
  options.runtime || options.runtimeOptions?.mapMemoryLimit !== undefined
    ? options
    : { ...options, runtimeOptions: { ...options.runtimeOptions, mapMemoryLimit: machineMapMemoryLimit() } },
);
