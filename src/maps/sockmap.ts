// BPF_MAP_TYPE_SOCKMAP, SOCKHASH and REUSEPORT_SOCKARRAY: maps of sockets, which user space fills with socket
// file descriptors.
// User space here has no sockets, so these maps stay empty: an update names a descriptor that is not a
// socket (EBADF, as the kernel answers for a closed descriptor), lookups find nothing, and deletes answer
// as the kernel's do on an empty slot (SOCKMAP: EINVAL; SOCKHASH: ENOENT; REUSEPORT_SOCKARRAY: ENOENT, E2BIG
// past the end). Programs see them through the
// verifier (sk_redirect_map, msg_redirect_hash, sock_map_update ...) and redirect to nothing (SK_DROP).

import { Errno } from '../spec/errno.js';
import { MapType } from '../spec/maps.js';
import { arrayNextKey } from './array.js';
import { MapBase } from './base.js';

/** A socket map that holds no socket. */
export class SocketMap extends MapBase {
  lookupPtr(_keyAddr: number, _cpu: number): number {
    return 0;
  }

  /** The descriptor is looked up before anything else, and none is a socket here. */
  updatePtr(_keyAddr: number, _valueAddr: number, _flags: number, _cpu: number): number {
    return -Errno.EBADF;
  }

  deletePtr(keyAddr: number): number {
    if (this.spec.type === MapType.REUSEPORT_SOCKARRAY)
      return this.dv.getUint32(keyAddr, true) >= this.spec.maxEntries ? -Errno.E2BIG : -Errno.ENOENT;
    // SOCKMAP: an index past the end or an empty slot are both EINVAL (sock_map_delete_elem).
    return this.spec.type === MapType.SOCKHASH ? -Errno.ENOENT : -Errno.EINVAL;
  }

  nextKeyPtr(keyAddr: number, outAddr: number): number {
    if (this.spec.type === MapType.SOCKHASH) return -Errno.ENOENT;
    return arrayNextKey(this.space, this.spec.maxEntries, keyAddr, outAddr);
  }
}
