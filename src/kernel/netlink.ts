// An AF_NETLINK socket over libc: non-blocking, one reused receive buffer, many messages per sendto.
import { libc, sendtoAsync, errno, E, SysError, check } from './libc.ts';
import { watchReadable, type Watch } from './runtime.ts';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
export const NETLINK_NETFILTER = 12;

export const SOL_SOCKET = 1;
export const SO = { SNDBUF: 7, RCVBUF: 8, SNDBUFFORCE: 32, RCVBUFFORCE: 33, ATTACH_BPF: 50, DETACH_BPF: 27 } as const;
export const SOL_NETLINK = 270;
export const NETLINK_OPT = {
  ADD_MEMBERSHIP: 1, DROP_MEMBERSHIP: 2, BROADCAST_ERROR: 4, NO_ENOBUFS: 5, CAP_ACK: 10, EXT_ACK: 11,
} as const;

const MSG_DONTWAIT = 0x40;
const KERNEL_ADDR = new Uint8Array(12); // sockaddr_nl { AF_NETLINK, pad, pid 0, groups 0 }
KERNEL_ADDR[0] = AF_NETLINK;

export class NetlinkSocket {
  readonly fd: number;
  readonly portid: number;
  /** the one receive buffer; recv() fills it from offset 0 */
  readonly rbuf: Uint8Array;
  readonly rdv: DataView;
  private readonly intBuf = new Int32Array(1);
  private watcher?: Watch;
  private closed = false;

  constructor(protocol = NETLINK_NETFILTER, recvBufferSize = 1 << 20) {
    this.fd = check('socket(AF_NETLINK)', libc.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    try {
      const addr = new Uint8Array(12);
      addr[0] = AF_NETLINK;
      check('bind(AF_NETLINK)', libc.bind(this.fd, addr, 12));
      const len = new Uint32Array([12]);
      check('getsockname', libc.getsockname(this.fd, addr, len));
      this.portid = new DataView(addr.buffer).getUint32(4, true);
    } catch (e) {
      libc.close(this.fd);
      throw e;
    }
    this.rbuf = new Uint8Array(recvBufferSize);
    this.rdv = new DataView(this.rbuf.buffer);
  }

  setInt(level: number, name: number, value: number): void {
    this.intBuf[0] = value;
    check(`setsockopt(${level},${name})`, libc.setsockopt(this.fd, level, name, this.intBuf, 4));
  }

  getInt(level: number, name: number): number {
    const len = new Uint32Array([4]);
    check(`getsockopt(${level},${name})`, libc.getsockopt(this.fd, level, name, this.intBuf, len));
    return this.intBuf[0];
  }

  join(group: number): void { this.setInt(SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, group); }
  leave(group: number): void { this.setInt(SOL_NETLINK, NETLINK_OPT.DROP_MEMBERSHIP, group); }

  /** Kernel receive buffer, beyond rmem_max (needs CAP_NET_ADMIN). Returns what the kernel set. */
  setReceiveBuffer(bytes: number): number {
    // the kernel doubles the value it is given, as with SO_RCVBUF
    this.setInt(SOL_SOCKET, SO.RCVBUFFORCE, Math.max(1, Math.floor(bytes / 2)));
    return this.getInt(SOL_SOCKET, SO.RCVBUF);
  }

  setSendBuffer(bytes: number): number {
    this.setInt(SOL_SOCKET, SO.SNDBUFFORCE, Math.max(1, Math.floor(bytes / 2)));
    return this.getInt(SOL_SOCKET, SO.SNDBUF);
  }

  /** Sends bytes holding one or more complete messages to the kernel. */
  send(data: Uint8Array): void {
    for (;;) {
      const r = libc.sendto(this.fd, data, data.length, 0, KERNEL_ADDR, 12);
      if (r >= 0) return;
      const e = errno();
      if (e !== E.EINTR) throw new SysError('sendto(netlink)', e);
    }
  }

  /**
   * send() from a worker thread: a netlink request is handled inside sendto, so the kernel's work
   * overlaps what this thread does meanwhile. `data` must stay untouched until the promise settles.
   */
  sendAsync(data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      sendtoAsync(this.fd, data, data.length, 0, KERNEL_ADDR, 12, (err, r) => {
        if (!err && r >= 0) return resolve();
        // the worker's errno is not readable here: this thread sends again and reports its own
        try {
          this.send(data);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /**
   * Reads one datagram into rbuf without blocking. Returns its length, 0 when nothing is queued,
   * or -ENOBUFS when the kernel dropped messages for this socket since the last read.
   */
  recv(): number {
    for (;;) {
      const r = libc.recv(this.fd, this.rbuf, this.rbuf.length, MSG_DONTWAIT);
      if (r >= 0) return r;
      const e = errno();
      if (e === E.EAGAIN) return 0;
      if (e === E.ENOBUFS) return -E.ENOBUFS;
      if (e !== E.EINTR) throw new SysError('recv(netlink)', e);
    }
  }

  /** Blocks up to timeoutMs until readable (for request/response on a private socket). */
  waitReadable(timeoutMs: number): boolean {
    const pfd = new Int32Array([this.fd, 1]);
    return libc.poll(pfd, 1, timeoutMs) > 0;
  }

  /** Calls fn whenever the socket becomes readable; one watcher per socket. */
  watch(fn: () => void): void {
    if (this.watcher) throw new Error('netlink socket already watched');
    this.watcher = watchReadable(this.fd, fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watcher) await this.watcher.close();
    libc.close(this.fd);
  }
}
