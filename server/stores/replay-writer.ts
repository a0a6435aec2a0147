/**
 * Write-behind of replay appends and trims, for a store that outlives the node (isShared, issue 14).
 * Every sent frame and every ack would otherwise be a store round trip on the hot path; instead they
 * are gathered per session and written once per tick, one commit per session that changed. Order within a session is kept: frames are appended before the trim that
 * may cover them, and a tick's writes are issued in the order the sessions first changed.
 *
 * Bounded while the store is away: a session's pending frames are what its OutboundLog holds anyway
 * (the receive window, RS-3's bytes), and a failed batch is dropped and reported (onError), never
 * retried without limit; the owner decides (issue 14: re-save the whole record or close the session).
 */
import type { ReplayFrame } from './session-record.js';
import { StaleFenceError, type SessionStore } from './session-store.js';

interface Pending {
  fence: number;
  frames: ReplayFrame[];
  acked: bigint | undefined;
}

export interface ReplayWriterHooks {
  /** Run `flush` once, soon (default setImmediate: after this tick's I/O callbacks). */
  readonly schedule?: (flush: () => void) => void;
  /** A write under `fence` was refused as stale (StaleFenceError): another node may own the session now (RS-7). */
  readonly onStale: (id: string, fence: number) => void;
  /** The store refused or was unreachable; the batch is dropped. */
  readonly onError: (id: string, err: unknown) => void;
}

export class ReplayWriter {
  private readonly pending = new Map<string, Pending>();
  private isScheduled = false;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly schedule: (flush: () => void) => void;

  constructor(
    private readonly store: SessionStore,
    private readonly hooks: ReplayWriterHooks,
  ) {
    this.schedule = hooks.schedule ?? ((fn) => void setImmediate(fn));
  }

  /** Sessions with writes waiting (for tests and metrics). */
  get size(): number {
    return this.pending.size;
  }

  /** A frame went out under seq (SEQ-7: it is kept until acked). */
  sent(id: string, fence: number, seq: bigint, bytes: Uint8Array): void {
    this.entry(id, fence).frames.push({ seq, bytes });
  }

  /** A cumulative ack released frames up to seq (SEQ-7). */
  acked(id: string, fence: number, seq: bigint): void {
    const p = this.entry(id, fence);
    if (p.acked === undefined || seq > p.acked) p.acked = seq;
  }

  /**
   * This node claimed the session again (a resume on this node): what it gathered is still its
   * own, and goes out under the new fence.
   */
  refence(id: string, fence: number): void {
    const p = this.pending.get(id);
    if (p) p.fence = fence;
  }

  /** The session ended or moved: what is pending for it is moot. */
  forget(id: string): void {
    this.pending.delete(id);
  }

  /** Write everything pending now; resolves when the store has it (drain, close, tests). */
  flush(): Promise<void> {
    this.isScheduled = false;
    const batch = [...this.pending];
    this.pending.clear();
    const run = this.inFlight.then(() => Promise.all(batch.map(([id, p]) => this.write(id, p))).then(() => undefined));
    this.inFlight = run;
    return run;
  }

  private entry(id: string, fence: number): Pending {
    let p = this.pending.get(id);
    if (!p || p.fence !== fence) {
      if (p) void this.write(id, p); // a new claim: what the old fence gathered goes first (and is refused if stale)
      p = { fence, frames: [], acked: undefined };
      this.pending.set(id, p);
    }
    if (!this.isScheduled) {
      this.isScheduled = true;
      this.schedule(() => void this.flush());
    }
    return p;
  }

  private async write(id: string, p: Pending): Promise<void> {
    // Frames already covered by the ack in the same batch are never written.
    const frames = p.acked === undefined ? p.frames : p.frames.filter((f) => f.seq > (p.acked as bigint));
    try {
      await this.store.commit(id, p.fence, { frames, acked: p.acked });
    } catch (err) {
      if (err instanceof StaleFenceError) this.hooks.onStale(id, p.fence);
      else this.hooks.onError(id, err);
    }
  }
}
