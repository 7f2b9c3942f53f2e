// Time as the sync modes see it, injected so that tests (and the daemon's own tests) can drive
// the protocol deterministically:
//
//   realClock                 performance.now(), Date.now(), setInterval/setTimeout, a promise reaction
//   new ManualClock(startMs)  time moves only with advance(ms); deferred tasks run on runDeferred()
//                             and at every advance step

export interface Clock {
  /** monotonic milliseconds */
  now(): number;
  /** wall-clock seconds (time(NULL)): the first sequence number */
  wallSeconds(): number;
  /** calls fn every ms milliseconds until the returned function is called */
  every(ms: number, fn: () => void): () => void;
  /** calls fn once, ms milliseconds from now, unless the returned function is called first */
  after(ms: number, fn: () => void): () => void;
  /** runs fn once, after the current batch of work (a microtask on the real clock) */
  defer(fn: () => void): void;
}

const settled = Promise.resolve();

export const realClock: Clock = {
  now: () => performance.now(),
  wallSeconds: () => Math.floor(Date.now() / 1000),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  // a promise reaction, not queueMicrotask: Node makes an AsyncResource and a bound function for
  // each queueMicrotask call, and the sync mode defers a flush after every batch of events
  defer: (fn) => { settled.then(fn); },
};

interface Periodic { ms: number; due: number; fn: () => void; live: boolean; once?: boolean }

export class ManualClock implements Clock {
  private t: number;
  private readonly periodic: Periodic[] = [];
  private deferred: (() => void)[] = [];

  constructor(startMs = 0, private readonly wall = 1_700_000_000) {
    this.t = startMs;
  }

  now(): number { return this.t; }
  wallSeconds(): number { return this.wall + Math.floor(this.t / 1000); }

  every(ms: number, fn: () => void): () => void {
    const p: Periodic = { ms, due: this.t + ms, fn, live: true };
    this.periodic.push(p);
    return () => { p.live = false; };
  }

  after(ms: number, fn: () => void): () => void {
    const p: Periodic = { ms, due: this.t + ms, fn, live: true, once: true };
    this.periodic.push(p);
    return () => {
      p.live = false;
      const i = this.periodic.indexOf(p);
      if (i >= 0) this.periodic.splice(i, 1);
    };
  }

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  /** Runs deferred tasks (and the tasks they defer) until none is left. */
  runDeferred(): void {
    for (let guard = 0; this.deferred.length && guard < 1_000_000; guard++) {
      const fn = this.deferred.shift()!;
      fn();
    }
  }

  /** Moves time forward, firing periodic callbacks in time order, running deferred work between. */
  advance(ms: number): void {
    const end = this.t + ms;
    this.runDeferred();
    for (;;) {
      let next: Periodic | undefined;
      for (const p of this.periodic) if (p.live && p.due <= end && (!next || p.due < next.due)) next = p;
      if (!next) break;
      this.t = next.due;
      next.due += next.ms;
      if (next.once) {
        next.live = false;
        this.periodic.splice(this.periodic.indexOf(next), 1);
      }
      next.fn();
      this.runDeferred();
    }
    this.t = end;
    this.runDeferred();
  }
}
