/** Where the server reads time; tests substitute their own (CONVENTIONS §7). */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };
