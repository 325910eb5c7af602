// Registers the kernel back end with the one loader (`loadCollection(spec, { backend: 'kernel' })`).
// Imported by tsbpf/kernel and by the Node entry of tsbpf; koffi itself loads only at the first bpf() call.

import { registerBackend } from '../collection/load.js';
import { type KernelLoadOptions, loadKernelObject } from './object.js';

registerBackend('kernel', (spec, options) => {
  const { backend: _, ...rest } = options;
  return loadKernelObject(spec, rest as KernelLoadOptions);
});
