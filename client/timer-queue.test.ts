/**
 * TimerQueue (issue 16) stands for one platform timer per entry. Property, over random adds (a few
 * durations, so lists share), cancels, adds and cancels made from inside callbacks, and clock
 * advances on a simulated base clock: in each advance exactly the pending timers due by the new time
 * fire, each once, none before its due time, none after its cancel, those of one duration in the
 * order they were added; and the queue holds one platform timer per non-empty duration, none else.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SimulatedClock } from 'xstate';
import { TimerQueue, type QueuedTimer, type TimerTarget } from './timer-queue.js';

/** What a timer's callback does: nothing, add a timer of its own duration (to the list being fired) or of another, cancel one. */
type OnFire = 'none' | 'addSame' | 'addOther' | 'cancel';

type Op =
  | { readonly kind: 'add'; readonly ms: number; readonly onFire: OnFire }
  | { readonly kind: 'cancel'; readonly pick: number }
  | { readonly kind: 'advance'; readonly ms: number };

const MS = [1, 5, 10, 25] as const;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), ms: fc.constantFrom(...MS), onFire: fc.constantFrom<OnFire>('none', 'none', 'addSame', 'addOther', 'cancel') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
);

interface Entry {
  readonly id: number;
  readonly ms: number;
  readonly due: number;
  readonly onFire: OnFire;
  timer?: QueuedTimer<number>;
  state: 'pending' | 'fired' | 'cancelled';
}

function run(ops: readonly Op[]): void {
  const clock = new SimulatedClock();
  const q = new TimerQueue<number>(clock);
  const entries: Entry[] = [];
  let fired: Entry[] = [];
  const pending = () => entries.filter((e) => e.state === 'pending');
  const add = (ms: number, onFire: Entry['onFire']): void => {
    const e: Entry = { id: entries.length, ms, due: clock.now() + ms, onFire, state: 'pending' };
    entries.push(e);
    e.timer = q.add(ms, target, e.id);
  };
  const cancel = (pick: number): void => {
    const p = pending();
    const e = p[pick % Math.max(1, p.length)];
    if (e === undefined) return;
    q.cancel(e.timer as QueuedTimer<number>);
    e.state = 'cancelled';
  };
  const target: TimerTarget<number> = {
    onTimer(t) {
      const e = entries[t.payload] as Entry;
      expect(e.state).toBe('pending'); // once, and never after its cancel
      expect(clock.now()).toBeGreaterThanOrEqual(e.due); // never early
      e.state = 'fired';
      fired.push(e);
      if (e.onFire === 'addSame') add(e.ms, 'none');
      if (e.onFire === 'addOther') add(MS[e.id % MS.length] as number, 'none');
      if (e.onFire === 'cancel') cancel(e.id);
    },
  };
  const platformTimers = () => (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
  for (const op of ops) {
    if (op.kind === 'add') add(op.ms, op.onFire);
    else if (op.kind === 'cancel') cancel(op.pick);
    else {
      const to = clock.now() + op.ms;
      fired = [];
      clock.set(to);
      // Exactly the timers due by now have fired (those added by a callback are due later) …
      expect(pending().filter((e) => e.due <= to).map((e) => e.id)).toEqual([]);
      // … and those of one duration in the order they were added.
      for (const ms of MS) {
        const ids = fired.filter((e) => e.ms === ms).map((e) => e.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
      }
    }
    // One platform timer per duration with pending entries, and no other.
    expect(platformTimers()).toBe(new Set(pending().map((e) => e.ms)).size);
  }
}

describe('TimerQueue: one platform timer per duration, as one per entry', () => {
  test('fires exactly the due timers, once, never early, never after cancel, in order per duration', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => run(ops)),
      { numRuns: 400 },
    );
  });
});
