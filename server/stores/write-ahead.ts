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
 * the session (RS-7 across nodes) or the store lost its record: the owner is told, the delta dropped. A ReplayCapError is never
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
import { Gate, type WriteAheadHost } from './gate.js';
import type { SessionRecord } from './session-record.js';
import { ReplayCapError, ReplayOrderError, StaleFenceError, type RecordDelta, type SessionStore } from './session-store.js';

export interface WriteAheadHooks {
  /** Run `flush` once, soon (default setImmediate: after this tick's I/O callbacks). */
  readonly schedule?: (flush: () => void) => void;
  /**
   * A commit under `fence` was refused as stale: another node owns the session now (RS-7), or the
   * store holds no record of it (`currentFence` undefined: lost, or ended elsewhere).
   */
  readonly onStale: (id: string, fence: number, currentFence: number | undefined) => void;
  /** The store refused or was unreachable; the commit is retried (logged once per outage). */
  readonly onError: (err: unknown) => void;
  /** The store answers again after failures. */
  readonly onRecovered?: () => void;
  /** How long flush() waits for a store that does not answer (drain, close): it never hangs. */
  readonly flushTimeoutMs?: number;
  /** The log line when flush gives up. */
  readonly onFlushTimeout?: (pending: number) => void;
}

/** Sessions per commitMany call: one call's work stays short, so Redis answers other clients between them. */
export const COMMIT_MANY_MAX = 256;

/** One session's commit, taken and about to be sent. */
interface Prepared {
  readonly h: WriteAheadHost;
  readonly g: Gate;
  readonly fence: number;
  readonly delta: RecordDelta;
}

/** MN-6: retry backoff, 50 ms doubling to 2 s. */
export const RETRY_FIRST_MS = 50;
export const RETRY_MAX_MS = 2_000;

/** The last seq a store says it holds, from its refusal of frames that do not follow it; undefined for any other failure. */
function storedLastOf(err: unknown): bigint | undefined {
  return err instanceof ReplayOrderError ? err.lastSeq : undefined;
}

export { Gate, type WriteAheadHost };

function noop(): void {}

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
    private readonly store: Pick<SessionStore, 'commit'> & Partial<Pick<SessionStore, 'commitMany'>>,
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
    this.commitAll(batch);
  }

  /**
   * One commit per session of `hs`: with a store that takes many at once (commitMany), one call per
   * COMMIT_MANY_MAX sessions (a tick of a 2,000-subscriber publication is a handful of calls, not
   * 2,000), each session's outcome its own; else one `commit` each.
   */
  private commitAll(hs: readonly WriteAheadHost[]): void {
    const many = this.store.commitMany;
    const ready: Prepared[] = [];
    for (const h of hs) {
      const p = this.prepare(h);
      if (!p) continue;
      if (many === undefined) this.issue(p, this.store.commit(h.id, p.fence, p.delta));
      else ready.push(p);
    }
    if (many === undefined) return;
    if (ready.length === 1) {
      const p = ready[0] as Prepared;
      this.issue(p, this.store.commit(p.h.id, p.fence, p.delta));
      return;
    }
    for (let i = 0; i < ready.length; i += COMMIT_MANY_MAX) this.issueMany(ready.slice(i, i + COMMIT_MANY_MAX), many);
  }

  /**
   * One commitMany call for `chunk`: one promise and one handler for the chunk, not three promises
   * per session (node CPU per session commit, issue 14). The sessions hear their outcomes in
   * order, as they would from their own promises; those that changed during the round trip are
   * committed again together, in one call, not one `commit` each.
   */
  private issueMany(chunk: readonly Prepared[], many: NonNullable<SessionStore['commitMany']>): void {
    this.inFlight += chunk.length;
    const again: WriteAheadHost[] = [];
    const each = (outcome: (j: number) => unknown): void => {
      for (let j = 0; j < chunk.length; j++) {
        const p = chunk[j] as Prepared;
        try {
          if (this.settle(p, outcome(j))) again.push(p.h);
        } catch {
          // a session's handler threw: the others still hear theirs (as with a promise each)
        }
      }
      if (again.length > 0) this.commitAll(again);
      this.notifyIfIdle();
    };
    const done: Promise<void> = many
      .call(this.store, chunk.map((p) => ({ id: p.h.id, fence: p.fence, delta: p.delta })))
      .then(
        (out) => each((j) => out[j]),
        (err: unknown) => each(() => err ?? new Error('commitMany rejected')),
      )
      .then(noop, noop)
      .then(() => {
        for (const p of chunk) if (p.g.inFlight === done) p.g.inFlight = undefined; // exclusive() waits on it
      });
    for (const p of chunk) p.g.inFlight = done;
  }

  private commit(h: WriteAheadHost): void {
    const p = this.prepare(h);
    if (p) this.issue(p, this.store.commit(h.id, p.fence, p.delta));
  }

  /** The session's delta for a commit now, or undefined (nothing new, not yet in the store, a whole-record write running). */
  private prepare(h: WriteAheadHost): Prepared | undefined {
    const g = h.gate;
    if (!g || g.isGone) return undefined;
    if (g.exclusive > 0) {
      g.isDirty = true; // a whole-record write runs: committed when it settles (exclusive)
      return undefined;
    }
    g.isDirty = false;
    if (h.fence === 0) {
      g.isDirty = true; // not in the store yet: the create's resolve touches it again (refenced)
      return undefined;
    }
    const delta = g.take(h);
    if (!delta) {
      h.committed(); // nothing new to store: anything held may go (an Ack up to the stored cursor)
      return undefined;
    }
    return { h, g, fence: h.fence, delta };
  }

  /** `result`: the store's answer to the commit of `p`; the session hears it, in order (one in flight per session). */
  private issue(p: Prepared, result: Promise<void>): void {
    const { h, g } = p;
    this.inFlight++;
    const settled = result.then(
      () => {
        if (this.settle(p, undefined)) this.commit(h); // what gathered during the round trip: its own batch, at once
        this.notifyIfIdle();
      },
      (err: unknown) => {
        this.settle(p, err ?? new Error('commit rejected'));
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

  /**
   * The store answered the commit of `p`: `err` undefined when it holds it. True when the session
   * changed meanwhile and should be committed again now (the caller does, alone or with others).
   */
  private settle(p: Prepared, err: unknown): boolean {
    const { h, g, fence } = p;
    this.inFlight--;
    if (err === undefined) {
      g.stored();
      if (this.isFailing) {
        this.isFailing = false;
        this.retryDelayMs = RETRY_FIRST_MS;
        this.hooks.onRecovered?.();
      }
      if (g.isGone) return false;
      h.committed();
      return g.isDirty;
    }
    g.refused();
    if (err instanceof StaleFenceError && h.fence === fence) {
      g.isGone = true;
      this.hooks.onStale(h.id, fence, err.currentFence);
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
    return false;
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
    this.commitAll(batch);
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
