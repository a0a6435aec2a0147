/**
 * What the session machine's lifecycle actions do to the node's registry, its channel index and the
 * session store (issue 12): create, hand over, attach, detach, leave channels, delete. The machine
 * decides when (server-session.machine.ts); machine-host.ts calls one method here per action.
 *
 * The store is written at lifecycle points only (create, claim at resume, save at detach and drain,
 * end). A store only this node reads (not isShared) gets a session's record at its first save, not
 * at its start: nothing reads a record while its session lives here (a Hello for it finds the live
 * session; MN-3's load is for shared stores), and an idle session then holds no second object in
 * the store (issue 16, memory per idle session). Its writes are asynchronous and the machine's actions are not: writes for one session run
 * in order, exclusive of its write-ahead commits (stores/write-chain.ts: one ordering chain per
 * session, MN-1), and a whole record is read when its write runs, never when it was queued. One
 * that fails is logged; a StaleFenceError means another node took the session over (RS-7 across
 * nodes, issue 14), or the store holds no record of it any more (a restart without persistence,
 * §21.8), and this node closes its copy: 4002 for the first, 1011 for the second (storeRefused).
 */
import type { Logger } from 'pino';
import { ResumeReason, type Hello } from '../gen/lifeline/v1/envelope_pb.js';
import type { ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { Connection } from './connection.js';
import type { DetachedSessions } from './detached-sessions.js';
import { newHost, type Host } from './host.js';
import type { PersistedSession, SessionActor } from './session-actor.js';
import { LiveSession, type SessionEnv } from './session.js';
import type { LocalChannels } from './stores/local-channels.js';
import { restoreSession } from './stores/session-record-io.js';
import type { WriteAhead } from './stores/write-ahead.js';
import { WriteChain } from './stores/write-chain.js';
import type { MachineRecord, SessionRecord } from './stores/session-record.js';
import { StaleFenceError, type EndReason, type SessionStore } from './stores/session-store.js';
import type { LivenessSweep } from './sweep.js';
import type { ServerEvents } from './types.js';

export interface LifecycleDeps {
  readonly env: SessionEnv;
  /** This node's live sessions by id, attached or detached (RS-1). */
  readonly live: Map<string, LiveSession>;
  readonly channels: LocalChannels<LiveSession>;
  readonly store: SessionStore;
  readonly nodeId: string;
  readonly writeAhead: WriteAhead | undefined;
  readonly sweep: LivenessSweep<Connection>;
  readonly detachedSessions: DetachedSessions<LiveSession>;
  readonly log: Logger;
  /** Epoch ms, for the record's times (another node reads them). */
  readonly wallNow: () => number;
  scheduleDetachedCheck(): void;
  newSessionId(): string;
  setOwner(conn: Connection, actor: SessionActor): void;
  emitEvent<K extends keyof ServerEvents>(event: K, ...args: ServerEvents[K]): void;
  failSession(actor: SessionActor, err: unknown): void;
  /**
   * A session machine continued from its persisted form (none: the record was written before its
   * first snapshot, the initial context), its delays armed less `elapsedMs` (SessionRuntime.restore).
   */
  restoreActor(persisted: PersistedSession | undefined, host: Host, elapsedMs: number): SessionActor;
  /** A session leaves this node for another (MN-4): whatever else holds it here lets go (catch-up). */
  readonly onMoved?: (s: LiveSession) => void;
}

/** The reason a delete stores, from the event that ended the session (RS-6, RS-11). */
function endReasonOf(event: ServerSessionEvent | { type: string }): EndReason {
  if (event.type.startsWith('xstate.after.')) return 'expired'; // RS-6: a late Hello hears EXPIRED
  if (event.type === 'app.evict') return 'evicted'; // RS-11: … or EVICTED
  return 'ended';
}

/** What a Hello naming an ended session hears (RS-6, RS-11); an ordinary end is forgotten as before. */
export function resumeReasonOf(reason: EndReason | undefined): ResumeReason {
  if (reason === 'expired') return ResumeReason.EXPIRED;
  if (reason === 'evicted') return ResumeReason.EVICTED;
  return ResumeReason.UNKNOWN_SESSION;
}

const NEW_OUTBOUND: SessionRecord['outbound'] = Object.freeze({ next: 1n, acked: 0n, replay: Object.freeze([]) });
const NEW_INBOUND: SessionRecord['inbound'] = Object.freeze({ lastProcessed: 0n, lastAckSent: 0n });
const NONE: SessionRecord['subscriptions'] = Object.freeze([]);

export class SessionLifecycle {
  /** Store writes in flight, per session, in order and exclusive of its commits (MN-1). */
  private readonly chain: WriteChain<LiveSession>;

  constructor(private readonly d: LifecycleDeps) {
    this.chain = new WriteChain(d.writeAhead, (s, err) => this.failed(s, err));
  }

  /** HS-7: a new session for the Hello on this connection. */
  create(self: SessionActor, h: Host, hello: Hello): void {
    const d = this.d;
    const s = new LiveSession(d.newSessionId(), h.principal, self, d.env, hello);
    s.newReason = h.newReason;
    s.conn = h.conn;
    h.session = s;
    d.live.set(s.id, s);
    d.sweep.add(h.conn);
    if (!d.store.isShared) return; // written at its first save (saveNow): fence 0 until then
    const record = this.newRecord(s);
    this.write(s, () =>
      d.store.create(record, d.nodeId).then((fence) => {
        s.fence = fence;
        d.writeAhead?.refenced(s); // MN-1: what waited for the record goes out under its fence
      }),
    );
  }

  /** RS-2: a resuming Hello names a live session of this node: its socket goes to that session's actor. */
  handOver(h: Host, hello: Hello): void {
    const target = h.existing;
    if (!target) throw new Error('handOver without a session');
    target.pendingAttach = { conn: h.conn, hello };
    this.d.setOwner(h.conn, target.actor);
    target.actor.send({ type: 'socket.attached', socketId: h.conn.id });
  }

  /** RS-2, RS-7: the session takes the handed-over socket; this node claims it in the store. */
  attach(s: LiveSession, h: Host): void {
    const pending = s.pendingAttach;
    if (!pending) throw new Error('attach without a pending socket');
    s.conn = pending.conn;
    s.handoffResumed(); // MN-17: its messages reach the application here again
    if (h.ending) h.ending.isTeardownFailed = false;
    this.d.sweep.add(pending.conn);
    const d = this.d;
    this.write(s, () => {
      if (!this.isStored(s)) return Promise.resolve(); // nothing to claim yet: its first save creates it under this node
      return d.store.claim(s.id, d.nodeId).then((fence) => {
        if (fence === undefined) return;
        s.fence = fence;
        d.writeAhead?.refenced(s); // what was gathered meanwhile is this claim's
      });
    });
    // Attached again: the stored record must no longer expire (RS-1), and no expiry is what tells
    // another node resuming it to wait for this node's release (MN-17). Revive ignores the stored
    // state value (its socket was elsewhere), so the one the step left is written as it is.
    if (d.store.isShared) this.save(s, undefined);
  }

  /** RS-1: the socket is gone; the session waits for a resume within its limits (RS-11), written back to the store. */
  markDetached(s: LiveSession): void {
    this.d.detachedSessions.add(s); // RS-11
    this.d.scheduleDetachedCheck();
    const expiresAtMs = this.d.wallNow() + this.d.env.opts.resumeTtlMs;
    // MN-17: the cut first (held back from here on: a message still waiting for its dedupe answer),
    // then the wait is for what the application was given only.
    if (this.d.store.isShared) s.cutHandoff();
    const idle = this.d.store.isShared ? s.whenHandedDone() : undefined;
    if (!idle) {
      // The entry action runs before the step's snapshot is taken: the machine's is still the state it left.
      this.save(s, expiresAtMs, 'detached');
      return;
    }
    // MN-17: the release. Stored detached only once the application finished the client messages it
    // was given (their cursor and ids in the record), so the node the client resumes on, which waits
    // for this, never hands them to the application again. Bounded by handoffWaitMs: a handler that
    // never settles (BP-17's hold) must not keep the session from moving. The cut comes first: from
    // the detach on, a message still waiting for its dedupe answer is held back (the client resends
    // it where it resumes), so what this node's application was given is fixed; and before the
    // record says "released", the store holds the id of every message it was given, finished or
    // not (bound reached under load, a slow store): the resends are dropped there, never delivered twice.
    const machine = this.machineOf(s, 'detached');
    this.chain.after(s, () =>
      settledWithin(idle, this.d.env.opts.handoffWaitMs).then((isSettled) => {
        if (!isSettled) this.d.log.warn({ sessionId: s.id.slice(0, 8) }, 'handoff bound reached with client messages still in the application: their ids stored, the session released (MN-17)');
        return s.storeHandedIds();
      }),
    );
    this.write(s, () => this.saveNow(s, expiresAtMs, machine));
  }

  /**
   * Write the session back under its fence (detach, drain); `value`: the state it is entering. The
   * machine's state is taken now (the entry action runs before the step's snapshot is taken); the
   * rest of the record is read when the write runs (MN-1: never older than what the store holds).
   */
  save(s: LiveSession, expiresAtMs: number | undefined, value?: PersistedSession['value']): void {
    const machine = this.machineOf(s, value);
    this.write(s, () => this.saveNow(s, expiresAtMs, machine));
  }

  /** The whole record now, saved; it carries the replay and cursors: the write-ahead continues after it. */
  private async saveNow(s: LiveSession, expiresAtMs: number | undefined, machine: MachineRecord): Promise<void> {
    const record = this.recordOfMachine(s, expiresAtMs, machine);
    if (this.isStored(s)) await this.d.store.save(record, s.fence);
    else s.fence = await this.d.store.create(record, this.d.nodeId); // the first save of a session a non-shared store has not seen
    this.d.writeAhead?.saved(s, record);
  }

  /**
   * The store holds this session's record. Always, for a shared store (created at the start, MN-1;
   * fence 0 only while that create is in flight, and this is read by writes chained after it); for
   * another store, once the first save created it. Read when a chained write runs, never when queued.
   */
  private isStored(s: LiveSession): boolean {
    return this.d.store.isShared || s.fence !== 0;
  }

  /** CC-6: first step of a teardown. */
  leaveChannels(s: LiveSession): void {
    this.d.channels.leaveAll(s.subscriptions, s);
  }

  /** CC-6: second step: off the registry, out of the store with the reason a later Hello hears (RS-6, RS-11). */
  delete(s: LiveSession, event: { type: string }): void {
    const d = this.d;
    d.live.delete(s.id);
    d.writeAhead?.forget(s);
    const reason = endReasonOf(event);
    this.write(s, () => d.store.end(s.id, reason, s.fence)); // fenced: a node that lost the session deletes nothing
    s.dispose();
    d.emitEvent('sessionEnded', s.handle, { expired: reason === 'expired', evicted: reason === 'evicted' });
  }

  /** The machine threw: the session is gone from this node and the store. */
  crashed(s: LiveSession): void {
    this.leaveChannels(s);
    this.d.live.delete(s.id);
    this.d.writeAhead?.forget(s);
    this.write(s, () => this.d.store.end(s.id, 'ended', s.fence));
    s.dispose();
  }

  /**
   * A session continued from its stored record (issue 12; issue 14 claims it from another node):
   * its data joins this node's registry and channels, and its machine runs from the record's
   * persisted snapshot, detached until a Hello resumes it (RS-1: whatever state the record was
   * written in, its socket was on the other node). The detached state's delays run from when it
   * was detached there: the resume TTL ends at the record's expiresAtMs (RS-1), the replay window
   * as long after the detach as here (RS-3). `conn` is the connection whose Hello asked for it.
   */
  revive(record: SessionRecord, fence: number, conn: Connection): LiveSession {
    const d = this.d;
    const stored = persistedOf(record.machine);
    const persisted = stored && { value: 'detached' as const, context: stored.context };
    const ttlMs = stored?.context.opts.resumeTtlMs ?? d.env.opts.resumeTtlMs;
    const elapsedMs = record.expiresAtMs === undefined ? 0 : Math.max(0, d.wallNow() - (record.expiresAtMs - ttlMs));
    const host = newHost(conn, record.principal, record.newReason);
    const actor = d.restoreActor(persisted, host, elapsedMs);
    const s = new LiveSession(record.id, record.principal, actor, d.env, undefined, record);
    host.session = s;
    restoreSession(s, record, d.channels);
    s.fence = fence;
    s.gate?.reset(s.log, s.inboundCursor()); // MN-1: the store holds what the record says
    d.live.set(s.id, s);
    d.detachedSessions.add(s); // RS-11: counted with the other detached sessions (the state's entry ran on the other node)
    return s;
  }

  /**
   * A commit under `fence` was refused as stale (`currentFence`: the store's, undefined when it holds
   * no record). Unless this node has claimed the session again since (a newer fence, or a claim
   * still in flight), this node stops serving it (storeRefused).
   */
  lostClaim(id: string, fence: number, currentFence: number | undefined): void {
    const s = this.d.live.get(id);
    if (!s || s.fence !== fence || this.chain.has(id)) return;
    this.storeRefused(s, currentFence);
  }

  /**
   * The store refused a write of `s` under its fence. Another fence: another node claimed it (RS-7
   * across nodes, MN-4): moved(). No record: either it ended in the store after a claim this node
   * missed (its reason is remembered: moved() too, as before), or the store lost it (restarted
   * without persistence, §21.8: no reason remembered either): recordMissing(). One more round trip,
   * on this rare path only; the write-ahead holds the session's frames meanwhile (its gate is gone).
   */
  private storeRefused(s: LiveSession, currentFence: number | undefined): void {
    if (currentFence !== undefined) {
      this.moved(s, undefined);
      return;
    }
    const fence = s.fence;
    const decide = (reason: EndReason | undefined) => {
      if (this.d.live.get(s.id) !== s || s.fence !== fence) return; // claimed again, or gone meanwhile
      if (reason === undefined) this.recordMissing(s);
      else this.moved(s, undefined);
    };
    let r: ReturnType<SessionStore['endedReason']>;
    try {
      r = this.d.store.endedReason(s.id);
    } catch {
      r = undefined; // no record, and nothing more to learn: the loss is what is known
    }
    if (r instanceof Promise) r.then(decide, () => decide(undefined));
    else decide(r);
  }

  /**
   * MN-16: the store's record (`seen`, just loaded) shows another node claimed this session since
   * this node last held it: another owner, another fence, or no record at all (ended there). Not
   * while a write of this node is in flight or before its create landed (its own claim may be what
   * the store shows next).
   */
  isOvertaken(s: LiveSession, seen: SessionRecord | undefined): boolean {
    if (this.chain.has(s.id) || s.fence === 0) return false;
    const owner = seen?.owner;
    return owner === undefined || owner.nodeId !== this.d.nodeId || owner.fence !== s.fence;
  }

  /**
   * The store says `byNode` claimed this session under `fence` (watchClaims, MN-4). Unless this
   * node holds a newer claim, or one of its own is in flight, the session moved: stop serving it.
   */
  claimLost(id: string, fence: number, byNode: string): void {
    const s = this.d.live.get(id);
    if (!s || s.fence >= fence || this.chain.has(id)) return;
    this.moved(s, byNode);
  }

  /**
   * MN-17: `byNode` resumes this session and asks this node to release it. A socket still attached
   * here is the client's old one (RS-7: it is on `byNode` now), half-open perhaps: this node closes
   * it SESSION_TAKEN_OVER and reports that as a takeover's close is (drop(): `sessionClosed` 4002,
   * not by the peer), then tells the machine the socket is gone, as for any socket's close (it
   * detaches, markDetached releases the session). Detached here already: its release is under way or done.
   */
  releaseRequested(id: string, byNode: string): void {
    const d = this.d;
    const s = d.live.get(id);
    if (!s?.conn) return;
    // Let go of it first: the machine's forgetSocket then finds no socket, and reports no close by the peer (1006).
    const conn = s.detach();
    if (!conn) return;
    d.log.info({ sessionId: id.slice(0, 8), byNode }, 'release requested by another node: closing the old socket (MN-17, RS-7)');
    d.sweep.delete(conn);
    // The close frame tells a live peer why (RS-7); one that never answers it (half-open) is destroyed
    // by the transport (CC-10), which the release does not wait for.
    conn.close('SESSION_TAKEN_OVER', 'RS-7: resumed on another node');
    d.emitEvent('sessionClosed', s.handle, { code: codeOf('SESSION_TAKEN_OVER'), byPeer: false });
    try {
      s.actor.send({ type: 'socket.closed', code: codeOf('ABNORMAL') }); // the machine detaches (no peer's close code: none came)
    } catch (err) {
      d.failSession(s.actor, err);
    }
  }

  /**
   * MN-4, RS-7 across nodes: another node owns the session now. Its socket here, if any, closes
   * SESSION_TAKEN_OVER (4002: one session, one socket); the local copy is dropped without ending
   * the session in the store (the new owner continues it) and without `sessionEnded` (drop()).
   */
  moved(s: LiveSession, byNode: string | undefined): void {
    const d = this.d;
    if (d.live.get(s.id) !== s) return;
    d.log.warn({ sessionId: s.id.slice(0, 8), byNode }, 'session taken over by another node');
    d.env.metrics?.sessionLost('taken_over');
    d.onMoved?.(s);
    this.drop(s, 'SESSION_TAKEN_OVER', 'RS-7: resumed on another node');
    d.emitEvent('sessionMoved', s.handle, { byNode });
  }

  /**
   * The shared store holds no record of this live session and remembers no end of it: it lost it
   * (a restart without persistence, a restore from older data: §21.8). No other node serves it, so
   * this is no takeover (4002 would also stop the client for good: advice none). This node can no
   * longer serve it under MN-1 (no write of it will be held), which is CC-5's failure: its socket
   * closes INTERNAL_ERROR (1011, backoff without a reset), and the client's resume hears NEW with
   * UNKNOWN_SESSION (MN-8), as §21.8's table says. The session is over: `sessionEnded`.
   */
  recordMissing(s: LiveSession): void {
    const d = this.d;
    if (d.live.get(s.id) !== s) return;
    d.log.warn({ sessionId: s.id.slice(0, 8) }, 'session record missing from the store');
    d.env.metrics?.sessionLost('record_missing');
    d.onMoved?.(s); // whatever else holds it here lets go (catch-up), as for a move
    this.drop(s, 'INTERNAL_ERROR', 'CC-5: session record missing from the store');
    d.emitEvent('sessionEnded', s.handle, { expired: false, evicted: false });
  }

  /**
   * The store decided this node no longer serves `s` (moved, recordMissing): its socket, if any,
   * closes `code`; the local copy is dropped without a write to the store. Done here, not by the
   * session machine: no state of the machine survives it (the actor is stopped, as at close()).
   */
  private drop(s: LiveSession, code: 'SESSION_TAKEN_OVER' | 'INTERNAL_ERROR', reason: string): void {
    const d = this.d;
    const conn = s.detach();
    if (conn) {
      d.sweep.delete(conn);
      conn.close(code, reason);
      d.emitEvent('sessionClosed', s.handle, { code: codeOf(code), byPeer: false });
    }
    d.channels.leaveAll(s.subscriptions, s);
    d.live.delete(s.id);
    d.detachedSessions.remove(s);
    d.writeAhead?.forget(s);
    s.dispose();
    s.actor.stop(); // its timers (resume TTL, replay window) must not end it in the store later
  }

  /**
   * Everything this node still owes the store: the replay write-behind of a shared store (issue
   * 14), then the lifecycle writes in flight. close() and drain() wait for it, so a clean shutdown
   * leaves the store current for the node that continues the sessions.
   */
  async flush(): Promise<void> {
    const wa = this.d.writeAhead;
    await wa?.flush();
    await this.settled();
    // Commits that gathered while a whole-record write ran go out after it (MN-1): once more.
    if (wa && wa.size > 0) await wa.flush();
  }

  /** Store writes still running (close, drain, tests). */
  settled(): Promise<void> {
    return this.chain.settled();
  }

  /**
   * A new session's record for a shared store (MN-1): nothing sent, nothing received, no channel
   * yet (Hello.channels are subscribed after it). Shared empty parts and no machine snapshot (the
   * machine is mid-step here).
   */
  private newRecord(s: LiveSession): SessionRecord {
    return {
      id: s.id,
      principal: s.principal,
      createdAtMs: this.d.wallNow(),
      expiresAtMs: undefined,
      policy: s.policy,
      receiveWindow: s.log.window,
      outbound: NEW_OUTBOUND,
      inbound: NEW_INBOUND,
      subscriptions: NONE,
      isContinuityLost: false,
      newReason: s.newReason,
      machine: undefined,
      owner: undefined,
    };
  }

  /** The session as the store keeps it (times in epoch ms, the machine's persisted snapshot by reference). */
  recordOf(s: LiveSession, expiresAtMs: number | undefined, value?: PersistedSession['value']): SessionRecord {
    return this.recordOfMachine(s, expiresAtMs, this.machineOf(s, value));
  }

  /** The machine's persisted form now (XState's: plain data, CONVENTIONS §1), in state `value` when given. */
  private machineOf(s: LiveSession, value?: PersistedSession['value']): MachineRecord {
    const snap = s.actor.getSnapshot();
    return { value: value ?? snap.value, context: snap.context } as unknown as MachineRecord;
  }

  private recordOfMachine(s: LiveSession, expiresAtMs: number | undefined, machine: MachineRecord): SessionRecord {
    const createdAtMs = this.d.wallNow() - (this.d.env.clock.now() - s.createdAt);
    return s.toRecord({ createdAtMs, expiresAtMs }, machine);
  }

  /** Run `op` after this session's earlier writes, exclusive of its commits (write-chain.ts). */
  private write(s: LiveSession, op: () => Promise<void>): void {
    this.chain.run(s, op);
  }

  private failed(s: LiveSession, err: unknown): void {
    if (err instanceof StaleFenceError) {
      // RS-7 across nodes, or the store lost the record (§21.8): this copy must stop serving it.
      if (this.d.live.get(s.id) === s && s.fence === err.fence) this.storeRefused(s, err.currentFence);
      return;
    }
    this.d.log.error({ err }, 'session store write failed');
  }
}

/**
 * The record's machine field as the machine's persisted snapshot (the inverse of recordOf): plain
 * data written by recordOf on this or another node running the same spec machine.
 */
function persistedOf(m: MachineRecord | undefined): PersistedSession | undefined {
  if (!m) return undefined;
  const context = m.context as { readonly opts?: unknown } | null;
  if (typeof context !== 'object' || context === null || typeof context.opts !== 'object') throw new Error('the record\'s machine snapshot has no context');
  return m as unknown as PersistedSession;
}

/** `p` settled (true), or `ms` passed (false; a timer that keeps no process alive). */
function settledWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref?.();
  });
  return Promise.race([p.then(() => true), bound]).finally(() => clearTimeout(timer));
}
