/**
 * Write-ahead of a session's streams to a store that outlives the node (isShared, issue 14, MN-1):
 * a sequenced frame reaches the socket only once the store holds it, and an Ack for a client seq
 * only once the store holds the inbound cursor at that seq. So whatever a client has seen, or had
 * acknowledged, is in the store, and the node that continues the session resumes it exactly.
 *
 * Batched: a session that changed is marked dirty (no closure or promise per frame); once per tick
 * each dirty session gets one `commit`, its delta read from the session itself at that moment
 * (frames after the last stored seq, straight from its OutboundLog; the cumulative ack; the inbound
 * cursor; the channel positions gathered since). One commit per session is in flight at a time, so
 * a session's commits reach the store in order (SEQ-2). When a commit resolves the session is told
 * (`committed`) and releases its frames and held Ack.
 *
 * Bounded while the store is away (MN-6): the frames waiting are in the session's OutboundLog, so
 * the receive window (BP-1) and the replay bytes (RS-3) bound them; the pump stops there. A failed
 * commit loses nothing: the delta is read again from the session at the retry (backoff 50 ms
 * doubling to 2 s), with whatever changed meanwhile. A StaleFenceError means another node claimed
 * the session (RS-7 across nodes): the owner is told, the delta dropped. A ReplayCapError is never
 * retried: past the store's hard cap is a bug or an attack, and the session fails (CC-5).
 *
 * The channel list goes in the commit whenever it changed since the last one (MN-15), so a node
 * that continues the session after this one died joins the channels the client was told it has.
 *
 * One ordering chain per session (MN-1, MN-2): a whole-record write of the session (a save at
 * drain or detach, a claim) runs through `exclusive`, with none of its commits in flight and none
 * starting until it settles (write-chain.ts orders them). A channel position travels only with the
 * frame that carries its publication (or in a whole record read at one instant), so the stored
 * position of a channel is never ahead of its stored frames: a node that catches the session up
 * from it (Broker.since) skips nothing that was never stored.
 */
import type { OutboundLog } from '../../spec/protocol/outbound-log.js';
import type { ReplayFrame, SessionRecord, SubscriptionRecord } from './session-record.js';
import { ReplayCapError, ReplayOrderError, StaleFenceError, type RecordDelta, type SessionStore } from './session-store.js';

/** What the write-ahead reads from, and tells, a session (server/session-outbound.ts implements it). */
export interface WriteAheadHost {
  readonly id: string;
  /** The fence of this node's claim; 0 until the store has the session (nothing is committed before). */
  readonly fence: number;
  readonly log: OutboundLog<Uint8Array>;
  /** The client's stream as the session has it now (SEQ-3, SEQ-5). */
  inboundCursor(): SessionRecord['inbound'];
  /** This session's write-ahead state; undefined when its store is not shared. */
  readonly gate: Gate | undefined;
  /** The channels now subscribed, with their positions (MN-15: committed when they changed). */
  subscriptionList(): readonly SubscriptionRecord[];
  /** A commit resolved: the store holds more (gate.storedSeq, gate.storedProcessed, gate.storedChannels). */
  committed(): void;
  /** The store refused the session for good (ReplayCapError): serving it failed (CC-5). */
  commitFailed(err: unknown): void;
}

/** One in-flight commit: what it will make the store hold. */
interface Attempt {
  readonly fence: number;
  readonly top: bigint;
  readonly acked: bigint;
  readonly inbound: SessionRecord['inbound'] | undefined;
  /** The channel list's change count this commit stores; undefined when it carries no list. */
  readonly channels: number | undefined;
}

/**
 * One session's write-ahead state: what the store holds of it, what the socket has, what waits.
 * Only sessions of a shared store have one (one field on the session otherwise: memory per idle session).
 */
export class Gate {
  /** Highest frame seq the store holds (MN-1): frames up to it may go to the socket. */
  storedSeq = 0n;
  private storedAcked = 0n;
  /** The inbound cursor the store holds (MN-1): an Ack up to it may go to the client. */
  storedProcessed = 0n;
  private storedAckSent = 0n;
  /** Highest frame seq written to the current socket. */
  wireSeq = 0n;
  /** An Ack due but not yet allowed (its cursor is not stored yet); the newest only, acks are cumulative. */
  heldAck: bigint | undefined;
  /**
   * MN-2: the publications sequenced and not yet stored, by the seq of the frame that carries each,
   * in seq order. A commit carries the positions of exactly the frames it stores (never one whose
   * frame the store does not hold); a frame stored drops its entry.
   */
  private framePositions: FramePosition[] | undefined;
  /** Channel → position of the last publication sequenced (the record's SubscriptionRecord.position). */
  sentPositions: Map<string, string> | undefined;
  /** Changes of the channel list so far (MN-15), and how many of them the store holds. */
  channels = 0;
  storedChannels = 0;
  /** Control replies that must not overtake the commit of a channel change (Subscribed, CH-4, MN-15). */
  heldControl: { readonly channels: number; readonly bytes: Uint8Array }[] | undefined;
  attempt: Attempt | undefined;
  /** The commit in flight, settled (exclusive() waits for it). */
  inFlight: Promise<void> | undefined;
  /** Whole-record writes running (exclusive()): no commit starts meanwhile. */
  exclusive = 0;
  isDirty = false;
  isGone = false;

