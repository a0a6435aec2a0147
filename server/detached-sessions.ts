/**
 * The server's detached sessions, oldest detachment first, within two global limits (RS-11):
 * how many, and how many bytes they hold together (queued items + replay buffers). Each session is
 * bounded on its own (BP-3, RS-3); the sum over thousands of them is not (issue 13: 55,000 fuzz
 * connections left 9,247 sessions held). Over a limit, the oldest detached session is evicted;
 * a later Hello naming it hears NEW with reason EVICTED.
 *
 * Detached sessions are also the first to go when a new session finds the server at maxSessions
 * (CC-8): a client that is here now outranks one that may never come back.
 */
export interface DetachedMember {
  /** Bytes it holds for its client: queued items plus sent-unacked messages. */
  heldBytes(): number;
}

export interface DetachedLimits {
  readonly maxCount: number;
  readonly budgetBytes: number;
}

export class DetachedSessions<S extends DetachedMember> {
  /** Insertion order is detachment order: the first entry is the oldest. */
  private readonly list = new Set<S>();

  constructor(
    private readonly limits: DetachedLimits,
    /** End this session now (RS-11); it must call remove() as it goes. */
    private readonly evict: (s: S) => void,
  ) {}

  get size(): number {
    return this.list.size;
  }

  /** The session lost its socket and is kept for resume (RS-1). */
  add(s: S): void {
    this.list.delete(s);
    this.list.add(s);
  }

  /** Attached again, or ended. */
  remove(s: S): void {
    this.list.delete(s);
  }

  /** Bytes held by every detached session together. */
  heldBytes(): number {
    let n = 0;
    for (const s of this.list) n += s.heldBytes();
    return n;
  }

  /** Evict the oldest detached session; false when there is none. */
  evictOldest(): boolean {
    const oldest = this.list.values().next();
    if (oldest.done) return false;
    this.list.delete(oldest.value); // whatever evict() does, the loop that called us makes progress
    this.evict(oldest.value);
    return true;
  }

  /** RS-11: evict oldest first until both limits hold; how many were evicted. */
  enforce(): number {
    let evicted = 0;
    while (this.list.size > this.limits.maxCount && this.evictOldest()) evicted++;
    if (!Number.isFinite(this.limits.budgetBytes)) return evicted;
    let total = this.heldBytes();
    while (total > this.limits.budgetBytes) {
      const oldest = this.list.values().next();
      if (oldest.done) break;
      total -= oldest.value.heldBytes();
      this.evictOldest();
      evicted++;
    }
    return evicted;
  }
}
