// Socket-filter programs: attached to a socket with SO_ATTACH_BPF, detached with SO_DETACH_BPF
// (cilium/ebpf's link/socket_filter.go does the same). The program stays attached for as long as
// the socket lives; closing the socket also detaches it.
import { SOL_SOCKET, SO, type NetlinkSocket } from '../netlink.ts';
import type { CtsyncObject } from './object.ts';
import type { ProgramName } from './ctsync.gen.ts';

export interface SocketFilterLink {
  readonly program: ProgramName;
  detach(): void;
}

export class SocketFilter {
  constructor(private readonly obj: CtsyncObject, readonly name: ProgramName) {}

  /** The loaded program's fd (the object must have been loaded with this program). */
  get fd(): number { return this.obj.programFd(this.name); }

  attach(sock: NetlinkSocket): SocketFilterLink {
    sock.setInt(SOL_SOCKET, SO.ATTACH_BPF, this.fd);
    let attached = true;
    return {
      program: this.name,
      detach: () => {
        if (!attached) return;
        attached = false;
        try {
          sock.setInt(SOL_SOCKET, SO.DETACH_BPF, 0);
        } catch {
          // the socket is already closed: nothing stays attached
        }
      },
    };
  }
}
