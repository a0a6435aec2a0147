/**
 * Resume on another node (issue 14, MN-3): a Hello names a session this node does not hold, and
 * the store is shared, so another node may have served it (or died serving it). Load the record;
 * no record: the Hello hears why the id is gone (RS-6, RS-11); another principal's: NEW with
 * PRINCIPAL_MISMATCH, touching nothing; else claim it (fencing: the old owner's writes are refused
 * from here on, and the store tells it: MN-4), read the record again (the old owner can no longer
 * change it), revive it here, detached, and catch it up on its channels (catch-up.ts, MN-2). The
 * caller then resumes it as a local session (RS-2 … RS-5).
 *
 * A Hello that needs the store while it is away is refused TRY_AGAIN_LATER (1013, MN-12): the
 * client backs off and tries again; nothing is decided on a guess.
 *
 * A session live here but detached comes this way too (MN-16): this node may have missed the notice
 * of a claim by another node (it was cut off from the store), and its copy is then older than what
 * the client saw there. The store's owner and fence decide: still ours, resumed here as it is;
 * claimed since, the local copy is dropped (moved) and the record revived. While the store is away
 * the local copy is all there is, and it is resumed.
 */
import type { Logger } from 'pino';
import { ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import type { CatchUps } from './catch-up.js';
import type { Clock } from './clock.js';
import type { Connection } from './connection.js';
import type { HandoffClaimCause, LifelineMetrics } from './observability/metrics.js';
import type { LiveSession } from './session.js';
import { resumeReasonOf, type SessionLifecycle } from './session-lifecycle.js';
import type { SessionRecord } from './stores/session-record.js';
import type { LeaseState, SessionStore } from './stores/session-store.js';

/** What the Hello gets: the session, revived here; a new one and why; or "the store is away" (1013). */
export type StoreResume =
  | { readonly kind: 'resumed'; readonly session: LiveSession }
  | { readonly kind: 'new'; readonly reason: ResumeReason }
  | { readonly kind: 'unavailable' };

export interface StoreResumeDeps {
  readonly store: SessionStore;
  readonly nodeId: string;
  readonly lifecycle: Pick<SessionLifecycle, 'revive' | 'moved' | 'recordMissing' | 'isOvertaken'>;
  readonly catchUps: Pick<CatchUps<LiveSession>, 'run'>;
  readonly log: Logger;
  liveSession(id: string): LiveSession | undefined;
  /** CC-8, RS-11: room for one more session here. */
  makeRoomForSession(): boolean;
  endedReason(id: string): ResumeReason | Promise<ResumeReason>;
  /** MN-17: the longest wait for another node to release a session it holds attached, ms, with a store that keeps no leases. */
  readonly handoffWaitMs: number;
  /** MN-17, MN-18: the same with a store that keeps leases, for an owner whose lease is alive (a dead one is not waited for; one that never kept a lease: handoffWaitMs). */
  readonly releaseWaitMs: number;
  /** The server's clock (its timers: a test's SimulatedClock drives the wait). */
  readonly clock: Clock;
  readonly metrics: LifelineMetrics | undefined;
}

/** How often a node waiting for a release reads the record (and the owner's lease) again (MN-17), ms. */
const RELEASE_POLL_MS = 20;
/** How often the release request is repeated while waiting: an owner that died meanwhile hears none (MN-18), ms. */
const RELEASE_REPEAT_MS = 250;

const UNAVAILABLE: StoreResume = { kind: 'unavailable' };

/** The shared store answers now (no health: always). */
export function isStoreReady(store: SessionStore): boolean {
  return store.health === undefined || store.health.isReady();
}

/** MN-3 for one node: concurrent Hellos for one id share one load-claim-revive (the later then takes it over locally, RS-7). */
export class StoreResumes {
  private readonly inFlight = new Map<string, Promise<StoreResume>>();

  constructor(private readonly d: StoreResumeDeps) {}

  resume(id: string, principal: string, conn: Connection): Promise<StoreResume> {
    const running = this.inFlight.get(id);
    if (running) {
      // Another Hello on this node is reviving it: this one then resumes it here (a local takeover).
      return running.then((r) => (r.kind === 'resumed' && r.session.principal !== principal ? { kind: 'new', reason: ResumeReason.PRINCIPAL_MISMATCH } : r));
    }
    const p = this.run(id, principal, conn).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, p);
    return p;
  }

  private async run(id: string, principal: string, conn: Connection): Promise<StoreResume> {
    const d = this.d;
    const local = (): StoreResume => {
      const here = d.liveSession(id);
      return here ? { kind: 'resumed', session: here } : UNAVAILABLE;
    };
    if (!isStoreReady(d.store)) return local(); // MN-12 (MN-16: a local copy resumes from itself)
    try {
      let seen = await d.store.load(id);
      const here = d.liveSession(id);
      if (here) {
        if (!d.lifecycle.isOvertaken(here, seen)) return { kind: 'resumed', session: here };
        if (seen) d.lifecycle.moved(here, seen.owner?.nodeId); // MN-16: another node claimed it since; its record is newer
        else {
          // No record: it ended in the store after a claim this node missed (the reason is
          // remembered), or the store lost it (§21.8, nothing remembered). Either way NEW (MN-8).
          const ended = await d.store.endedReason(id);
          if (d.liveSession(id) === here) {
            if (ended === undefined) d.lifecycle.recordMissing(here);
            else d.lifecycle.moved(here, undefined);
          }
          return { kind: 'new', reason: resumeReasonOf(ended) }; // RS-6, RS-11
        }
      }
      if (seen && isHeldElsewhere(seen, d.nodeId)) seen = await this.released(id, seen); // MN-17
      if (!seen) return { kind: 'new', reason: await d.endedReason(id) }; // RS-6, RS-11
      if (seen.principal !== principal) return { kind: 'new', reason: ResumeReason.PRINCIPAL_MISMATCH }; // RS-2: never claimed for another principal
      if (!d.makeRoomForSession()) return UNAVAILABLE; // CC-8
      const fence = await d.store.claim(id, d.nodeId); // MN-4: the old owner is told, and fenced out
      if (fence === undefined) return { kind: 'new', reason: await d.endedReason(id) };
      const record = await d.store.load(id); // after the claim: what the old owner committed, final
      if (!record) return { kind: 'new', reason: await d.endedReason(id) };
      const s = d.lifecycle.revive(record, fence, conn);
      await d.catchUps.run(s, record.subscriptions); // MN-2: same tick as the revive's channel joins
      return { kind: 'resumed', session: s };
    } catch (err) {
      const r = local();
      if (r.kind === 'resumed') return r; // MN-16: the store is away; the local copy is all there is
      d.log.warn({ err, sessionId: id.slice(0, 8) }, 'resume from the shared store failed: Hello refused, try again later (MN-12)');
      return UNAVAILABLE;
    }
  }

  /**
   * MN-17: another node holds the session attached (no expiry in its record). It may still have a
   * client message in its application's hands; asked to (requestRelease), it closes the old socket
   * (half-open perhaps: RS-7) and stores the session detached once those are finished (their cursor
   * and ids written). Wait for that, for another owner, or for the record to go. MN-18: an owner
   * whose lease is gone, or that hears no release request (its process ended: the store dropped its
   * connections), is dead and not waited for, nor one that dies meanwhile; a live one up to
   * releaseWaitMs, then the claim goes ahead anyway. An owner that never kept a lease (a node of a
   * release before MN-18, in a rolling upgrade: it hears no request either, so neither its missing
   * lease nor its silence says it is dead) is waited for as with a store that keeps no leases: up to
   * handoffWaitMs, for the release it makes when it sees the socket close. The record as last read.
   */
  private async released(id: string, seen: SessionRecord): Promise<SessionRecord | undefined> {
    const d = this.d;
    const owner = seen.owner?.nodeId ?? '';
    const isHeld = (r: SessionRecord | undefined): r is SessionRecord => r !== undefined && isHeldElsewhere(r, d.nodeId) && r.owner?.fence === seen.owner?.fence;
    // undefined: a store that keeps no leases.
    const leaseOf = (): Promise<LeaseState | undefined> => d.store.leaseState?.(owner) ?? Promise.resolve(undefined);
    // How many of the owner's listeners heard the request (undefined: unknown, a store that cannot
    // say, or the request failed: the wait decides). 0: the owner hears none, gone or cut off,
    // unless it never kept a lease (it never listens).
    const ask = (): Promise<number | undefined> => d.store.requestRelease?.(id, owner, d.nodeId).catch(() => undefined) ?? Promise.resolve(undefined);
    const isDeaf = (heard: number | undefined, lease: LeaseState | undefined): boolean => heard === 0 && lease !== 'never';
    const start = d.clock.now();
    // The request at once, beside the lease check: a live owner starts its release a round trip sooner.
    const [heard, lease] = await Promise.all([ask(), leaseOf()]);
    if (lease === 'expired') return this.claimed(id, seen, 'lease_expired', start);
    if (isDeaf(heard, lease)) return this.claimed(id, seen, 'not_listening', start);
    const until = start + (lease === 'alive' ? d.releaseWaitMs : d.handoffWaitMs);
    let askedAt = start;
    let r: SessionRecord | undefined = seen;
    while (isHeld(r)) {
      if (d.clock.now() >= until) return this.claimed(id, r, 'bound', start);
      await new Promise((resolve) => d.clock.setTimeout(() => resolve(undefined), RELEASE_POLL_MS));
      const isAskDue = d.clock.now() - askedAt >= RELEASE_REPEAT_MS;
      if (isAskDue) askedAt = d.clock.now();
      const [next, leaseNow, heardAgain] = await Promise.all([d.store.load(id), leaseOf(), isAskDue ? ask() : undefined]);
      r = next;
      if (isHeld(r) && leaseNow === 'expired') return this.claimed(id, r, 'lease_expired', start);
      if (isHeld(r) && isDeaf(heardAgain, leaseNow)) return this.claimed(id, r, 'not_listening', start);
    }
    return this.claimed(id, r, 'released', start);
  }

  /** Why the claim goes ahead (the metric, and a warning when the bound ran out); the record as last read. */
  private claimed(id: string, r: SessionRecord | undefined, cause: HandoffClaimCause, start: number): SessionRecord | undefined {
    const d = this.d;
    if (r) d.metrics?.handoffClaim(cause); // no record left: nothing to claim (the Hello hears why, RS-6)
    if (cause === 'bound') {
      // Past the bound the claim goes ahead (the owner's lease is alive but it did not release: a
      // store too slow for it, or a store that keeps no leases and a dead node); anything the other
      // node's application took but had not yet stored may then reach this node's application again.
      d.log.warn({ sessionId: id.slice(0, 8), byNode: r?.owner?.nodeId, waitedMs: d.clock.now() - start }, 'handoff wait ran out: claiming a session another node still holds (MN-17)');
    }
    return r;
  }
}

/** Attached on another node: owned there and not stored detached (a detached record carries its expiry, RS-1). */
function isHeldElsewhere(r: SessionRecord, nodeId: string): boolean {
  return r.owner !== undefined && r.owner.nodeId !== nodeId && r.expiresAtMs === undefined;
}
