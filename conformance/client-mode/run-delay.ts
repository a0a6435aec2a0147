/**
 * How long the process under test waited for a CPU (session 9, s9-robust): the run-queue wait Linux
 * keeps per thread (`/proc/<pid>/schedstat`, second field, ns). The runner's stall monitor
 * (framework/stall.ts) only sees the runner's own event loop; a client adapter starved by other load
 * fires its timers late by the time it waited for a CPU, and the runner sees nothing of it (RC-2
 * failed once under three busy loops: a 100 ms window waited 173 ms by the client's own reports).
 *
 * Measured on this 2-core machine under three busy loops (40 timers of 50…350 ms in one node
 * process): each timer's lateness equalled the run-queue wait of the process over the timer's span
 * within 1 ms (lateness up to 232 ms; 1 of 40 exceeded it by more than 5 ms), so a bound may add the
 * process's measured wait over the span it checks: the declared value, plus what was measured.
 *
 * The counter is cumulative, so a sampler that runs late (the runner starved too) loses nothing:
 * a span is read from the last sample at or before its start to the first at or after its end,
 * which can only widen it. Each process's main thread is read (where Node runs its timers), for the
 * adapter and the processes it started (an `npx …` wrapper's child does the work); the span's wait is
 * the largest of theirs. Where the file cannot be read (not Linux) there is no tracker and cases
 * keep their fixed allowances.
 */
import { readFileSync } from 'node:fs';

/** Sampling period (ms): a span's edges are read at most about this far outside it. */
const SAMPLE_MS = 10;
/** Samples kept per process (a case is shorter than ~3 minutes of them). */
const KEEP = 20_000;

/** Cumulative run-queue wait of the main thread of `pid`, in ms; undefined when unreadable. */
export function readRunDelayMs(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ');
    const ns = Number(f[1]);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** `pid` and every process under it (`/proc/<pid>/task/<pid>/children`); just `pid` where that is unreadable. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 64; i++) {
    const p = out[i] as number;
    try {
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, 'latin1').split(' ')) if (c.trim() !== '') out.push(Number(c));
    } catch {
      // no children file (older kernel, or the process is gone): its own wait is still read
    }
  }
  return out;
}

interface Series {
  readonly pid: number;
  readonly at: number[];
  readonly ms: number[];
}

export class RunDelay {
  private readonly series: Series[];
  private timer: NodeJS.Timeout | undefined;

  /** A tracker that samples only when told (`start` is the one that samples on its own). */
  constructor(
    pids: readonly number[],
    private readonly read: (pid: number) => number | undefined = readRunDelayMs,
  ) {
    this.series = pids.map((pid) => ({ pid, at: [], ms: [] }));
  }

  /** A tracker of `pid` and its child processes, sampling from now on; undefined where none can be read. */
  static start(pid: number | undefined): RunDelay | undefined {
    if (pid === undefined || readRunDelayMs(pid) === undefined) return undefined;
    const t = new RunDelay(processTree(pid));
    t.sample();
    t.timer = setInterval(() => t.sample(), SAMPLE_MS);
    t.timer.unref();
    return t;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Read every process now (also called at the end of a span that has no sample after it yet). */
  sample(now = performance.now()): void {
    for (const s of this.series) {
      const ms = this.read(s.pid);
      if (ms === undefined) continue; // exited: its last sample stands
      s.at.push(now);
      s.ms.push(ms);
      if (s.at.length > KEEP) {
        s.at.splice(0, s.at.length - KEEP);
        s.ms.splice(0, s.ms.length - KEEP);
      }
    }
  }

  /**
   * Milliseconds the process under test (the most-waiting of its processes) waited for a CPU within
   * [from, to] (performance.now() times), read from the samples around the span: at least the wait
   * inside it, never less.
   */
  waitedMs(from: number, to: number): number {
    if (this.timer !== undefined && to >= (this.series[0]?.at.at(-1) ?? Infinity)) this.sample();
    let worst = 0;
    for (const s of this.series) {
      const i = lastAtOrBefore(s.at, from);
      const j = firstAtOrAfter(s.at, to);
      const start = s.ms[Math.max(0, i)];
      const end = s.ms[j < 0 ? s.ms.length - 1 : j];
      if (start !== undefined && end !== undefined) worst = Math.max(worst, end - start);
    }
    return Math.round(worst);
  }
}

/** Index of the last element ≤ t (−1 when none); `xs` ascending. */
function lastAtOrBefore(xs: readonly number[], t: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  let out = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) <= t) {
      out = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return out;
}

/** Index of the first element ≥ t (−1 when none); `xs` ascending. */
function firstAtOrAfter(xs: readonly number[], t: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  let out = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) >= t) {
      out = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return out;
}
