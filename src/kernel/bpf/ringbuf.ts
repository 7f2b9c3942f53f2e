// Consumer of a BPF_MAP_TYPE_RINGBUF, read in TypeScript over the mmapped map: no native call
// per record. The layout is the kernel's (and libbpf's, cilium/ebpf's, aya's):
//   consumer page (RW): consumer_pos at 0
//   producer page (RO): producer_pos at 0, then the data area mapped twice in a row, so that a
//   record that wraps past the end is still contiguous.
// Each record starts with an 8-byte header: u32 length with the BUSY (bit 31, still being
// written) and DISCARD (bit 30, skip it) flags, and a u32 page offset; records are 8-aligned.
import { libc, errno, address, view, SysError } from '../libc.ts';
import type { Watch } from '../runtime.ts';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HDR = 8;

/** The two mappings of a ring buffer (or ArrayBuffers laid out the same way, for tests). */
export interface RingMemory {
  /** consumer page: consumer_pos (u64) at offset 0 */
  consumer: ArrayBuffer;
  /** producer page followed by the data area twice */
  producer: ArrayBuffer;
  /** where the data area starts in `producer` (the page size) */
  dataOffset: number;
  /** data area size in bytes, a power of two */
  size: number;
  /** unmaps; called once by close() after every reader has stopped */
  release?(): void;
}

/** Called per record with the record's data in place: dv.getXxx(offset + n). */
export type RecordHandler = (dv: DataView, offset: number, length: number) => void;

export interface RingStats {
  /** records handed to a handler */
  records: number;
  /** records the producer discarded (skipped) */
  discarded: number;
  /** drain passes that found at least one record */
  batches: number;
  /** bytes consumed, headers included */
  bytes: number;
  /** wake-up watches that could not be opened (the timer polls at idleMs instead) */
  watchFailed: number;
  /** bytes waiting when the last drain pass began (how far the reader was behind) */
  backlog: number;
}

export interface PollOptions {
  /** poll interval while records keep arriving (ms) */
  busyMs?: number;
  /** longest poll interval when idle (ms) */
  idleMs?: number;
  /**
   * poll interval when idle with a wake-up armed (ms, default 500): a safety net only, since the
   * watch is level-triggered (the ring's fd is readable while records wait); at idleMs an idle
   * daemon woke 100 times a second and used 2-3 % of a core doing nothing
   */
  watchedIdleMs?: number;
  /**
   * Wakes the reader when the ring goes from empty to not empty (a readiness watch on the map's
   * fd, runtime.ts watchReadable). Idle, the reader waits on it and reads the first record at once
   * instead of at the next tick; busy, it polls on the timer, so that a burst is still read in
   * batches of busyMs, and keeps watching only after light passes (smallBatch). The kernel wakes
   * the watcher only when the reader has caught up (bpf_ringbuf_submit without flags).
   */
  wake?: (onReady: () => void) => Watch;
  /**
   * With a wake-up: a pass that read fewer records than this (default 16, about one datagram of
   * messages) keeps the watch armed while the busy timer runs, so that the records of a light load
   * are read when they come rather than at the next tick (up to busyMs later: the replication
   * latency's p99 at 5,000 flows/s was that millisecond). A pass with more goes on the timer alone.
   */
  smallBatch?: number;
  /**
   * Passes a wake-up may start between two ticks (default 8): events that trickle in one at a time
   * would otherwise make a pass, and a datagram, each; past this they wait for the tick. Two were
   * too few: groups of events that come back to back after a stall used them up, and the p99 of
   * the time to read stayed at 0.9 ms.
   */
  wakesPerTick?: number;
}