  /** The session continues from what the store holds now (a new session, a revive, a whole-record save). */
  reset(log: OutboundLog<Uint8Array>, inbound: SessionRecord['inbound']): void {
    this.storedSeq = log.lastSent;
    this.storedAcked = log.acked;
    this.storedProcessed = inbound.lastProcessed;
    this.storedAckSent = inbound.lastAckSent;
    this.wireSeq = log.lastSent;
    this.framePositions = undefined;
    this.storedChannels = this.channels;
  }

  /** A whole record was saved (detach, drain): the store holds at least what it says. */
  holds(r: SessionRecord): void {
    const top = r.outbound.next - 1n;
    if (top > this.storedSeq) this.storedSeq = top;
    this.dropPositionsUpTo(this.storedSeq); // the record's positions are of these frames (one instant)
    if (r.outbound.acked > this.storedAcked) this.storedAcked = r.outbound.acked;
    if (r.inbound.lastProcessed > this.storedProcessed) this.storedProcessed = r.inbound.lastProcessed;
    if (r.inbound.lastAckSent > this.storedAckSent) this.storedAckSent = r.inbound.lastAckSent;
  }

  /** The store says it holds frames up to `seq` already (a commit whose answer was lost): continue after it. */
  storedUpTo(seq: bigint): void {
    if (seq > this.storedSeq) this.storedSeq = seq;
    this.dropPositionsUpTo(this.storedSeq); // stored by the same atomic write as their frames
  }

  /** A publication of `channel` at `position` went into the stream as frame `seq` (MN-2): its position is stored with that frame. */
  sequenced(channel: string, position: string, seq: bigint): void {
    (this.framePositions ??= []).push({ seq, channel, position });
    (this.sentPositions ??= new Map()).set(channel, position);
  }

  /**
   * A position the session holds with no frame of its own (MN-2: a new subscription's broker tail,
   * a stored position continued here): it reaches the store with the channel list (MN-15) or a
   * whole record, never ahead of a frame.
   */
  restored(channel: string, position: string): void {
    (this.sentPositions ??= new Map()).set(channel, position);
  }

  /** The session left `channel` (MN-15): a later join starts without its old position. */
  left(channel: string): void {
    this.sentPositions?.delete(channel);
    if (this.framePositions) this.framePositions = this.framePositions.filter((p) => p.channel !== channel);
  }

  private dropPositionsUpTo(seq: bigint): void {
    const fp = this.framePositions;
    if (!fp) return;
    let i = 0;
    while (i < fp.length && (fp[i] as FramePosition).seq <= seq) i++;
    if (i === fp.length) this.framePositions = undefined;
    else if (i > 0) fp.splice(0, i);
  }

  /** Channel → position of the last publication among the frames in (storedSeq, top] (MN-2), or undefined. */
  private positionsUpTo(top: bigint): Record<string, string> | undefined {
    const fp = this.framePositions;
    if (!fp) return undefined;
    let out: Record<string, string> | undefined;
    for (const p of fp) {
      if (p.seq > top) break;
      if (p.seq > this.storedSeq) (out ??= {})[p.channel] = p.position;
    }
    return out;
  }

  /** The delta of everything since the store's last state, or undefined when nothing changed. */
  take(h: WriteAheadHost): RecordDelta | undefined {
    const log = h.log;
    const top = log.lastSent > this.storedSeq ? log.lastSent : this.storedSeq;
    let frames: ReplayFrame[] | undefined;
    if (top > this.storedSeq) {
      frames = [];
      // Frames already covered by the ack are in no replay: never written (applyDelta trims them anyway).
      for (const f of log.pending()) if (f.seq > this.storedSeq) frames.push({ seq: f.seq, bytes: f.item });
    }
    const acked = log.acked > this.storedAcked ? log.acked : undefined;
    const cur = h.inboundCursor();
    const inbound = cur.lastProcessed > this.storedProcessed || cur.lastAckSent > this.storedAckSent ? cur : undefined;
    const positions = this.positionsUpTo(top); // MN-2: of the frames this commit stores, no other
    const subscriptions = this.channels > this.storedChannels ? h.subscriptionList() : undefined; // MN-15
    if (!frames && acked === undefined && !inbound && !positions && !subscriptions) return undefined;
    this.attempt = { fence: h.fence, top, acked: acked ?? this.storedAcked, inbound, channels: subscriptions && this.channels };
    return {
      ...(frames && { frames }),
      ...(acked !== undefined && { acked }),
      ...(inbound && { inbound }),
      ...(positions && { positions }),
      ...(subscriptions && { subscriptions }),
    };
  }

