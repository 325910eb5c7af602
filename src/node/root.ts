// The package root under Node.js (the `node` export condition of `tsbpf`): everything the core exports, with
// what Node adds registered — the kernel back end for `loadCollection(spec, { backend: 'kernel' })` and live
// interfaces for user-space `attachXdp(iface)`. koffi loads only at the first bpf() call.

import '../kernel/register.js';
import './core-target.js';
import './live/register.js';
import './userspace-defaults.js';

export * from '../index.js';
