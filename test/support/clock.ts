/**
 * Clocks for tests that set the time themselves (issue 12: the server's `clock` option is the one
 * Clock, now + timers). Most tests only freeze or step `now()`; their timers stay real.
 */
import { backgroundTimers, systemClock, type Clock } from '../../spec/protocol/clock.js';

const timers = backgroundTimers(systemClock);

/**
 * A Clock that reads the time from `now` and keeps the platform's timers, which never keep the
 * test process alive (like the server's own with the system clock).
 */
export function clockAt(now: () => number): Clock {
  return { now, setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout };
}
