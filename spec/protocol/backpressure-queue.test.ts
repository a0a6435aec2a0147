import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  BackpressurePolicy,
  BackpressureQueue,
  SESSION_CHANNEL,
  SnapshotReason,
  type QueueItem,
} from './backpressure-queue.js';

interface Item extends QueueItem {
  readonly id: number;
  /** Patches: the version chain. Messages: a per-key value that only grows. */
  readonly base: number;
  readonly version: number;
}

const policies = [
  BackpressurePolicy.DROP_OLDEST,
  BackpressurePolicy.DROP_NEWEST,
  BackpressurePolicy.COALESCE_BY_KEY,
  BackpressurePolicy.DISCONNECT,
] as const;

let nextId = 0;
function msg(channel: string, key = '', bytes = 1, version = 0): Item {
  return { kind: 'message', channel, key, bytes, id: ++nextId, base: 0, version };
}

function ids(q: BackpressureQueue<Item>): number[] {
  return q.peekItems().map((i) => i.id);
}

type Op =
  | { t: 'msg'; ch: number; key: number; bytes: number }
  | { t: 'patch'; ch: number; key: number; bytes: number }
  | { t: 'send'; n: number }
  | { t: 'drift'; ch: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('msg' as const), ch: fc.integer({ min: 0, max: 2 }), key: fc.integer({ min: 0, max: 3 }), bytes: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('patch' as const), ch: fc.integer({ min: 0, max: 2 }), key: fc.integer({ min: 0, max: 3 }), bytes: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('send' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drift' as const), ch: fc.integer({ min: 0, max: 2 }) }) },
);

/**
 * Runs ops against a queue with a producer that owns versioned channel state and a
 * consumer that applies what comes out (as SD-1 says a client does). Returns what
 * the property tests check.
 */
function simulate(policy: BackpressurePolicy, limitMessages: number, limitBytes: number, ops: Op[]) {
  const q = new BackpressureQueue<Item>({ policy, limitMessages, limitBytes });
  const producer = new Map<string, number>(); // channel → current version
  const consumer = new Map<string, number>(); // channel → applied version (after a snapshot)
  const lastValue = new Map<string, number>(); // (channel,key) → last delivered value
  let value = 0;
  let droppedBeforeSum = 0;
  let messagesPushed = 0;
  let messagesDelivered = 0;
  let gaps = 0;
  let staleValues = 0;
  let overflows = 0;
  let maxLen = 0;
  let maxBytesOverLimit = false;
  let maxSnapshots = 0;
  const take = (n: number) => {
    for (let i = 0; i < n; i++) {
      const d = q.next();
      if (!d) return;
      if (d.kind === 'snapshot') {
        if (d.channel !== SESSION_CHANNEL) consumer.set(d.channel, producer.get(d.channel) ?? 0);
        continue;
      }
      droppedBeforeSum += d.droppedBefore;
      const it = d.item;
      if (it.kind === 'message') messagesDelivered++;
      if (it.kind === 'patch') {
        // A client only holds a version after a snapshot of the channel (CH-1).
        const have = consumer.get(it.channel);
        if (have !== undefined) {
          if (have !== it.base) gaps++;
          consumer.set(it.channel, it.version);
        }
      } else if (it.key !== '') {
        const k = `${it.channel}/${it.key}`;
        if ((lastValue.get(k) ?? -1) > it.version) staleValues++;
        lastValue.set(k, it.version);
      }
    }
  };
  for (const o of ops) {
    if (o.t === 'send') take(o.n);
    else if (o.t === 'drift') q.requestSnapshot(`c${o.ch}`, SnapshotReason.DRIFT);
    else {
      const channel = `c${o.ch}`;
      let item: Item;
      if (o.t === 'patch') {
        const base = producer.get(channel) ?? 0;
        producer.set(channel, base + 1);
        item = { kind: 'patch', channel, key: `k${o.key}`, bytes: o.bytes, id: ++nextId, base, version: base + 1 };
      } else {
        item = msg(channel, o.key === 0 ? '' : `k${o.key}`, o.bytes, ++value);
        messagesPushed++;
      }
      const r = q.push(item);
      if (r === 'overflow') {
        // What the server does on BP-11: close, and resync the client by snapshots on resume.
        overflows++;
        q.clear();
        for (const ch of producer.keys()) q.requestSnapshot(ch, SnapshotReason.RESUME);
      }
    }
    maxLen = Math.max(maxLen, q.length);
    if (q.length > 1 && q.bytes > limitBytes) maxBytesOverLimit = true;
    maxSnapshots = Math.max(maxSnapshots, q.pendingSnapshots.length);
  }
  take(Number.MAX_SAFE_INTEGER);
  return { q, maxLen, maxBytesOverLimit, maxSnapshots, gaps, staleValues, droppedBeforeSum, messagesLost: messagesPushed - messagesDelivered, overflows };
}

describe('backpressure queue', () => {
  test('BP-3 BP-2 under every policy the queue never exceeds its message and byte bounds, and pending snapshots stay one per channel', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...policies),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 40, max: 160 }),
        fc.array(op, { maxLength: 150 }),
        (policy, limitMessages, limitBytes, ops) => {
          const r = simulate(policy, limitMessages, limitBytes, ops);
          expect(r.maxLen).toBeLessThanOrEqual(limitMessages);
          expect(r.maxBytesOverLimit).toBe(false);
          expect(r.maxSnapshots).toBeLessThanOrEqual(3); // c0..c2
        },
      ),
      { numRuns: 400 },
    );
  });

  test('BP-9 SD-8 a consumer applying what comes out never sees a version gap: no patch is dropped alone', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...policies),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 40, max: 160 }),
        fc.array(op, { maxLength: 150 }),
        (policy, limitMessages, limitBytes, ops) => {
          expect(simulate(policy, limitMessages, limitBytes, ops).gaps).toBe(0);
        },
      ),
      { numRuns: 400 },
    );
  });

  test('BP-8 coalescing never delivers a value older than one already delivered for its key', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 150 }), (limitMessages, ops) => {
        expect(simulate(BackpressurePolicy.COALESCE_BY_KEY, limitMessages, 1000, ops).staleValues).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  test('BP-10 the dropped_before values handed out add up to the Messages that never came out', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(BackpressurePolicy.DROP_OLDEST, BackpressurePolicy.DROP_NEWEST, BackpressurePolicy.COALESCE_BY_KEY),
        fc.integer({ min: 1, max: 6 }),
        fc.array(op, { maxLength: 150 }),
        (policy, limitMessages, ops) => {
          const r = simulate(policy, limitMessages, 1000, ops);
          expect(r.droppedBeforeSum + r.q.droppedPending).toBe(r.messagesLost);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('BP-6 DROP_OLDEST drops the oldest item and keeps the rest in order', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DROP_OLDEST, limitMessages: 3, limitBytes: 1000 });
    const a = [msg('x'), msg('x'), msg('x'), msg('x'), msg('x')];
    for (const m of a) q.push(m);
    expect(ids(q)).toEqual(a.slice(2).map((m) => m.id));
    expect(q.counters.dropOldest).toBe(2);
    const first = q.next();
    expect(first).toMatchObject({ kind: 'item', droppedBefore: 2 }); // BP-10
    expect(q.next()).toMatchObject({ kind: 'item', droppedBefore: 0 });
  });

  test('BP-6 BP-3 DROP_OLDEST also makes room by bytes', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DROP_OLDEST, limitMessages: 10, limitBytes: 100 });
    const a = [msg('x', '', 40), msg('x', '', 40), msg('x', '', 40)];
    for (const m of a) q.push(m);
    expect(ids(q)).toEqual([a[1]?.id, a[2]?.id]);
    expect(q.bytes).toBe(80);
  });

  test('BP-7 DROP_NEWEST drops the item being added', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DROP_NEWEST, limitMessages: 2, limitBytes: 1000 });
    const a = [msg('x'), msg('x'), msg('x')];
    expect(a.map((m) => q.push(m))).toEqual(['queued', 'queued', 'dropped']);
    expect(ids(q)).toEqual([a[0]?.id, a[1]?.id]);
    expect(q.counters.dropNewest).toBe(1);
  });

  test('BP-8 COALESCE_BY_KEY replaces in place, and falls back to drop-oldest without a match', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.COALESCE_BY_KEY, limitMessages: 3, limitBytes: 1000 });
    const a = msg('x', 'A');
    const b = msg('x', 'B');
    const a2 = msg('x', 'A');
    const other = msg('y', 'A'); // same key, other channel: no match
    q.push(a);
    q.push(b);
    expect(q.push(a2)).toBe('coalesced');
    expect(ids(q)).toEqual([a2.id, b.id]);
    q.push(other);
    const c = msg('x', 'C');
    expect(q.push(c)).toBe('queued'); // full: drop-oldest (a2)
    expect(ids(q)).toEqual([b.id, other.id, c.id]);
    expect(q.counters).toMatchObject({ coalesced: 1, dropOldest: 1 });
  });

  test('BP-9 a dropped patch replaces every queued patch of its channel with one pending Snapshot (BACKPRESSURE)', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DROP_OLDEST, limitMessages: 3, limitBytes: 1000 });
    const p = (v: number): Item => ({ kind: 'patch', channel: 's', key: '', bytes: 1, id: ++nextId, base: v, version: v + 1 });
    const m = msg('x');
    q.push(p(1));
    q.push(m);
    q.push(p(2));
    q.push(msg('x')); // full: the oldest is patch 1 → both patches of s go, one snapshot pending
    expect(q.pendingSnapshots).toEqual(['s']);
    expect(q.peekItems().every((i) => i.kind === 'message')).toBe(true);
    expect(q.push(p(3))).toBe('absorbed'); // the pending snapshot carries it
    expect(q.next()).toEqual({ kind: 'snapshot', channel: 's', reason: SnapshotReason.BACKPRESSURE });
    expect(q.counters.patchesReplaced).toBe(2);
  });

  test('BP-11 DISCONNECT reports an overflow and leaves the queue as it was', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DISCONNECT, limitMessages: 2, limitBytes: 1000 });
    const a = [msg('x'), msg('x')];
    for (const m of a) q.push(m);
    expect(q.push(msg('x'))).toBe('overflow');
    expect(ids(q)).toEqual(a.map((m) => m.id));
    expect(q.counters.disconnect).toBe(1);
  });

  test('SD-8 SD-5 snapshots are coalesced per channel and the session re-baseline goes first', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DROP_OLDEST, limitMessages: 8, limitBytes: 1000 });
    expect(q.requestSnapshot('a', SnapshotReason.DRIFT)).toBe(true);
    expect(q.requestSnapshot('a', SnapshotReason.DRIFT)).toBe(false);
    q.requestSnapshot('b', SnapshotReason.DRIFT);
    q.requestSnapshot(SESSION_CHANNEL, SnapshotReason.DRIFT);
    expect(q.pendingSnapshots).toEqual([SESSION_CHANNEL, 'a', 'b']);
  });

  test('CH-2 removing a channel drops its items and its pending snapshot', () => {
    const q = new BackpressureQueue<Item>({ policy: BackpressurePolicy.DROP_OLDEST, limitMessages: 8, limitBytes: 1000 });
    const keep = msg('y');
    q.push(msg('x'));
    q.push(keep);
    q.requestSnapshot('x', SnapshotReason.SUBSCRIBED);
    q.removeChannel('x');
    expect(q.pendingSnapshots).toEqual([]);
    expect(ids(q)).toEqual([keep.id]);
    expect(q.bytes).toBe(1);
  });
});
