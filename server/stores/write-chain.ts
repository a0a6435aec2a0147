/**
 * One ordering chain per session for every write to the session store (issue 14, MN-1, MN-2):
 * the lifecycle's writes (create, claim, save at drain and detach, end) run one after the other,
 * and each runs exclusive of the write-ahead's commits of that session (WriteAhead.exclusive): it
 * starts once no commit of the session is in flight, and none starts until it settled.
 *
 * Why: a whole record read at one moment and written later would put the store back to that
 * moment over commits that landed meanwhile (frames the client has seen, gone; positions behind
 * the frames). So an op reads the session when it runs, inside the chain, never when it was
 * queued: what it writes is never older than anything the store already holds of the session.
 *
 * A session with no write in flight starts its op at once (synchronously), so the memory store's
 * effect (an ended reason, RS-6) is in place before the next event is handled. Nothing is kept
 * for an idle session.
 */
import type { WriteAhead, WriteAheadHost } from './write-ahead.js';

export class WriteChain<H extends WriteAheadHost = WriteAheadHost> {
  /** Writes in flight, by session id; absent when none (an idle session holds no promise). */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly writeAhead: Pick<WriteAhead, 'exclusive'> | undefined,
    /** A write failed (its error: StaleFenceError when another node owns the session). */
    private readonly onFailed: (h: H, err: unknown) => void,
  ) {}

  /** Run `op` after the session's earlier writes, exclusive of its commits. */
  run(h: H, op: () => Promise<void>): void {
    const wa = this.writeAhead;
    this.append(h, wa && h.gate ? () => wa.exclusive(h, op) : op);
  }

  /**
   * Hold the session's later writes until `p` settles, without holding its commits (MN-17: the
   * wait for the application to finish the client messages it was given; commits go on meanwhile).
   */
  after(h: H, p: () => Promise<void>): void {
    this.append(h, p);
  }

  /** A write of this session is queued or running. */
  has(id: string): boolean {
    return this.writes.has(id);
  }

  /** Every write queued now, settled (close, drain, tests). */
  settled(): Promise<void> {
    return Promise.all([...this.writes.values()]).then(() => undefined);
  }

  private append(h: H, op: () => Promise<void>): void {
    const id = h.id;
    const prev = this.writes.get(id);
    const run = (prev ? prev.then(op) : start(op)).catch((err: unknown) => this.onFailed(h, err));
    this.writes.set(id, run);
    void run.then(() => {
      if (this.writes.get(id) === run) this.writes.delete(id);
    });
  }
}

/** `op()`, a synchronous throw as a rejection. */
function start(op: () => Promise<void>): Promise<void> {
  try {
    return op();
  } catch (err) {
    return Promise.reject(err);
  }
}
