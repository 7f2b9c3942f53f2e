// The replication layer of ctsync: conntrackd 1.4.7 wire codec, FTFW / NOTRACK / ALARM sync
// modes and UDP links. Start here:
//   object.ts  SyncObject / SyncHost: the contract with the caches and the daemon
//   mode.ts    SyncMode, Transport, SyncOptions (createSyncMode below builds one)
//   codec.ts   encode/decode of messages; wire.ts the constants
//   links.ts   LinkSet (the Transport over node:dgram), link.ts one UDP link
//   stats.ts   counters and the exact `conntrackd -s` text of them
import { AlarmMode } from './alarm.ts';
import { FtfwMode } from './ftfw.ts';
import type { ModeKind, SyncDeps, SyncMode, SyncOptions } from './mode.ts';
import { NotrackMode } from './notrack.ts';

export function createSyncMode(kind: ModeKind, deps: SyncDeps, opt: SyncOptions = {}): SyncMode {
  switch (kind) {
    case 'ftfw': return new FtfwMode(deps, opt);
    case 'notrack': return new NotrackMode(deps, opt);
    case 'alarm': return new AlarmMode(deps, opt);
  }
}

export { AlarmMode, FtfwMode, NotrackMode };
export type { ModeKind, SyncDeps, SyncMode, SyncOptions, Transport } from './mode.ts';
export { DEFAULTS } from './mode.ts';
export { OBJ_STATE, messageTypeOf } from './object.ts';
export type { ObjKind, ObjState, SyncHost, SyncObject, SyncSlot } from './object.ts';
export * from './codec.ts';
export * from './wire.ts';
export * from './stats.ts';
export { realClock, ManualClock, type Clock } from './clock.ts';
export { LinkSet, type LinkStat, type LinkSetOptions } from './links.ts';
export { UdpLink, LinkError, DEFAULT_GROUP, DEFAULT_PORT, type LinkConfig, type LinkCounters } from './link.ts';
export type { LinkStatus } from './iface.ts';
