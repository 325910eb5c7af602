// The Linux back end: the bpf() system call from Node.js (through koffi, loaded on first use), typed
// errors, and the ABI numbers. `import { ... } from 'tsbpf/kernel'`.

export { AttachType, Cmd, ProgType, XdpFlags } from './attr.js';
export { errnoName, KernelError, VerifierRejectedError } from './errors.js';
export { ffiAvailable } from './ffi.js';
export * from './syscall.js';
