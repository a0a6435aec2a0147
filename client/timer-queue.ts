/**
 * Timers shared by many clients (issue 16: GC per connect, idle heap per client). Each client's
 * machine keeps two timers while connected (HB-5's heartbeat interval, HB-4's dead-peer delay) and
 * sets and cancels a third per connect (HS-10's handshake deadline). As platform timers that is a
 * Node `Timeout`, a closure and its context each: ~590 B held by every idle client, three timer
 * objects made per connect (bench/probes/client-heap.md).
 *
 * Here a timer is one small entry in a list of timers of the same duration, and each list holds one
 * platform timer, armed for its first entry, as Node's own timers are organised (one list per
 * duration, `lib/internal/timers.js`). A timer of a list starts no later than the ones after it
 * (same duration, a monotonic clock), so a list is due in order and a fire runs a prefix of it.
 *
 * Semantics are those of one platform timer per entry: an entry fires once, at or after its due time
 * (its start plus its duration on the base clock), never after cancel(); entries of one duration
 * fire in the order they were added. When the platform timer of a list fires, every entry of that
 * list due by then runs (those due at the time it was armed for, and any overdue), and the timer is
 * armed again for the next entry. timer-queue.test.ts proves this over random adds, cancels,
 * re-entrant adds and cancels from callbacks, and clock advances.
 */
import type { Clock, TimerHandle } from '../spec/protocol/clock.js';

/** Told when one of its timers fires; `payload` is what it gave add(). */
export interface TimerTarget<P> {
  onTimer(timer: QueuedTimer<P>): void;
}

/** One pending timer: an entry of its duration's list (doubly linked, so cancel() is O(1)). */
export class QueuedTimer<P> {
  prev: QueuedTimer<P> | undefined;
  next: QueuedTimer<P> | undefined;
  /** Its list while pending; undefined once fired or cancelled. */
  list: DurationList<P> | undefined;

  constructor(
    readonly due: number,
    readonly target: TimerTarget<P>,
    readonly payload: P,
  ) {}
}

/** The pending timers of one duration, oldest first, and the platform timer armed for the first. */
class DurationList<P> {
  head: QueuedTimer<P> | undefined;
  tail: QueuedTimer<P> | undefined;
  handle: TimerHandle | undefined;
  /** The due time the platform timer was armed for. */
  armedFor = 0;
  /** Its due entries are running: fire() arms the platform timer when they are done. */
  isFiring = false;
  readonly fire = (): void => this.queue.fire(this);

  constructor(
    readonly ms: number,
    private readonly queue: TimerQueue<P>,
  ) {}
}

export class TimerQueue<P> {
  private readonly lists = new Map<number, DurationList<P>>();

  constructor(private readonly clock: Clock) {}

  /** A timer of `ms` for `target`, started now. */
  add(ms: number, target: TimerTarget<P>, payload: P): QueuedTimer<P> {
    let list = this.lists.get(ms);
    if (list === undefined) {
      list = new DurationList<P>(ms, this);
      this.lists.set(ms, list);
    }
    const t = new QueuedTimer<P>(this.clock.now() + ms, target, payload);
    t.list = list;
    t.prev = list.tail;
    if (list.tail) list.tail.next = t;
    else list.head = t;
    list.tail = t;
    if (list.handle === undefined && !list.isFiring) this.arm(list, t.due);
    return t;
  }

  /** Cancel a pending timer; nothing for one already fired or cancelled. */
  cancel(t: QueuedTimer<P>): void {
    const list = t.list;
    if (list === undefined) return;
    this.unlink(list, t);
    // A list left empty drops its platform timer; otherwise the armed one finds the new head (not
    // yet due: armed again for it) when it fires.
    if (list.head === undefined && list.handle !== undefined) {
      this.clock.clearTimeout(list.handle);
      list.handle = undefined;
    }
  }

  /** @internal The platform timer of `list` fired. */
  fire(list: DurationList<P>): void {
    list.handle = undefined;
    list.isFiring = true;
    const until = Math.max(list.armedFor, this.clock.now());
    try {
      // Taken one at a time: a callback may add to this list (after its tail, not yet due) or
      // cancel any entry of it.
      for (let t = list.head; t !== undefined && t.due <= until; t = list.head) {
        this.unlink(list, t);
        t.target.onTimer(t);
      }
    } finally {
      // Also after a callback threw (as a platform timer's would, to the caller): the rest still run.
      list.isFiring = false;
      if (list.head !== undefined && list.handle === undefined) this.arm(list, list.head.due);
    }
  }

  private arm(list: DurationList<P>, due: number): void {
    list.armedFor = due;
    list.handle = this.clock.setTimeout(list.fire, Math.max(0, due - this.clock.now()));
  }

  private unlink(list: DurationList<P>, t: QueuedTimer<P>): void {
    if (t.prev) t.prev.next = t.next;
    else list.head = t.next;
    if (t.next) t.next.prev = t.prev;
    else list.tail = t.prev;
    t.prev = t.next = undefined;
    t.list = undefined;
  }
}
