/**
 * MN-6: a call to a shared store that is away is retried, never failed. While Redis restarts, a
 * client message waits for its dedupe answer (and its Ack for the id's write, MN-1, MN-5) instead of
 * failing its session with 1011; the session stays up and the message goes on when the store is back.
 * Backoff as the write-ahead's: 50 ms doubling to 2 s. Only a promise (a shared store) comes here: the
 * memory store's synchronous answers take no closure and no promise on the single-node hot path.
 */
import type { MaybePromise } from './session-store.js';

const FIRST_MS = 50;
const MAX_MS = 2_000;

/** The session the call was for is gone: nothing waits for the answer any more. */
export class StoreRetryAbandoned extends Error {
  override readonly name = 'StoreRetryAbandoned';
}

/**
 * `first` (a store call already made), and while it rejects, `op()` again after the backoff until
 * it resolves or `isGone()` (then StoreRetryAbandoned). The caller makes the first call itself, so
 * a synchronous answer never reaches here. `onRetry` hears each failure.
 */
export function untilStored<T>(first: Promise<T>, op: () => MaybePromise<T>, isGone: () => boolean, onRetry?: (err: unknown) => void): Promise<T> {
  return first.catch((err: unknown) => retry(op, isGone, onRetry, err, FIRST_MS));
}

async function retry<T>(op: () => MaybePromise<T>, isGone: () => boolean, onRetry: ((err: unknown) => void) | undefined, err: unknown, delayMs: number): Promise<T> {
  let lastErr = err;
  for (let delay = delayMs; ; delay = Math.min(MAX_MS, delay * 2)) {
    onRetry?.(lastErr);
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (isGone()) throw new StoreRetryAbandoned('session ended while its store call waited', { cause: lastErr });
    try {
      return await op();
    } catch (e) {
      lastErr = e;
    }
  }
}
