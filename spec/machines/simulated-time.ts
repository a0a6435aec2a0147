/**
 * Test support for the machines: advance XState's SimulatedClock one timer deadline
 * at a time, as real time would. SimulatedClock's own increment() jumps, so a timer
 * re-armed while flushing would be scheduled from the end time instead of from when
 * it fired. Reads the clock's private timer map (xstate 5.x), the one place that does.
 */
export function advanceClock(clock: { now(): number; set(t: number): void }, ms: number): void {
  const end = clock.now() + ms;
  const timers = (clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }).timeouts;
  for (;;) {
    let next = Infinity;
    for (const t of timers.values()) next = Math.min(next, t.start + t.timeout);
    if (next > end) break;
    clock.set(Math.max(next, clock.now()));
  }
  clock.set(end);
}
