/**
 * The one liveness timer for all sockets (HB-1, HB-2, HB-3): no timer per socket,
 * whose cost grows with the socket count (issue 7). Each member is visited once
 * per interval; with `slices` > 1 the timer fires every interval/slices and visits
 * that share of the members, so no single block of work covers all of them.
 *
 * It also measures its own tick drift: how late each tick fires, which is the
 * event loop's lag at that moment.
 */
import { serverTimers, type Clock, type TimerHandle } from './clock.js';
import type { SweepStats } from './types.js';

/**
 * Who the sweep visits. A Set by default; a caller that indexes its members already can pass a view
 * over its own index instead of a second copy (server/liveness.ts SweptConnections: memory per idle
 * session). Each cycle visits the `values()` that `has` holds at their turn.
 */
export interface SweepMembers<T> {
  add(member: T): void;
  delete(member: T): void;
  has(member: T): boolean;
  readonly size: number;
  values(): Iterable<T>;
}

export interface SweepOptions<T> {
  /** Default: a Set of its own, filled by add() and delete(). */
  readonly members?: SweepMembers<T>;
  readonly intervalMs: number;
  readonly slices: number;
  readonly clock: Clock;
  readonly visit: (member: T) => void;
  /** Called at the start of every full cycle (housekeeping). */
  readonly onCycle?: () => void;
  /** Called when a tick is later than a whole interval (the loop is wedged). */
  readonly onLagAlarm?: (lagMs: number) => void;
  /** After every tick: how late it fired and how long its slice took, in ms (metrics). */
  readonly onTick?: (lagMs: number, sliceMs: number) => void;
}

export class LivenessSweep<T> {
  private readonly members: SweepMembers<T>;
  private cycle: T[] = [];
  private slice = 0;
  private timer: TimerHandle | undefined;
  private lastTickAt = 0;
  private lagMs = 0;
  private maxLagMs = 0;
  private lastSliceMs = 0;
  private ticks = 0;
  private readonly periodMs: number;

  /** The server's clock; with the system clock its timer never keeps the process alive (the HTTP server does). */
  private readonly timers: Clock;

  constructor(private readonly opts: SweepOptions<T>) {
    this.members = opts.members ?? new Set<T>();
    this.periodMs = opts.intervalMs / opts.slices;
    this.timers = serverTimers(opts.clock);
  }

  add(member: T): void {
    this.members.add(member);
  }

  delete(member: T): void {
    this.members.delete(member);
  }

  get size(): number {
    return this.members.size;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.lastTickAt = this.opts.clock.now();
    this.timer = this.timers.setTimeout(this.onTimer, this.periodMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer); // a simulated clock's first id is 0
    this.timer = undefined;
  }

  /**
   * The Clock has one-shot timers only: each tick arms the next before its work, as setInterval
   * did (a visit that throws, or calls stop(), leaves the schedule as setInterval left it).
   */
  private readonly onTimer = (): void => {
    this.timer = this.timers.setTimeout(this.onTimer, this.periodMs);
    this.tick();
  };

  stats(): SweepStats {
    return { lagMs: this.lagMs, maxLagMs: this.maxLagMs, lastSliceMs: this.lastSliceMs, ticks: this.ticks, members: this.members.size };
  }

  /** One tick: visit this slice's members. Public so tests can drive it. */
  tick(): void {
    const now = this.opts.clock.now();
    this.lagMs = Math.max(0, now - this.lastTickAt - this.periodMs);
    this.maxLagMs = Math.max(this.maxLagMs, this.lagMs);
    this.lastTickAt = now;
    this.ticks++;
    if (this.lagMs > this.opts.intervalMs) this.opts.onLagAlarm?.(this.lagMs);
    if (this.slice === 0) {
      this.cycle = [...this.members.values()];
      this.opts.onCycle?.();
    }
    const per = Math.ceil(this.cycle.length / this.opts.slices);
    const end = Math.min(this.cycle.length, (this.slice + 1) * per);
    for (let i = this.slice * per; i < end; i++) {
      const m = this.cycle[i] as T;
      if (this.members.has(m)) this.opts.visit(m); // left since the cycle began: skip
    }
    this.slice = (this.slice + 1) % this.opts.slices;
    if (this.slice === 0) this.cycle = [];
    this.lastSliceMs = this.opts.clock.now() - now;
    this.opts.onTick?.(this.lagMs, this.lastSliceMs);
  }
}
