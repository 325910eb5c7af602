// Helpers of BPF_PROG_TYPE_LIRC_MODE2 programs, infrared decoders attached to a remote-control receiver:
// bpf_rc_repeat, bpf_rc_keydown, bpf_rc_pointer_rel report to the receiver's input device. Their
// prototypes are the kernel's so that the verifier agrees with it; no hook here runs lirc_mode2 programs
// (there is no receiver), so a call stops the run with an error naming the helper.

import type { HelperDef, HelperProto } from './types.js';

const receiverOnly = (id: number, name: string, proto: HelperProto): HelperDef => ({
  id,
  name,
  proto,
  programTypes: ['lirc_mode2'],
  call: () => {
    throw new Error(`bpf_${name} (#${id}): lirc_mode2 programs cannot be run here (no infrared receiver)`);
  },
});

export const LIRC_HELPERS: HelperDef[] = [
  receiverOnly(77, 'rc_repeat', { ret: 'integer', args: ['ctx'] }),
  receiverOnly(78, 'rc_keydown', { ret: 'integer', args: ['ctx', 'anything', 'anything', 'anything'] }),
  receiverOnly(92, 'rc_pointer_rel', { ret: 'integer', args: ['ctx', 'anything', 'anything'] }),
];
