// Lets user-space programs attach to live interfaces (`program.attachXdp('veth0', { netns })`) through the
// packet-socket data path; imported by the Node entries.

import { registerLiveXdp } from '../../collection/userspace.js';
import { UserspaceXdp } from './datapath.js';

registerLiveXdp((program, iface, options) => UserspaceXdp.attach(program, { ...options, dev: iface }));
