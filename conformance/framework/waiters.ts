/**
 * Waiting on a condition that socket events change: the fake server and the raw
 * peer both re-check a case's condition on every event they see, and fall back to
 * a 50 ms poll so a condition that depends on time alone still gets checked.
 */
import { waitingFor } from './activity.js';
import { WaitFailure } from './failure.js';

export class Waiters {
  private waiters: (() => void)[] = [];

  /** Something happened (a frame, a ping, a close): re-check every pending condition. */
  wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Resolve with `cond()` once it holds; fail the case after timeoutMs, naming `what`. */
  async until<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    return waitingFor(`${what} (up to ${Math.round(timeoutMs)} ms)`, this.poll(cond, timeoutMs, what));
  }

  private async poll<T>(cond: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = cond();
      if (v !== undefined && v !== false) return v;
      const left = deadline - performance.now();
      if (left <= 0) throw new WaitFailure(what, timeoutMs);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
