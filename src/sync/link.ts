// One dedicated sync link over node:dgram (both runtimes): UDP multicast or unicast, IPv4 or IPv6,
// with conntrackd's socket layout (a receive socket and a separate, unbound send socket) and one
// difference: datagrams from anyone but the peer (unicast) or from outside the interface's
// subnets (multicast) are dropped and counted, where conntrackd 1.4.7 accepts anything. With an
// Authenticator (auth.ts, `auth-key-file`) every datagram carries an HMAC trailer, and datagrams
// without a valid one, or replayed, are dropped and counted too.
//
//   const link = new UdpLink({ interface: 'eth1', kind: 'multicast' }, 0);
//   await link.open((bytes, index) => mode.receive(bytes, index));
//   link.send(buf, len, done)   // done() once the kernel has the datagram (or it failed)
//   link.refresh()              // re-reads interface state and addresses
//   link.counters / link.status / link.maxPayload
//   await link.close()
import dgram from 'node:dgram';
import { canonicalAddr, familyOf } from '../flow/addr.ts';
import { dgramConnects, dgramSendsInOrder, errorCode } from '../kernel/runtime.ts';
import {
  addressBytes, inSubnets, interfaceAddresses, interfaceExists, interfaceMtu, interfaceStatus, type IfAddr, type LinkStatus,
} from './iface.ts';
import { IPV4_UDP_OVERHEAD, IPV6_UDP_OVERHEAD } from './wire.ts';
import { AUTH_FAIL, AUTH_TRAILER_SIZE, ReplayWindow, type Authenticator } from './auth.ts';

export const DEFAULT_GROUP = '225.0.0.50';
export const DEFAULT_PORT = 3780;
export const DEFAULT_BUFFER_BYTES = 1 << 20;
/** datagrams that may wait behind the one in flight where sends are serialised */
const MAX_WAITING = 65536;

export interface LinkConfig {
  /** the dedicated interface, e.g. "eth1" */
  interface: string;
  kind: 'multicast' | 'unicast';
  /** multicast group (default 225.0.0.50) */
  group?: string;
  /** unicast: the peer's address on this link */
  peer?: string;
  /** UDP port (default 3780) */
  port?: number;
  /** unicast: local address to receive on (default: any) */
  listenAddress?: string;
  /** socket buffers in bytes (VyOS sync-queue-size × 1 MiB; default 1 MiB) */
  bufferBytes?: number;
  /** overrides the MTU read from /sys/class/net/IF/mtu */
  mtu?: number;
  /** authenticated mode (ctsync peers only); also settable later with setAuth() */
  auth?: Authenticator;
}

export interface LinkCounters {
  bytesSent: number;
  pktsSent: number;
  bytesRecv: number;
  pktsRecv: number;
  errSend: number;
  errRecv: number;
  /** datagrams from a source that is not the peer / not on the link's subnets */
  dropForeign: number;
  /** authenticated mode: datagrams without a valid HMAC trailer (wrong key, altered, none) */
  dropAuth: number;
  /** authenticated mode: datagrams replayed (counter already seen or too old) */
  dropReplay: number;
  /** authenticated mode: datagrams carrying this node's own sender id */
  dropReflected: number;
}

export class LinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkError';
  }
}

export class UdpLink {
  readonly counters: LinkCounters = {
    bytesSent: 0, pktsSent: 0, bytesRecv: 0, pktsRecv: 0, errSend: 0, errRecv: 0, dropForeign: 0,
    dropAuth: 0, dropReplay: 0, dropReflected: 0,
  };
  readonly family: 4 | 6;
  readonly port: number;
  readonly group: string;
  status: LinkStatus = 'DOWN';
  mtu = 1500;
  /** effective socket buffer sizes after open (the kernel doubles what is asked) */
  recvBufferBytes = 0;
  sendBufferBytes = 0;
  /** last socket error, for `status` */
  lastError = '';

  private rx: dgram.Socket | null = null;
  private tx: dgram.Socket | null = null;
  private addrs: IfAddr[] = [];
  private peerBytes: Uint8Array | undefined;
  private dest = '';
  /** the send socket is connected to dest (runtime.ts: dgramConnects) */
  private connected = false;
  private auth: Authenticator | undefined;
  private replay = new ReplayWindow();
  /** where node:dgram reorders a burst (Deno): datagrams waiting for the one in flight */
  private readonly waiting: { buf: Uint8Array; len: number; done: () => void }[] = [];
  private inFlight = false;

