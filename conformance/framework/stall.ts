/**
 * The runner's own event-loop stalls (issue 18, runner item 6). Every timing a case measures is
 * taken on this event loop: if it was blocked (a loaded machine, a garbage collection, another
 * case's CPU work), a bound can be missed that the implementation met. A timer that should fire
 * every SAMPLE_MS records how late it fired; a case's worst stall is the largest lateness seen
 * while it ran, and a failure during a stall above the case's slack is the runner's, not the
 * implementation's.
 */

const SAMPLE_MS = 10;
/** Keep about a minute of samples per running case window (cases are shorter than that). */
const KEEP = 6000;
/** Below this a stall is timer resolution, not a stall. */
export const STALL_FLOOR_MS = 20;

export class StallMonitor {
  private readonly at: number[] = [];
  private readonly lag: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private users = 0;

  /** Start sampling (shared: each start needs a stop). */
  start(): void {
    if (this.users++ > 0) return;
    this.last = performance.now();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (--this.users > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    const now = performance.now();
    this.at.push(now);
    this.lag.push(Math.max(0, now - this.last - SAMPLE_MS));
    this.last = now;
    if (this.at.length > KEEP) {
      this.at.splice(0, this.at.length - KEEP);
      this.lag.splice(0, this.lag.length - KEEP);
    }
  }

  /** The longest stall (ms) that ended within [from, to] (performance.now() times), including one still going on. */
  worst(from: number, to = performance.now()): number {
    let worst = 0;
    for (let i = this.at.length - 1; i >= 0; i--) {
      const t = this.at[i] as number;
      if (t < from) break;
      if (t <= to) worst = Math.max(worst, this.lag[i] as number);
    }
    // a stall still in progress at `to` has not produced its sample yet
    if (this.timer && to >= this.last) worst = Math.max(worst, to - this.last - SAMPLE_MS);
    return Math.round(worst);
  }
}

/** The runner's one monitor. */
export const stalls = new StallMonitor();
