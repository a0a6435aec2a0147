/** The pending `ready()` calls of a client and how they settle. */
import type { WelcomeInfo } from './events.js';

function ignore(): void {}

/**
 * A pending `ready()`: its promise and how to settle it. Marked handled as it is rejected, before
 * anyone could observe it unhandled (as SendWaiter in create-client.ts): handled() at creation cost
 * a derived promise and a closure on every connect (issue 16).
 */
export class ReadyWaiter {
  readonly promise: Promise<WelcomeInfo>;
  resolve!: (info: WelcomeInfo) => void;
  private rejectFn!: (err: Error) => void;

  constructor() {
    this.promise = new Promise<WelcomeInfo>((resolve, reject) => {
      this.resolve = resolve;
      this.rejectFn = reject;
    });
  }

  reject(err: Error): void {
    this.promise.catch(ignore);
    this.rejectFn(err);
  }
}

/** Settle every waiter in `all`: rejected with `err` if given, else resolved with `info` (then defined). */
export function settleReadyWaiters(all: readonly ReadyWaiter[], err: Error | undefined, info: WelcomeInfo | undefined): void {
  for (const w of all) {
    if (err) w.reject(err);
    else w.resolve(info as WelcomeInfo);
  }
}
