// The object's small maps from user space: settings, filter maps (filled from a FlowFilter, so
// the kernel applies the rule of src/flow/filter.ts) and the per-CPU counters.
import { libbpf } from './libbpf.ts';
import { LAYOUT, CTR, CFG } from './ctsync.gen.ts';
import type { CtsyncObject } from './object.ts';
import type { FlowFilter } from '../../flow/filter.ts';
import { errnoName } from '../libc.ts';

const BPF_ANY = 0;

function check(what: string, r: number): void {
  if (r < 0) throw new Error(`${what}: ${errnoName(-r)}`);
}

const u32Key = (k: number) => new Uint8Array(new Uint32Array([k]).buffer);

export interface Settings {
  /** CFG bits besides the filter ones (e.g. CFG_SOCKET_DROP_CT) */
  flags: number;
  /** kernel HZ, for the tracing programs' timeout */
  hz: number;
  /** network namespace inode the tracing programs follow (0: every namespace) */
  netns: bigint;
}

const FILTER_FLAGS = CFG.CFG_PROTO_FILTER | CFG.CFG_ADDR4_FILTER | CFG.CFG_ADDR6_FILTER;

/** Writes the settings and filter maps; keeps track of its LPM entries to replace them later. */
export class MapWriter {
  private settings: Settings = { flags: 0, hz: 0, netns: 0n };
  private filterFlags = 0;
  private v4 = new Map<string, Uint8Array>();
  private v6 = new Map<string, Uint8Array>();

  constructor(private readonly obj: CtsyncObject) {}

  setSettings(s: Settings): void {
    this.settings = { ...s, flags: s.flags & ~FILTER_FLAGS };
    this.writeSettings();
  }

  private writeSettings(): void {
    const L = LAYOUT.ct_settings;
    const v = new Uint8Array(L.size);
    const dv = new DataView(v.buffer);
    dv.setUint32(L.flags, (this.settings.flags | this.filterFlags) >>> 0, true);
    dv.setUint32(L.hz, this.settings.hz >>> 0, true);
    dv.setBigUint64(L.netns, this.settings.netns, true);
    check('writing BPF settings', libbpf().mapUpdate(this.obj.mapFd('ct_config'), u32Key(0), v, BPF_ANY));
  }

  /** Makes the kernel programs filter as `filter` does. */
  setFilter(filter: FlowFilter): void {
    const lib = libbpf();
    const m = filter.bpfMaps();
    const protoFd = this.obj.mapFd('accept_proto');
    const one = new Uint8Array(1);
    for (let p = 0; p < 256; p++) {
      one[0] = m.acceptProto[p];
      check('writing accept_proto', lib.mapUpdate(protoFd, u32Key(p), one, BPF_ANY));
    }
    const lpm = (name: 'ignore_v4' | 'ignore_v6', size: number, entries: { prefixLen: number; addr: Uint8Array }[], have: Map<string, Uint8Array>) => {
      const fd = this.obj.mapFd(name);
      const next = new Map<string, Uint8Array>();
      for (const e of entries) {
        const key = new Uint8Array(size);
        new DataView(key.buffer).setUint32(0, e.prefixLen, true);
        key.set(e.addr, 4);
        next.set(Array.from(key).join(','), key);
      }
      one[0] = 1;
      for (const [k, key] of next) if (!have.has(k)) check(`writing ${name}`, lib.mapUpdate(fd, key, one, BPF_ANY));
      for (const [k, key] of have) if (!next.has(k)) lib.mapDelete(fd, key);
      return next;
    };
    this.v4 = lpm('ignore_v4', LAYOUT.lpm_v4_key.size, m.ignoreV4, this.v4);
    this.v6 = lpm('ignore_v6', LAYOUT.lpm_v6_key.size, m.ignoreV6, this.v6);
    this.filterFlags = (m.protoFilter ? CFG.CFG_PROTO_FILTER : 0) |
      (m.ignoreV4.length ? CFG.CFG_ADDR4_FILTER : 0) | (m.ignoreV6.length ? CFG.CFG_ADDR6_FILTER : 0);
    this.writeSettings();
  }
}

export interface BpfCounters {
  /** conntrack events the programs ran for */
  seen: number;
  /** dropped in the kernel by the filter maps */
  filtered: number;
  /** lost: the ring buffer was full */
  ringFull: number;
  /** messages handed to the socket for the TypeScript codec */
  passedUp: number;
  /** records submitted to the ring buffer */
  submitted: number;
  /** tracing: events of other network namespaces */
  otherNetns: number;
  /** pass-up markers that found the ring buffer full */
  markerLost: number;
  /** DESTROY events that found the ring buffer full, handed to the socket instead */
  destroyUp: number;
}

/** Sums the per-CPU counters map. */
export class CounterReader {
  private readonly fd: number;
  private readonly value: Uint8Array;
  private readonly dv: DataView;
  private readonly cpus: number;

  constructor(obj: CtsyncObject) {
    this.fd = obj.mapFd('counters');
    this.cpus = libbpf().possibleCpus();
    if (this.cpus <= 0) throw new Error('libbpf could not count the possible CPUs');
    this.value = new Uint8Array(8 * this.cpus);
    this.dv = new DataView(this.value.buffer);
  }

  private readonly keys: Uint8Array[] = [];

  private sum(idx: number): number {
    const key = (this.keys[idx] ??= u32Key(idx));
    check('reading BPF counters', libbpf().mapLookup(this.fd, key, this.value));
    let s = 0;
    for (let c = 0; c < this.cpus; c++) s += Number(this.dv.getBigUint64(8 * c, true));
    return s;
  }

  read(): BpfCounters {
    return {
      seen: this.sum(CTR.CTR_SEEN),
      filtered: this.sum(CTR.CTR_FILTERED),
      ringFull: this.sum(CTR.CTR_RB_FULL),
      passedUp: this.sum(CTR.CTR_PASSED_UP),
      submitted: this.sum(CTR.CTR_SUBMITTED),
      otherNetns: this.sum(CTR.CTR_OTHER_NETNS),
      markerLost: this.sum(CTR.CTR_MARKER_LOST),
      destroyUp: this.sum(CTR.CTR_DESTROY_UP),
    };
  }
}