  /** The attempt is in the store. */
  stored(): void {
    const a = this.attempt;
    if (!a) return;
    this.attempt = undefined;
    if (a.top > this.storedSeq) this.storedSeq = a.top;
    this.dropPositionsUpTo(this.storedSeq);
    if (a.acked > this.storedAcked) this.storedAcked = a.acked;
    if (a.channels !== undefined && a.channels > this.storedChannels) this.storedChannels = a.channels;
    if (a.inbound) {
      if (a.inbound.lastProcessed > this.storedProcessed) this.storedProcessed = a.inbound.lastProcessed;
      if (a.inbound.lastAckSent > this.storedAckSent) this.storedAckSent = a.inbound.lastAckSent;
    }
  }

  /** The attempt failed: nothing of it is stored (its frames' positions wait with the frames). */
  refused(): void {
    this.attempt = undefined;
  }
}

/** A publication's position and the frame that carries it (MN-2). */
interface FramePosition {
  readonly seq: bigint;
  readonly channel: string;
  readonly position: string;
}

export interface WriteAheadHooks {
  /** Run `flush` once, soon (default setImmediate: after this tick's I/O callbacks). */
  readonly schedule?: (flush: () => void) => void;
  /** A commit under `fence` was refused as stale: another node owns the session now (RS-7). */
  readonly onStale: (id: string, fence: number) => void;
  /** The store refused or was unreachable; the commit is retried (logged once per outage). */
  readonly onError: (err: unknown) => void;
  /** The store answers again after failures. */
  readonly onRecovered?: () => void;
  /** How long flush() waits for a store that does not answer (drain, close): it never hangs. */
  readonly flushTimeoutMs?: number;
  /** The log line when flush gives up. */
  readonly onFlushTimeout?: (pending: number) => void;
}

/** MN-6: retry backoff, 50 ms doubling to 2 s. */
export const RETRY_FIRST_MS = 50;
export const RETRY_MAX_MS = 2_000;

/** The last seq a store says it holds, from its refusal of frames that do not follow it; undefined for any other failure. */
function storedLastOf(err: unknown): bigint | undefined {
  return err instanceof ReplayOrderError ? err.lastSeq : undefined;
}

export class WriteAhead {
  private readonly dirty = new Set<WriteAheadHost>();
  /** Sessions whose commit failed, waiting for the retry timer. */
  private readonly retrying = new Set<WriteAheadHost>();
  private inFlight = 0;
  private isScheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelayMs = RETRY_FIRST_MS;
  private isFailing = false;
  private idleWaiters: (() => void)[] = [];
  private readonly schedule: (flush: () => void) => void;

  constructor(
    private readonly store: Pick<SessionStore, 'commit'>,
    private readonly hooks: WriteAheadHooks,
  ) {
    this.schedule = hooks.schedule ?? ((fn) => void setImmediate(fn));
  }

  /** Sessions with writes waiting or in flight (tests, metrics). */
  get size(): number {
    return this.dirty.size + this.retrying.size + this.inFlight;
  }

  /** The session changed (a frame sequenced, an ack, an ack due, a position): commit it this tick. */
  touch(h: WriteAheadHost): void {
    const g = h.gate;
    if (!g || g.isGone || g.isDirty) return;
    g.isDirty = true;
    if (g.attempt || g.exclusive > 0 || this.retrying.has(h)) return; // goes out when the one in flight (the retry, the whole-record write) settles
    this.dirty.add(h);
    if (!this.isScheduled) {
      this.isScheduled = true;
      this.schedule(() => this.tick());
    }
  }

  /** The store has the session under a new fence (created, claimed again on this node): commit what waits under it. */
  refenced(h: WriteAheadHost): void {
    const g = h.gate;
    if (!g || g.isGone) return;
    if (g.isDirty && !g.attempt && !this.retrying.has(h) && !this.dirty.has(h)) g.isDirty = false;
    this.touch(h);
  }

  /**
   * MN-1, MN-2: one ordering chain per session. `op` (a whole-record save, a claim) starts once no
   * commit of `h` is in flight (at once when none is), and no commit of `h` starts until it
   * settles; what gathered meanwhile is committed after it. So a record read when `op` runs is never
   * older than a commit the store applied before it, and no commit interleaves with it.
   */
  exclusive(h: WriteAheadHost, op: () => Promise<void>): Promise<void> {
    const g = h.gate;
    if (!g || g.isGone) return op();
    g.exclusive++;
    const run = async (): Promise<void> => {
      while (g.inFlight) await g.inFlight;
      await op();
    };
    return run().finally(() => {
      if (--g.exclusive > 0 || !g.isDirty || g.isGone || g.attempt || this.retrying.has(h)) return;
      g.isDirty = false;
      this.touch(h); // what gathered while it ran
    });
  }

