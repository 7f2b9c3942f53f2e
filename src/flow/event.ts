// What every event source delivers: one kernel conntrack (or expectation) change.
import type { Flow, Expectation } from './flow.ts';

export const EV = { NEW: 0, UPDATE: 1, DESTROY: 2 } as const;
export type EventType = 0 | 1 | 2;
export const EVENT_NAMES = ['new', 'update', 'destroy'] as const;

export interface FlowEvent {
  type: EventType;
  flow: Flow;
  /** netlink port id of the socket whose request caused the change (0: the kernel itself) */
  origin: number;
  /** CLOCK_MONOTONIC ns when the kernel emitted the event, where the source knows it */
  kernelNs?: bigint;
}

export interface ExpectationEvent {
  type: EventType;
  exp: Expectation;
  origin: number;
}
