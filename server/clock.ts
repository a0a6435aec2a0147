/**
 * The server's clock is the one Clock of spec/protocol (issue 12): a monotonic `now()` and the
 * timers, taken as the `clock` option, so a test drives every server timer from one clock.
 */
import { backgroundTimers, systemClock, type Clock } from '../spec/protocol/clock.js';

export { backgroundTimers, systemClock, type Clock, type TimerHandle } from '../spec/protocol/clock.js';

const backgroundSystemClock = backgroundTimers(systemClock);

/**
 * The clock for the server's own housekeeping timers (sweep, upgrade deadlines): with the system
 * clock they never keep the process alive (the HTTP server does), made once rather than per call;
 * any other clock (a test's) is used as it is.
 */
export function serverTimers(clock: Clock): Clock {
  return clock === systemClock ? backgroundSystemClock : clock;
}
