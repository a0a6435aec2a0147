/**
 * Time for the client: the one Clock of spec/protocol, a monotonic `now()` for RTT (HB-9) and timers.
 * XState's SimulatedClock fits this shape, so tests drive the machine and the adapter's own timers
 * (ack delay) from one clock.
 */
import type { Clock } from '../spec/protocol/clock.js';
export { systemClock } from '../spec/protocol/clock.js';

/** @deprecated the same type as `Clock` of `lifeline/protocol`; kept as a name of the public client API. */
export type ClientClock = Clock;
