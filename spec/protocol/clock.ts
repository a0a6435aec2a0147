/**
 * The one clock both ends read (issue 12): a monotonic `now()` and the timers. The server, the client
 * and the machines' runners take it as a parameter, so tests drive every timer from one simulated
 * clock (XState's SimulatedClock has this shape) and no code calls the global timers behind it.
 */
export type TimerHandle = unknown;

export interface Clock {
  /** Monotonic milliseconds (never goes backwards, unlike Date.now()). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

type NodeTimer = { unref?: () => void };

/** performance.now() and the platform's timers; exists in browsers and Node. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/**
 * The same clock whose timers never keep a Node process alive (a server's handshake, resume and
 * close timers): where the runtime has no unref (a browser), timers are unchanged.
 */
export function backgroundTimers(clock: Clock): Clock {
  if (clock !== systemClock) return clock;
  return {
    now: clock.now,
    setTimeout: (fn, ms) => {
      const t = globalThis.setTimeout(fn, ms) as unknown as NodeTimer;
      t.unref?.();
      return t;
    },
    clearTimeout: clock.clearTimeout,
  };
}