  constructor(readonly config: LinkConfig, readonly index: number) {
    this.port = config.port ?? DEFAULT_PORT;
    this.group = config.group ?? DEFAULT_GROUP;
    this.auth = config.auth;
    if (config.kind === 'unicast') {
      if (!config.peer) throw new LinkError(`link ${config.interface}: unicast needs a peer address; set \`peer\``);
      const fam = familyOf(config.peer.split('%')[0]);
      if (!fam) throw new LinkError(`link ${config.interface}: peer "${config.peer}" is not an IP address`);
      this.family = fam;
      this.peerBytes = addressBytes(config.peer);
      this.dest = config.peer.includes('%') || !isLinkLocal(config.peer) ? config.peer : `${config.peer}%${config.interface}`;
    } else {
      const fam = familyOf(this.group);
      if (!fam || !isMulticast(this.group)) {
        throw new LinkError(`link ${config.interface}: "${this.group}" is not a multicast group address`);
      }
      this.family = fam;
      this.dest = this.group;
    }
  }

  get name(): string { return this.config.interface; }

  /** Largest datagram payload: MTU minus IP and UDP headers (and the auth trailer). */
  get maxPayload(): number {
    return this.mtu - (this.family === 4 ? IPV4_UDP_OVERHEAD : IPV6_UDP_OVERHEAD) - (this.auth ? AUTH_TRAILER_SIZE : 0);
  }

  /** Switches authentication on (a new Authenticator: a fresh replay window) or off. */
  setAuth(auth: Authenticator | undefined): void {
    if (auth !== this.auth) this.replay = new ReplayWindow();
    this.auth = auth;
  }

  /** Re-reads the interface: status, MTU, addresses (for the source check). */
  refresh(): void {
    this.status = interfaceStatus(this.name);
    this.mtu = this.config.mtu ?? interfaceMtu(this.name) ?? this.mtu;
    this.addrs = interfaceAddresses(this.name);
    this.lastSource = '';
  }

