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
import type { Connection } from './connection.js';
import type { LiveSession } from './session.js';
import { resumeReasonOf, type SessionLifecycle } from './session-lifecycle.js';
import type { SessionRecord } from './stores/session-record.js';
import type { SessionStore } from './stores/session-store.js';

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
  /** MN-17: the longest wait for another node to release a session it holds attached, ms. */
  readonly handoffWaitMs: number;
}

/** How often a node waiting for a release reads the record again (MN-17), ms. */
const RELEASE_POLL_MS = 20;

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
   * client message in its application's hands; it stores the session detached once those are
   * finished (their cursor and ids written). Wait for that, for another owner, or for the record to
   * go, up to handoffWaitMs; then claim it anyway (a dead node or a half-open socket never releases:
   * RS-7, MN-4). The record as last read.
   */
  private async released(id: string, seen: SessionRecord): Promise<SessionRecord | undefined> {
    const until = Date.now() + this.d.handoffWaitMs;
    let r: SessionRecord | undefined = seen;
    while (r && isHeldElsewhere(r, this.d.nodeId) && r.owner?.fence === seen.owner?.fence && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, RELEASE_POLL_MS));
      r = await this.d.store.load(id);
    }
    if (r && isHeldElsewhere(r, this.d.nodeId) && r.owner?.fence === seen.owner?.fence) {
      // Past the bound the claim goes ahead (a dead node never releases); anything the other node's
      // application took but had not yet stored may then reach this node's application again.
      this.d.log.warn({ sessionId: id.slice(0, 8), byNode: r.owner?.nodeId, waitedMs: Date.now() - until + this.d.handoffWaitMs }, 'handoff wait ran out: claiming a session another node still holds (MN-17)');
    }
    return r;
  }
}

/** Attached on another node: owned there and not stored detached (a detached record carries its expiry, RS-1). */
function isHeldElsewhere(r: SessionRecord, nodeId: string): boolean {
  return r.owner !== undefined && r.owner.nodeId !== nodeId && r.expiresAtMs === undefined;
}
