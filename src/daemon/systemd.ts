// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path, or @abstract).
import process from 'node:process';
import { libc } from '../kernel/libc.ts';

let fd = -1;

export function sdNotify(state: string): boolean {
  const path = process.env.NOTIFY_SOCKET;
  if (!path) return false;
  if (fd < 0) fd = libc.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | 0x80000, 0);
  if (fd < 0) return false;
  const addr = new Uint8Array(2 + path.length + 1);
  addr[0] = 1;
  for (let i = 0; i < path.length; i++) addr[2 + i] = path.charCodeAt(i);
  // abstract namespace: leading NUL, and the length excludes the trailing NUL
  let len = addr.length;
  if (path.startsWith('@')) { addr[2] = 0; len -= 1; }
  const data = new TextEncoder().encode(state);
  return libc.sendto(fd, data, data.length, 0, addr, len) >= 0;
}