  async open(onDatagram: (bytes: Uint8Array, link: number) => void): Promise<void> {
    if (!interfaceExists(this.name)) {
      throw new LinkError(`link ${this.name}: no such interface; check the interface name of the sync link`);
    }
    this.refresh();
    const type = this.family === 4 ? 'udp4' : 'udp6';
    const what = `link ${this.name}`;
    const rx = dgram.createSocket({ type, reuseAddr: true });
    const tx = dgram.createSocket({ type });
    this.rx = rx;
    this.tx = tx;
    rx.on('error', (e) => { this.counters.errRecv++; this.lastError = `receive: ${errorCode(e)}`; });
    tx.on('error', (e) => { this.counters.errSend++; this.lastError = `send: ${errorCode(e)}`; });
    rx.on('message', (msg, rinfo) => {
      this.counters.pktsRecv++;
      this.counters.bytesRecv += msg.length;
      if (!this.accepts(rinfo.address)) {
        this.counters.dropForeign++;
        return;
      }
      const auth = this.auth;
      if (auth) {
        const n = auth.open(msg, this.replay);
        if (n < 0) {
          if (n === AUTH_FAIL.REPLAY) this.counters.dropReplay++;
          else if (n === AUTH_FAIL.OWN) this.counters.dropReflected++;
          else this.counters.dropAuth++;
          return;
        }
        onDatagram(msg.subarray(0, n), this.index);
        return;
      }
      onDatagram(msg, this.index);
    });

    try {
      if (this.config.kind === 'multicast') {
        const ifAddr = this.family === 4 ? this.addrs.find((a) => a.family === 4)?.address : `::%${this.name}`;
        if (!ifAddr) {
          throw new LinkError(`${what}: the interface has no IPv4 address; add one or use an IPv6 group`);
        }
        // bound to the group: unicast datagrams to the port on other local addresses never reach us
        await bind(rx, this.port, this.family === 4 ? this.group : '::', `${what}: cannot receive on ${this.group} port ${this.port}`);
        try {
          rx.addMembership(this.group, ifAddr);
        } catch (e) {
          throw new LinkError(`${what}: cannot join ${this.group} (${errorCode(e)}); check that the interface is up and has an address`);
        }
        await bind(tx, 0, this.family === 4 ? '0.0.0.0' : '::', `${what}: cannot open the send socket`);
        tx.setMulticastInterface(ifAddr);
        tx.setMulticastLoopback(false);
        tx.setMulticastTTL(1);
      } else {
        const listen = this.config.listenAddress ?? (this.family === 4 ? '0.0.0.0' : '::');
        await bind(rx, this.port, listen, `${what}: cannot receive on ${listen} port ${this.port}`);
        await bind(tx, 0, this.family === 4 ? '0.0.0.0' : '::', `${what}: cannot open the send socket`);
      }
      // no route yet (the link is down at boot): stay unconnected, sends are counted as they fail
      this.connected = dgramConnects && await connect(tx, this.port, this.dest);
      const bytes = this.config.bufferBytes ?? DEFAULT_BUFFER_BYTES;
      try { rx.setRecvBufferSize(bytes); } catch { /* kept at the system default; visible below */ }
      try { tx.setSendBufferSize(bytes); } catch { /* idem */ }
      try { this.recvBufferBytes = rx.getRecvBufferSize(); } catch { this.recvBufferBytes = 0; }
      try { this.sendBufferBytes = tx.getSendBufferSize(); } catch { this.sendBufferBytes = 0; }
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** The source check: the configured peer (unicast) or an address on the link's subnets. */
  accepts(source: string): boolean {
    // datagrams come from one peer: the answer for the last source is kept (until refresh())
    if (source === this.lastSource) return this.lastAccepted;
    const b = addressBytes(source);
    const ok = !b ? false : this.config.kind === 'unicast' ? sameBytes(b, this.peerBytes!) : inSubnets(b, this.addrs);
    this.lastSource = source;
    this.lastAccepted = ok;
    return ok;
  }
  private lastSource = '';
  private lastAccepted = false;

  send(buf: Uint8Array, len: number, done: () => void): void {
    if (dgramSendsInOrder) return this.transmit(buf, len, done);
    if (this.waiting.length >= MAX_WAITING) {
      this.counters.errSend++;
      this.lastError = 'send: queue full';
      done();
      return;
    }
    this.waiting.push({ buf, len, done });
    this.pump();
  }

  private pump(): void {
    if (this.inFlight) return;
    const next = this.waiting.shift();
    if (!next) return;
    this.inFlight = true;
    this.transmit(next.buf, next.len, () => {
      this.inFlight = false;
      next.done();
      this.pump();
    });
  }

  private transmit(buf: Uint8Array, len: number, done: () => void): void {
    const tx = this.tx;
    if (!tx) {
      this.counters.errSend++;
      done();
      return;
    }
    if (this.auth) {
      if (buf.length < len + AUTH_TRAILER_SIZE) {
        const b = new Uint8Array(len + AUTH_TRAILER_SIZE);
        b.set(buf.subarray(0, len));
        buf = b;
      }
      len = this.auth.seal(buf, len);
    }
    try {
      const sent = (err: Error | null) => {
        if (err) {
          this.counters.errSend++;
          this.lastError = `send: ${errorCode(err)}`;
        } else {
          this.counters.pktsSent++;
          this.counters.bytesSent += len;
        }
        done();
      };
      if (this.connected) tx.send(buf, 0, len, sent);
      else tx.send(buf, 0, len, this.port, this.dest, sent);
    } catch (e) {
      this.counters.errSend++;
      this.lastError = `send: ${errorCode(e)}`;
      done();
    }
  }

  async close(): Promise<void> {
    const socks = [this.rx, this.tx].filter((s): s is dgram.Socket => s !== null);
    this.rx = this.tx = null;
    for (const w of this.waiting.splice(0)) w.done();
    await Promise.all(socks.map((s) => new Promise<void>((r) => {
      try { s.close(() => r()); } catch { r(); }
    })));
  }
}

/** Connects a send socket to its destination; false when the kernel refuses (no route). */
function connect(s: dgram.Socket, port: number, address: string): Promise<boolean> {
  return new Promise((resolve) => {
    // node:dgram reports a failed connect as an 'error' event, never through the callback
    const fail = () => resolve(false);
    s.once('error', fail);
    try {
      s.connect(port, address, () => {
        s.off('error', fail);
        resolve(true);
      });
    } catch {
      s.off('error', fail);
      resolve(false);
    }
  });
}

function bind(s: dgram.Socket, port: number, address: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      const code = errorCode(e);
      const hint = code === 'EADDRINUSE' ? 'another process uses the port; stop it or change `port`'
        : code === 'EADDRNOTAVAIL' ? 'the address is not configured on this host'
        : 'check the address and the interface';
      reject(new LinkError(`${what} (${code}): ${hint}`));
    };
    s.once('error', onError);
    s.bind(port, address, () => {
      s.off('error', onError);
      resolve();
    });
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isMulticast(a: string): boolean {
  const b = addressBytes(a);
  if (!b) return false;
  return b.length === 4 ? (b[0] & 0xf0) === 0xe0 : b[0] === 0xff;
}

function isLinkLocal(a: string): boolean {
  const c = canonicalAddr(a.split('%')[0]);
  return c !== undefined && /^fe[89ab]/i.test(c);
}
