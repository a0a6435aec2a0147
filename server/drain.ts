/**
 * A drain of this node (spec §13): what the drain options mean, one `app.drain` per session with
 * its own reconnect slot (DR-2, DR-3), and the drain's own state: whether one runs, its promise,
 * the deadline that destroys what is left (DR-5). The server turns readiness off (DR-1) and
 * refuses upgrades while `isDraining` (HS-6).
 */
import type { SessionActor } from './session-actor.js';
import { DrainReason } from '../gen/lifeline/v1/envelope_pb.js';
import { drainSlots } from '../spec/protocol/drain-spread.js';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Connection } from './connection.js';
import { endingOf, type Host } from './host.js';
import type { ResolvedOptions } from './options.js';
import type { LiveSession } from './session.js';
import type { DrainOptions } from './types.js';
import { sanitizeUrl } from './observability/logger.js';

/** DrainNotice.target's bound in the codec (spec §17.2). */
const MAX_DRAIN_TARGET_BYTES = 2048;

export interface DrainPlan {
  readonly deadlineMs: number;
  readonly spreadMs: number;
  /** Each session closes this much before the drain deadline, so its close is not raced by DR-5. */
  readonly closeMarginMs: number;
  readonly reason: DrainReason;
  /** '' unless a rebalance (spec §13.3). */
  readonly target: string;
  readonly isRebalance: boolean;
}

/** The drain's numbers, or a RangeError for a target the codec would refuse. */
export function planDrain(opts: DrainOptions, o: Pick<ResolvedOptions, 'drainDeadlineMs' | 'drainSpreadMs'>): DrainPlan | RangeError {
  const target = opts.target ?? '';
  if (new TextEncoder().encode(target).byteLength > MAX_DRAIN_TARGET_BYTES) return new RangeError(`drain target longer than ${MAX_DRAIN_TARGET_BYTES} bytes`);
  const isRebalance = target !== '';
  const deadlineMs = opts.deadlineMs ?? o.drainDeadlineMs;
  return {
    deadlineMs,
    spreadMs: opts.spreadMs ?? o.drainSpreadMs,
    closeMarginMs: Math.min(1000, Math.floor(deadlineMs / 10)),
    reason: opts.reason ?? (isRebalance ? DrainReason.REBALANCE : DrainReason.DEPLOY),
    target,
    isRebalance,
  };
}

export interface NoticeContext {
  /** When the drain began (clock ms): slots are absolute from there. */
  readonly startedAt: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly hostOf: (actor: SessionActor) => Host | undefined;
}

/**
 * DR-2, DR-3: every attached session gets its notice with its own slot; a connection still
 * handshaking has no session to notify and is closed (its machine decides how).
 */
export function sendDrainNotices(attached: LiveSession[], handshaking: readonly SessionActor[], plan: DrainPlan, c: NoticeContext): void {
  // Shuffle so the same clients are not always last (spec §13.2).
  for (let i = attached.length - 1; i > 0; i--) {
    const j = Math.floor(c.random() * (i + 1));
    [attached[i], attached[j]] = [attached[j] as LiveSession, attached[i] as LiveSession];
  }
  const slots = drainSlots(attached.length, { spreadMs: plan.spreadMs, random: c.random }); // DR-3
  for (const actor of handshaking) actor.send({ type: 'app.drain', reconnectAfterMs: 0, deadlineMs: plan.deadlineMs });
  attached.forEach((s, i) => {
    const elapsed = c.clock.now() - c.startedAt;
    const host = c.hostOf(s.actor);
    if (host) {
      const ending = endingOf(host);
      ending.drainReason = plan.reason;
      ending.drainTarget = plan.target;
    }
    s.actor.send({
      type: 'app.drain',
      isRebalance: plan.isRebalance,
      // The slots are absolute from the drain's start; the notice says how long from its receipt.
      reconnectAfterMs: Math.max(0, Math.round((slots[i] ?? 0) - elapsed)),
      deadlineMs: Math.max(0, Math.round(plan.deadlineMs - elapsed - plan.closeMarginMs)),
    });
  });
}

/** What a drain reads and calls (the server wires it to its registry and lifecycle). */
export interface DrainDeps {
  readonly opts: Pick<ResolvedOptions, 'drainDeadlineMs' | 'drainSpreadMs'>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  /** Every open connection (the deadline destroys them, DR-5). */
  readonly conns: ReadonlySet<Connection>;
  /** DR-2: who gets a notice, and who is still handshaking. */
  targets(): { attached: LiveSession[]; handshaking: SessionActor[] };
  hostOf(actor: SessionActor): Host | undefined;
  /** Issue 12: write the session's record before the node goes. */
  save(s: LiveSession): void;
  /** Issue 12: what the node still owes a shared store; the drain resolves after it (none: at once). */
  flush(): Promise<void> | undefined;
  /** DR-1: readiness off, first. */
  readinessOff(): void;
}

/** The node's drain state; one per server. */
export class NodeDrain {
  isDraining = false;
  /** DrainNotices sent in this drain (the drain gauge). */
  noticesSent = 0;
  private promise: Promise<void> | undefined;
  private onConnsEmpty: (() => void) | undefined;

  constructor(private readonly d: DrainDeps) {}

  /** Start a drain (LifelineServer.drain); the same promise while one runs. */
  start(opts: DrainOptions): Promise<void> {
    if (this.promise) return this.promise;
    const d = this.d;
    const plan = planDrain(opts, d.opts);
    if (plan instanceof RangeError) return Promise.reject(plan); // before anything changes
    const startedAt = d.clock.now();
    this.noticesSent = 0;
    d.readinessOff(); // DR-1: readiness off first …
    this.isDraining = true; // … then upgrades get 503 (HS-6)
    const { attached, handshaking } = d.targets();
    d.log.info({ sessions: attached.length, deadlineMs: plan.deadlineMs, spreadMs: plan.spreadMs, ...(plan.isRebalance ? { target: sanitizeUrl(plan.target) } : {}) }, 'draining');
    sendDrainNotices(attached, handshaking, plan, { startedAt, clock: d.clock, random: d.random, hostOf: (a) => d.hostOf(a) });
    for (const s of attached) d.save(s); // issue 12: the record is current before the node goes
    this.promise = new Promise<void>((resolve) => {
      const done = () => {
        d.clock.clearTimeout(deadline);
        this.onConnsEmpty = undefined;
        resolve(d.flush());
      };
      // On the server's clock, and not a background timer: a drain awaited by a script keeps it alive until the deadline.
      const deadline = d.clock.setTimeout(() => {
        for (const c of [...d.conns]) c.terminate(plan.isRebalance ? 'RECONNECT_ELSEWHERE' : 'SERVICE_RESTART'); // DR-5
        if (d.conns.size === 0) done();
      }, Math.max(0, plan.deadlineMs - (d.clock.now() - startedAt)));
      this.onConnsEmpty = done;
      if (d.conns.size === 0) done();
    });
    return this.promise;
  }

  /** The last connection closed: a running drain is complete. */
  connsEmpty(): void {
    this.onConnsEmpty?.();
  }

  /**
   * Leave the draining state once the drain has resolved; true when it did (the server then turns
   * readiness back on). Never while sessions are still leaving, and not over a later drain.
   */
  async end(): Promise<boolean> {
    const drained = this.promise;
    if (!drained) return false;
    await drained; // never reopen while sessions are still leaving
    if (this.promise !== drained) return false; // a later drain() owns the state now
    this.isDraining = false;
    this.promise = undefined;
    return true;
  }
}
