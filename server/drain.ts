/**
 * The notices of a drain (spec §13): what the drain options mean, and one `app.drain` per
 * session with its own reconnect slot (DR-2, DR-3). The server owns the rest (readiness, the
 * deadline, DR-5).
 */
import type { SessionActor } from './session-actor.js';
import { DrainReason } from '../gen/lifeline/v1/envelope_pb.js';
import { drainSlots } from '../spec/protocol/drain-spread.js';
import type { Clock } from './clock.js';
import type { Host } from './host.js';
import type { ResolvedOptions } from './options.js';
import type { LiveSession } from './session.js';
import type { DrainOptions } from './types.js';

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
      host.drainReason = plan.reason;
      host.drainTarget = plan.target;
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
