/**
 * Time for the client: a monotonic `now()` for RTT (HB-9) and timers. XState's SimulatedClock fits
 * this shape, so tests drive the machine and the adapter's own timers (ack delay) from one clock.
 */
export interface ClientClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** performance.now() exists in browsers and Node and never goes backwards, unlike Date.now(). */
export const systemClock: ClientClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof globalThis.setTimeout>),
};