export class RingReader {
  readonly size: number;
  readonly stats: RingStats = { records: 0, discarded: 0, batches: 0, bytes: 0, watchFailed: 0, backlog: 0 };
  private readonly cons: BigUint64Array;
  private readonly prod: BigUint64Array;
  private readonly hdr: Int32Array;
  private readonly dv: DataView;
  private readonly mask: number;
  private readonly maskBig: bigint;
  private readonly dataOffset: number;
  private closed = false;
  private draining = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private waiters: (() => void)[] = [];
  private loop: {
    cb: RecordHandler; onBatch?: (n: number) => void; delay: number; busy: number; idle: number; watchedIdle: number;
    wake?: PollOptions['wake']; smallBatch: number; wakesPerTick: number;
  } | undefined;
  /** passes started by the watch since the last tick: that read records, that read none */
  private wakes = 0;
  private emptyWakes = 0;
  /** the readiness watch, armed while idle and after light passes */
  private watch: Watch | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly mem: RingMemory) {
    const { size, dataOffset } = mem;
    if (size <= 0 || (size & (size - 1)) !== 0) throw new Error(`ring buffer size ${size} is not a power of two`);
    if (mem.producer.byteLength < dataOffset + 2 * size) throw new Error('ring buffer producer mapping too small');
    if (dataOffset % 8 !== 0) throw new Error('ring buffer data offset must be 8-aligned');
    this.size = size;
    this.mask = size - 1;
    this.maskBig = BigInt(size - 1);
    this.dataOffset = dataOffset;
    this.cons = new BigUint64Array(mem.consumer, 0, 1);
    this.prod = new BigUint64Array(mem.producer, 0, 1);
    this.hdr = new Int32Array(mem.producer);
    this.dv = new DataView(mem.producer);
  }

  get isClosed(): boolean { return this.closed; }

  /** Bytes written by the producer and not yet consumed (headers and busy records included). */
  available(): number {
    if (this.closed) return 0;
    return Number(Atomics.load(this.prod, 0) - Atomics.load(this.cons, 0));
  }

  /**
   * Hands every committed record to `cb`, in order, and stores the consumer position once at the
   * end. Stops at a record still being written (BUSY) or after `max` records. Returns the number
   * of records handed over.
   */
  drain(cb: RecordHandler, max = Infinity): number {
    if (this.closed || this.draining) return 0;
    const cons = Atomics.load(this.cons, 0);
    // acquire: records up to producer_pos are visible once it is read
    const avail = Number(Atomics.load(this.prod, 0) - cons);
    this.stats.backlog = avail > 0 ? avail : 0;
    if (avail <= 0) return 0;
    this.draining = true;
    const base = Number(cons & this.maskBig);
    const mask = this.mask, data = this.dataOffset, hdr = this.hdr, dv = this.dv;
    let done = 0, n = 0, skipped = 0;
    try {
      while (done < avail && n < max) {
        const off = (base + done) & mask;
        const word = Atomics.load(hdr, (data + off) >> 2) >>> 0;
        if (word & BUSY) break;
        const len = word & LEN_MASK;
        done += (len + HDR + 7) & ~7;
        if (word & DISCARD) { skipped++; continue; }
        n++;
        cb(dv, data + off + HDR, len);
      }
    } finally {
      if (done > 0) Atomics.store(this.cons, 0, cons + BigInt(done));
      this.stats.records += n;
      this.stats.discarded += skipped;
      this.stats.bytes += done;
      if (n > 0) this.stats.batches++;
      this.draining = false;
      if (this.closing) this.finishClose();
    }
    return n;
  }

  /**
   * Waits until at least one record is committed (polling the producer position), then drains.
   * Resolves with the number of records read, or 0 after `timeoutMs` or close().
   */
  read(cb: RecordHandler, timeoutMs = Infinity): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    const n = this.drain(cb);
    if (n > 0) return Promise.resolve(n);
    return new Promise<number>((resolve) => {
      const started = Date.now();
      let delay = 1;
      let t: ReturnType<typeof setTimeout> | undefined;
      const done = (k: number) => {
        if (t) clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(k);
      };
      const wake = () => done(0);
      this.waiters.push(wake);
      const tick = () => {
        t = undefined;
        if (this.closed) return done(0);
        const k = this.drain(cb);
        if (k > 0 || Date.now() - started >= timeoutMs) return done(k);
        delay = Math.min(delay * 2, 10);
        t = setTimeout(tick, delay);
      };
      t = setTimeout(tick, delay);
    });
  }

  /**
   * Reads continuously: a timer checks the producer position every `busyMs` while records keep
   * coming and backs off to `idleMs` when idle. `onBatch` runs after each pass that read records.
   */
  start(cb: RecordHandler, onBatch?: (n: number) => void, opt: PollOptions = {}): void {
    if (this.closed) throw new Error('ring buffer reader is closed');
    if (this.loop) throw new Error('ring buffer reader already started');
    const busy = opt.busyMs ?? 1, idle = opt.idleMs ?? 10;
    this.loop = {
      cb, onBatch, delay: busy, busy, idle, watchedIdle: opt.watchedIdleMs ?? 500, wake: opt.wake,
      smallBatch: opt.smallBatch ?? 16, wakesPerTick: opt.wakesPerTick ?? 8,
    };
    this.timer = setTimeout(this.tick, busy);
  }

  /** Idle with a wake-up: watch for the first record (the timer stays, at watchedIdleMs, as a safety net). */
  private arm(): void {
    const l = this.loop;
    if (!l?.wake || this.watch || this.closed) return;
    try {
      this.watch = l.wake(this.woken);
    } catch {
      // thrown inside tick()'s finally, it would stop the timer for good
      this.stats.watchFailed++;
    }
  }

  private disarm(): void {
    const w = this.watch;
    this.watch = undefined;
    if (w) void w.close();
  }

  private readonly woken = (): void => {
    const l = this.loop;
    if (!l || this.closed) return this.disarm();
    if (l.delay !== l.busy) {
      // idle: the timer was the safety net; read now and poll at busyMs from here
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.tick();
      return;
    }
    // busy, after a light pass: read now; the busy timer keeps its time. The watch is
    // level-triggered, so it stays armed only while passes stay light and few: records left
    // behind (one still being written) would call back on every turn of the event loop
    let n = l.smallBatch;
    try {
      n = this.poll();
    } finally {
      // a call with nothing to read costs no datagram (the tick read the records first, in the
      // same turn of the event loop), but one that keeps coming is a record still being written
      if (n > 0) this.wakes++;
      else this.emptyWakes++;
      if (n >= l.smallBatch || this.wakes >= l.wakesPerTick || this.emptyWakes >= 4) this.disarm();
    }
  };

  /** One pass of the continuous reader; also callable directly (e.g. on a wake-up). */
  poll(): number {
    const l = this.loop;
    if (!l || this.closed) return 0;
    const n = this.drain(l.cb);
    if (n > 0 && l.onBatch) l.onBatch(n);
    return n;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    const l = this.loop;
    if (!l || this.closed) return;
    let n = 0;
    this.wakes = this.emptyWakes = 0;
    try {
      n = this.poll();
    } finally {
      if (!this.closed) {
        if (n > 0) {
          l.delay = l.busy;
          if (n < l.smallBatch && l.wake) this.arm();
          else this.disarm();
        } else if (l.wake) {
          this.arm();
          // a watch that could not be opened leaves the timer to do its work
          l.delay = this.watch ? l.watchedIdle : l.idle;
        } else l.delay = Math.min(l.delay * 2, l.idle);
        this.timer = setTimeout(this.tick, l.delay);
      }
    }
  };

  /**
   * Stops the timer and any pending read(), waits for a drain in progress (a handler may call
   * close()), and only then unmaps: a read after munmap would crash the process.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.disarm();
    this.loop = undefined;
    for (const w of [...this.waiters]) w();
    this.waiters = [];
    this.closing = new Promise<void>((resolve) => { this.resolveClose = resolve; });
    if (!this.draining) this.finishClose();
    return this.closing;
  }

  private resolveClose: () => void = () => {};
  private released = false;

  private finishClose(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.mem.release?.();
    } finally {
      this.resolveClose();
    }
  }
}

const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
const SC_PAGESIZE = 30;
const MAP_FAILED = 0xffffffffffffffffn;

export function pageSize(): number {
  return libc.sysconf(SC_PAGESIZE);
}

/** Maps a ring-buffer map fd of `size` data bytes as the kernel lays it out. */
export function mapRing(fd: number, size: number): RingMemory {
  const page = pageSize();
  const cptr = libc.mmap(null, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address(cptr) === MAP_FAILED) throw new SysError('mmap(ring buffer consumer page)', errno());
  const plen = page + 2 * size;
  const pptr = libc.mmap(null, plen, PROT_READ, MAP_SHARED, fd, page);
  if (address(pptr) === MAP_FAILED) {
    const e = errno();
    libc.munmap(cptr, page);
    throw new SysError('mmap(ring buffer data)', e);
  }
  let released = false;
  return {
    consumer: view(cptr, page),
    producer: view(pptr, plen),
    dataOffset: page,
    size,
    release() {
      if (released) return;
      released = true;
      libc.munmap(pptr, plen);
      libc.munmap(cptr, page);
    },
  };
}

/** Ring size for event-listen-queue-size: MB rounded up to a power of two, at least one page. */
export function ringSizeFor(megabytes: number, page = 4096): number {
  const want = Math.max(page, Math.ceil(Math.max(0, megabytes) * 1024 * 1024));
  let size = page;
  while (size < want && size < 2 ** 30) size *= 2;
  return size;
}