  /** The whole record `r` was saved under the session's fence: what it holds may go out. */
  saved(h: WriteAheadHost, r: SessionRecord): void {
    const g = h.gate;
    if (!g || g.isGone) return;
    g.holds(r);
    if (!g.attempt) h.committed();
  }

  /** The session ended or moved: what is pending for it is moot. */
  forget(h: WriteAheadHost): void {
    const g = h.gate;
    if (g) g.isGone = true;
    this.dirty.delete(h);
    this.retrying.delete(h);
    this.notifyIfIdle();
  }

  /**
   * Everything pending now, committed; resolves when the store holds it all, or after the flush
   * bound (a store that does not answer: logged, never hangs drain() or close()).
   */
  flush(): Promise<void> {
    if (this.retrying.size > 0) this.retryNow();
    this.tick();
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => {
      const timeoutMs = this.hooks.flushTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        this.hooks.onFlushTimeout?.(this.size);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.push(done);
    });
  }

  private get isIdle(): boolean {
    return this.dirty.size === 0 && this.retrying.size === 0 && this.inFlight === 0;
  }

  private tick(): void {
    this.isScheduled = false;
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty];
    this.dirty.clear();
    for (const h of batch) this.commit(h);
  }

  private commit(h: WriteAheadHost): void {
    const g = h.gate;
    if (!g || g.isGone) return;
    if (g.exclusive > 0) {
      g.isDirty = true; // a whole-record write runs: committed when it settles (exclusive)
      return;
    }
    g.isDirty = false;
    if (h.fence === 0) {
      g.isDirty = true; // not in the store yet: the create's resolve touches it again (refenced)
      return;
    }
    const delta = g.take(h);
    if (!delta) {
      h.committed(); // nothing new to store: anything held may go (an Ack up to the stored cursor)
      return;
    }
    const fence = h.fence;
    this.inFlight++;
    const settled = this.store.commit(h.id, fence, delta).then(
      () => {
        this.inFlight--;
        g.stored();
        if (this.isFailing) {
          this.isFailing = false;
          this.retryDelayMs = RETRY_FIRST_MS;
          this.hooks.onRecovered?.();
        }
        if (!g.isGone) {
          h.committed();
          if (g.isDirty) this.commit(h); // what gathered during the round trip: its own batch, at once
        }
        this.notifyIfIdle();
      },
      (err: unknown) => {
        this.inFlight--;
        g.refused();
        if (err instanceof StaleFenceError && h.fence === fence) {
          g.isGone = true;
          this.hooks.onStale(h.id, fence);
        } else if (err instanceof ReplayCapError) {
          // A replay past the store's hard cap is a bug or an attack: retrying would only repeat it.
          g.isGone = true;
          this.dirty.delete(h);
          if (h.fence === fence) h.commitFailed(err); // CC-5: this session alone closes 1011
        } else if (!g.isGone && storedLastOf(err) !== undefined) {
          // SEQ-2: the store already has frames this commit repeats (an earlier commit landed but its
          // answer was lost, or a whole-record save overtook it): continue after them, at once.
          g.storedUpTo(storedLastOf(err) as bigint);
          this.retrying.add(h);
          this.armRetry(0);
        } else if (!g.isGone) {
          // MN-6: kept (it is read again from the session) and retried with backoff; a newer fence retries at once.
          if (!(err instanceof StaleFenceError)) this.failed(err);
          g.isDirty = false;
          this.retrying.add(h);
          this.armRetry(err instanceof StaleFenceError ? 0 : this.retryDelayMs);
        }
        this.notifyIfIdle();
      },
    );
    const done: Promise<void> = settled.then(
      () => {
        if (g.inFlight === done) g.inFlight = undefined;
      },
      () => {
        if (g.inFlight === done) g.inFlight = undefined; // a handler threw: exclusive() must not wait on it forever
      },
    );
    g.inFlight = done;
  }

  private failed(err: unknown): void {
    if (!this.isFailing) {
      this.isFailing = true;
      this.hooks.onError(err);
    }
  }

  private armRetry(delayMs: number): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => this.retryNow(), delayMs);
    this.retryTimer.unref?.(); // a retry alone keeps no process alive
    if (delayMs > 0) this.retryDelayMs = Math.min(RETRY_MAX_MS, this.retryDelayMs * 2); // MN-6
  }

  private retryNow(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const batch = [...this.retrying];
    this.retrying.clear();
    for (const h of batch) this.commit(h);
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Stop the retry timer (server close, after flush). */
  stop(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
