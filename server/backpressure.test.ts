import { afterEach, describe, expect, test, vi } from 'vitest';
import { BackpressurePolicy, ResumeOutcome, ResumeReason, SnapshotReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { RawClient } from '../testkit/raw-client.js';
import type { LifelineServer } from './server.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Messages received so far as [payload, dropped_before]. */
const received = (c: RawClient) => c.bodies('message').map((m) => [dec(m.payload), m.droppedBefore] as const);

/** A session whose window of 1 is held by m1, so everything after it waits in the queue. */
async function blocked(srv: LifelineServer, policy: BackpressurePolicy): Promise<{ c: RawClient; id: string }> {
  const c = await h.session(srv, { receiveWindow: 1, preferredPolicy: policy, channels: ['feed'] });
  const w = c.bodies('welcome')[0];
  expect(w?.policy).toBe(policy); // BP-2: the policy in force is stated in Welcome
  await srv.publish('feed', { payload: enc('m1') });
  await c.waitForCount('message', 1);
  return { c, id: w?.sessionId as string };
}

/** Ack one at a time until `n` messages have arrived. */
async function drainTo(c: RawClient, n: number): Promise<void> {
  while (c.bodies('message').length < n) {
    const have = c.bodies('message').length;
    c.ackAll();
    await c.waitForCount('message', have + 1);
  }
}

describe('backpressure', () => {
  test('BP-1 the server never has more unacked messages in flight than the client\'s receive window', async () => {
    const srv = await h.server();
    const c = await h.session(srv, { receiveWindow: 3, channels: ['feed'] });
    for (let i = 1; i <= 10; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.bodies('message')).toHaveLength(3);
    c.ack(2n);
    await c.waitForCount('message', 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.bodies('message')).toHaveLength(5);
  });

  test('BP-5 RS-3 a window of 0 means the default, and the window is clamped to the replay window', async () => {
    const srv = await h.server({ replayWindowMessages: 4 });
    const c = await h.session(srv, { receiveWindow: 0, channels: ['feed'] });
    for (let i = 0; i < 10; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 4);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.bodies('message')).toHaveLength(4); // min(default 256, replay window 4)
    const srv2 = await h.server({ queueLimitMessages: 2000 });
    const d = await h.session(srv2, { receiveWindow: 0, channels: ['feed'] });
    for (let i = 0; i < 300; i++) await srv2.publish('feed', { payload: enc(`m${i}`) });
    await d.waitForCount('message', 256);
    await new Promise((r) => setTimeout(r, 50));
    expect(d.bodies('message')).toHaveLength(256);
  });

  test('BP-2 the server decides the policy; Welcome states it', async () => {
    const srv = await h.server({ policy: 'drop-newest', acceptPreferredPolicy: false });
    const c = await h.session(srv, { preferredPolicy: BackpressurePolicy.COALESCE_BY_KEY });
    expect(c.bodies('welcome')[0]?.policy).toBe(BackpressurePolicy.DROP_NEWEST);
  });

  test('BP-6 BP-10 DROP_OLDEST keeps the newest items in order; the next message carries dropped_before', async () => {
    const srv = await h.server({ queueLimitMessages: 3 });
    const { c, id } = await blocked(srv, BackpressurePolicy.DROP_OLDEST);
    for (let i = 2; i <= 8; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    expect(srv.session(id)?.stats()).toMatchObject({ queueLength: 3, drops: { dropOldest: 4 } });
    await drainTo(c, 4);
    expect(received(c)).toEqual([['m1', 0], ['m6', 4], ['m7', 0], ['m8', 0]]);
  });

  test('BP-7 BP-10 DROP_NEWEST drops what arrives at a full queue', async () => {
    const srv = await h.server({ queueLimitMessages: 3 });
    const { c, id } = await blocked(srv, BackpressurePolicy.DROP_NEWEST);
    for (let i = 2; i <= 8; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    expect(srv.session(id)?.stats().drops.dropNewest).toBe(4);
    await drainTo(c, 4);
    expect(received(c)).toEqual([['m1', 0], ['m2', 4], ['m3', 0], ['m4', 0]]);
  });

  test('BP-8 BP-10 COALESCE_BY_KEY replaces a key\'s queued value in place and never delivers an older one', async () => {
    const srv = await h.server({ queueLimitMessages: 3 });
    const { c } = await blocked(srv, BackpressurePolicy.COALESCE_BY_KEY);
    const px = (key: string, v: string) => srv.publish('feed', { key, payload: enc(`${key}=${v}`) });
    px('AAPL', '1');
    px('MSFT', '1');
    px('AAPL', '2'); // replaces AAPL=1 in place
    px('GOOG', '1');
    px('TSLA', '1'); // full, no match: drop-oldest (AAPL=2)
    px('MSFT', '2');
    await drainTo(c, 4);
    expect(received(c)).toEqual([['m1', 0], ['MSFT=2', 3], ['GOOG=1', 0], ['TSLA=1', 0]]);
  });

  test('BP-9 SD-10 dropped patches become one BACKPRESSURE snapshot of the channel: the version chain never breaks, the next patch has the snapshot\'s version as base', async () => {
    let version = 1n;
    const srv = await h.server({ queueLimitMessages: 3, snapshot: (ch) => (ch === 'doc' ? { version, state: enc(`v${version}`) } : undefined) });
    const c = await h.session(srv, { receiveWindow: 1, preferredPolicy: BackpressurePolicy.DROP_OLDEST, channels: ['doc'] });
    await c.waitForBody('snapshot'); // seq 1 holds the window
    for (let i = 0; i < 10; i++) {
      await srv.publishPatch('doc', { baseVersion: version, version: version + 1n, delta: enc(`+${version + 1n}`) });
      version += 1n;
    }
    c.ackAll();
    await c.waitForCount('snapshot', 2);
    await new Promise((r) => setTimeout(r, 30));
    const snaps = c.bodies('snapshot');
    expect(snaps).toHaveLength(2);
    expect(snaps[1]).toMatchObject({ reason: SnapshotReason.BACKPRESSURE, version: 11n });
    expect(c.bodies('statePatch')).toEqual([]); // everything queued was folded into the snapshot
    await srv.publishPatch('doc', { baseVersion: 11n, version: 12n, delta: enc('+12') });
    c.ackAll();
    const p = await c.waitForBody('statePatch');
    expect(p).toMatchObject({ baseVersion: 11n, version: 12n, droppedBefore: 0 }); // patches replaced do not count (BP-10)
  });

  test('BP-11 BP-15 DISCONNECT closes 4202 when the queue would overflow; the session resumes with SNAPSHOT', async () => {
    const srv = await h.server({ queueLimitMessages: 2, snapshot: () => undefined });
    const { c, id } = await blocked(srv, BackpressurePolicy.DISCONNECT);
    for (let i = 2; i <= 4; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    expect((await c.waitForClose()).code).toBe(codeOf('SLOW_CONSUMER'));
    expect(srv.session(id)?.state).toBe('detached');
    expect(srv.session(id)?.stats().drops.disconnect).toBe(1);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['feed'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.REPLAY_WINDOW_EXCEEDED });
    await b.waitForCount('message', 2); // what was queued still comes, after the (stateless) resync
    expect(received(b)).toEqual([['m2', 1], ['m3', 0]]);
  });

  test('BP-15 a DISCONNECT overflow while detached breaks continuity: the resume is SNAPSHOT (REPLAY_WINDOW_EXCEEDED), never RESUMED', async () => {
    const srv = await h.server({ queueLimitMessages: 2, snapshot: () => undefined });
    const { c, id } = await blocked(srv, BackpressurePolicy.DISCONNECT);
    c.ackAll();
    c.terminate(); // detached, not by the policy
    await vi.waitFor(() => expect(srv.session(id)?.state).toBe('detached'));
    for (let i = 2; i <= 4; i++) await srv.publish('feed', { payload: enc(`m${i}`) }); // 3 > limit 2: one cannot be queued
    expect(srv.session(id)?.stats().drops.disconnect).toBe(1);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['feed'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.REPLAY_WINDOW_EXCEEDED });
    // A detached session whose queue did not overflow resumes as RESUMED: the overflow decided it.
    const srv2 = await h.server({ queueLimitMessages: 2, snapshot: () => undefined });
    const q = await blocked(srv2, BackpressurePolicy.DISCONNECT);
    q.c.ackAll();
    q.c.terminate();
    await vi.waitFor(() => expect(srv2.session(q.id)?.state).toBe('detached'));
    await srv2.publish('feed', { payload: enc('m2') });
    const b2 = await h.client(srv2);
    const w2 = await b2.handshake({ sessionId: q.id, lastServerSeq: 1n, channels: ['feed'] });
    expect(w2.resume?.outcome).toBe(ResumeOutcome.RESUMED);
  });

  test('BP-3 the queue stays within its message and byte bounds whatever the producer does', async () => {
    const srv = await h.server({ queueLimitMessages: 100, queueLimitBytes: 10_000 });
    const { id } = await blocked(srv, BackpressurePolicy.DROP_OLDEST);
    let maxLen = 0;
    let maxBytes = 0;
    for (let i = 0; i < 20_000; i++) {
      await srv.publish('feed', { payload: new Uint8Array(i % 300) });
      const s = srv.session(id)?.stats();
      maxLen = Math.max(maxLen, s?.queueLength ?? 0);
      maxBytes = Math.max(maxBytes, s?.queueBytes ?? 0);
    }
    expect(maxLen).toBeLessThanOrEqual(100);
    expect(maxBytes).toBeLessThanOrEqual(10_000);
  });

  test('BP-4 SD-7 nothing sequenced, snapshots included, is written past the socket\'s high-water mark; writes resume when it drains', async () => {
    const big = new Uint8Array(64 * 1024);
    const n = 200; // 12.8 MiB: more than the loopback TCP buffers hold
    const srv = await h.server({
      bufferedAmountHighWaterBytes: 256 * 1024,
      replayWindowMessages: 1024,
      replayWindowBytes: 64 * 1024 * 1024,
      queueLimitMessages: 1024,
      queueLimitBytes: 64 * 1024 * 1024,
      heartbeatIntervalMs: 60_000,
      snapshot: (ch) => (ch === 'doc' ? { version: 1n, state: enc('doc') } : undefined),
    });
    const c = await h.session(srv, { receiveWindow: 1000, channels: ['bulk', 'doc'] });
    await c.waitForBody('snapshot');
    const id = c.bodies('welcome')[0]?.sessionId as string;
    c.pause();
    for (let i = 0; i < n; i++) await srv.publish('bulk', { payload: big });
    // Writes leave at the end of the tick (write batching, issue 16): the pump goes on when the
    // first burst drains into the kernel, until the socket stays full. Read the state once it has.
    let seen = -1n;
    for (let now = srv.session(id)?.stats().lastSentSeq ?? 0n; now !== seen; now = srv.session(id)?.stats().lastSentSeq ?? 0n) {
      seen = now;
      await new Promise((r) => setTimeout(r, 200));
    }
    const s = srv.session(id)?.stats();
    expect(s?.queueLength).toBeGreaterThan(0); // held back…
    expect(s?.inFlight).toBeLessThan(1000); // …not by the window…
    expect(Number(s?.lastSentSeq)).toBeLessThan(n);
    c.drift({ channel: 'doc' }); // SD-7: the resync snapshot waits too
    await vi.waitFor(() => expect(srv.session(id)?.stats().pendingSnapshots).toBe(1));
    expect(srv.session(id)?.stats().lastSentSeq).toBe(s?.lastSentSeq);
    c.resume();
    await c.waitForCount('message', n, 20_000); // …and written once the socket drained
    await c.waitForCount('snapshot', 2);
  });

  test('BP-14 a client over the per-session message rate is closed 4203', async () => {
    const srv = await h.server({ messageRatePerSecond: 1, messageBurst: 3 });
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    for (let i = 0; i < 4; i++) c.message({ payload: enc(`${i}`) });
    expect((await c.waitForClose()).code).toBe(codeOf('RATE_LIMITED'));
    bystander.message({ payload: enc('ok') });
    await bystander.waitForBody('ack');
  });

  test('BP-12 control bodies pass a full window and a blocked queue: Ack and HeartbeatAck still flow', async () => {
    const srv = await h.server({ ackDelayMs: 1 });
    const { c } = await blocked(srv, BackpressurePolicy.DROP_OLDEST);
    for (let i = 0; i < 20; i++) await srv.publish('feed', { payload: enc(`q${i}`) });
    c.message({ payload: enc('up') });
    await c.waitForBody('ack', 5000, (a) => a.seq === 1n);
    const hb = c.heartbeat();
    await c.waitForBody('heartbeatAck', 5000, (a) => a.id === hb);
    expect(c.bodies('message')).toHaveLength(1);
    await vi.waitFor(() => expect(srv.sessions()[0]?.stats().queueLength).toBeGreaterThan(0));
  });
});
