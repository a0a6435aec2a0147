import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome, ResumeReason, SnapshotReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import type { RawClient } from '../testkit/raw-client.js';
import type { LifelineServerOptions } from './options.js';
import type { ChannelState, ClientMessage } from './types.js';
import type { LifelineServer } from './server.js';
import type { LiveSession } from './session.js';
import type { MemorySessionStore } from './stores/memory-session-store.js';
import { sessionBehind } from './session-handle.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A state channel 'doc' whose state is its version as text; 'feed' has no state. */
function docApp(): { opts: LifelineServerOptions; bump: (srv: LifelineServer) => void } {
  let version = 1n;
  return {
    opts: { snapshot: (ch): ChannelState | undefined => (ch === 'doc' ? { version, state: enc(`v${version}`) } : undefined) },
    bump: (srv) => {
      void srv.publishPatch('doc', { baseVersion: version, version: version + 1n, delta: enc(`+${version + 1n}`) });
      version += 1n;
    },
  };
}

/** Wait until the server sees the session without a socket. */
async function detached(srv: LifelineServer, id: string): Promise<void> {
  await vi.waitFor(() => expect(srv.session(id)?.state).toBe('detached'), { timeout: 5000 });
}

/** Frames after the Welcome, as [case, seq]. */
function afterWelcome(c: RawClient): [string, bigint][] {
  const i = c.frames.findIndex((f) => f.body.case === 'welcome');
  return c.frames.slice(i + 1).flatMap((f) =>
    f.body.case === 'message' || f.body.case === 'statePatch' || f.body.case === 'snapshot' ? [[f.body.case, f.body.value.seq] as [string, bigint]] : [],
  );
}

describe('resume', () => {
  test('RS-2 RS-5 SEQ-2 SEQ-7 resume by replay: exactly the missed seqs, originals first, then what queued while detached', async () => {
    const srv = await h.server();
    const a = await h.session(srv, { channels: ['feed'] });
    const id = (a.bodies('welcome')[0]?.sessionId) as string;
    for (let i = 1; i <= 5; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await a.waitForCount('message', 5);
    a.ack(2n);
    await vi.waitFor(() => expect(srv.session(id)?.stats().lastAckedSeq).toBe(2n));
    a.destroy();
    await detached(srv, id);
    await srv.publish('feed', { payload: enc('m6') });
    await srv.publish('feed', { payload: enc('m7') });
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 3n, channels: ['feed'] });
    expect(w.sessionId).toBe(id);
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, fromSeq: 4n, replayed: 2 });
    await b.waitForCount('message', 4);
    expect(afterWelcome(b)).toEqual([['message', 4n], ['message', 5n], ['message', 6n], ['message', 7n]]);
    expect(b.bodies('message').map((m) => dec(m.payload))).toEqual(['m4', 'm5', 'm6', 'm7']);
  });

  test('RS-2 a resume with nothing missed is RESUMED with replayed 0 and from_seq the next seq', async () => {
    const srv = await h.server();
    const a = await h.session(srv, { channels: ['feed'] });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    await srv.publish('feed', { payload: enc('x') });
    await a.waitForCount('message', 1);
    a.close(codeOf('GOING_AWAY'));
    await detached(srv, id);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['feed'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, fromSeq: 2n, replayed: 0 });
  });

  test('RS-3 RS-4 RS-5 a resume needing a released message answers SNAPSHOT and sends snapshots before anything else', async () => {
    const app = docApp();
    const srv = await h.server(app.opts);
    const a = await h.session(srv, { channels: ['doc', 'feed'] });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    await a.waitForBody('snapshot');
    app.bump(srv);
    await srv.publish('feed', { payload: enc('f1') });
    await a.waitForCount('message', 1);
    a.ack(a.lastSeq()); // seq 3 acked: released (SEQ-7)
    await vi.waitFor(() => expect(srv.session(id)?.stats().lastAckedSeq).toBe(3n));
    a.destroy();
    await detached(srv, id);
    await srv.publish('feed', { payload: enc('f2') });
    app.bump(srv);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 1n, channels: ['doc', 'feed'] }); // needs 2 and 3: gone
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.REPLAY_WINDOW_EXCEEDED, fromSeq: 4n, replayed: 0 });
    await b.waitForCount('message', 1);
    expect(afterWelcome(b)).toEqual([['snapshot', 4n], ['message', 5n]]); // the queued patch is inside the snapshot
    const snap = b.bodies('snapshot')[0];
    expect(snap).toMatchObject({ channel: 'doc', version: 3n, reason: SnapshotReason.RESUME });
    expect(dec(snap?.state ?? new Uint8Array())).toBe('v3');
  });

  test('RS-8 a Hello whose last_server_seq is ahead of anything sent answers SNAPSHOT with CLIENT_AHEAD', async () => {
    const app = docApp();
    const srv = await h.server(app.opts);
    const a = await h.session(srv, { channels: ['doc'] });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    a.destroy();
    await detached(srv, id);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 100n, channels: ['doc'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.CLIENT_AHEAD, fromSeq: 2n });
    const s = await b.waitForBody('snapshot');
    expect(s.seq).toBe(2n);
  });

  test('RS-6 an unknown session id starts a NEW session (UNKNOWN_SESSION) with a Snapshot of each channel', async () => {
    const app = docApp();
    const srv = await h.server(app.opts);
    const c = await h.client(srv);
    const w = await c.handshake({ sessionId: 'no-such-session', lastServerSeq: 7n, channels: ['doc', 'feed'] });
    expect(w.sessionId).not.toBe('no-such-session');
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.UNKNOWN_SESSION, fromSeq: 1n, replayed: 0 });
    const s = await c.waitForBody('snapshot');
    expect(s).toMatchObject({ seq: 1n, channel: 'doc', reason: SnapshotReason.SUBSCRIBED });
  });

  test('RS-3 RS-4 RS-5 a detached session keeps its replay for replayWindowMs only: a later resume that needs it is a SNAPSHOT', async () => {
    /** Session with a snapshot (seq 1) and three messages (2–4), none acked, then its socket dies. */
    const detachedWithUnacked = async (srv: LifelineServer): Promise<string> => {
      const a = await h.session(srv, { channels: ['doc', 'feed'] });
      await a.waitForBody('snapshot');
      for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
      await a.waitForCount('message', 3);
      const id = a.bodies('welcome')[0]?.sessionId as string;
      a.destroy();
      await detached(srv, id);
      return id;
    };
    const app = docApp();
    // Within the window (the default: the whole TTL): replay.
    const kept = await h.server({ ...app.opts, resumeTtlMs: 5000 });
    const id1 = await detachedWithUnacked(kept);
    const b1 = await h.client(kept);
    const w1 = await b1.handshake({ sessionId: id1, lastServerSeq: 1n, channels: ['doc', 'feed'] });
    expect(w1.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, fromSeq: 2n, replayed: 3 });
    // Past it: the session is there, its replay is not.
    const short = await h.server({ ...app.opts, resumeTtlMs: 5000, replayWindowMs: 100 });
    const id2 = await detachedWithUnacked(short);
    await vi.waitFor(() => expect(short.session(id2)?.stats().inFlight).toBe(0), { timeout: 5000 });
    expect(short.session(id2)?.state).toBe('detached');
    const b2 = await h.client(short);
    const w2 = await b2.handshake({ sessionId: id2, lastServerSeq: 1n, channels: ['doc', 'feed'] });
    expect(w2.sessionId).toBe(id2);
    expect(w2.resume).toMatchObject({ outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.REPLAY_WINDOW_EXCEEDED, fromSeq: 5n, replayed: 0 });
    const snap = await b2.waitForBody('snapshot');
    expect(snap).toMatchObject({ seq: 5n, channel: 'doc', reason: SnapshotReason.RESUME });
    expect(b2.bodies('message')).toHaveLength(0); // never a partial replay
  });

  test('RS-1 RS-6 a detached session is kept for resume_ttl, then expires: a late Hello gets NEW with EXPIRED', async () => {
    const srv = await h.server({ resumeTtlMs: 150 });
    const a = await h.session(srv);
    const id = a.bodies('welcome')[0]?.sessionId as string;
    a.destroy();
    await detached(srv, id);
    expect(srv.stats().sessions).toBe(1);
    await vi.waitFor(() => expect(srv.session(id)).toBeUndefined(), { timeout: 5000 });
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 0n });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.EXPIRED });
    expect(w.sessionId).not.toBe(id);
  });

  test('RS-1 CC-6 a client close with 1000 ends the session instead of keeping it', async () => {
    const srv = await h.server();
    const a = await h.session(srv);
    a.close(codeOf('NORMAL'));
    await vi.waitFor(() => expect(srv.stats().sessions).toBe(0));
  });

  test('RS-2 a session of another principal is not resumed: NEW with PRINCIPAL_MISMATCH', async () => {
    const srv = await h.server({ authenticate: (req) => (req.headers['x-user'] as string | undefined) ?? undefined });
    const a = await h.session(srv, {}, { headers: { 'x-user': 'alice' } });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    a.destroy();
    await detached(srv, id);
    const b = await h.client(srv, { headers: { 'x-user': 'mallory' } });
    const w = await b.handshake({ sessionId: id });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.PRINCIPAL_MISMATCH });
    expect(srv.session(id)?.state).toBe('detached'); // alice's session is untouched
  });

  test('RS-7 resuming a session that still has a socket closes the older one with 4002', async () => {
    const srv = await h.server();
    const a = await h.session(srv, { channels: ['feed'] });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, channels: ['feed'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect((await a.waitForClose()).code).toBe(codeOf('SESSION_TAKEN_OVER'));
    await srv.publish('feed', { payload: enc('only-b') });
    await b.waitForBody('message');
    expect(a.bodies('message')).toHaveLength(0);
    expect(srv.stats().sessions).toBe(1);
  });

  test('RS-1 RS-7 the default store gets a record at the first save only: none while attached (a takeover claims nothing), one from the detach, claimed at the resume, gone at the end', async () => {
    const srv = await h.server();
    const store = srv.store as MemorySessionStore; // issue 16: a live session is not copied into a store only this node reads
    const a = await h.session(srv, { channels: ['feed'] });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    expect(store.size).toBe(0);
    const b = await h.client(srv);
    expect((await b.handshake({ sessionId: id, channels: ['feed'] })).resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect((await a.waitForClose()).code).toBe(codeOf('SESSION_TAKEN_OVER'));
    await srv.publish('feed', { payload: enc('m1') });
    await b.waitForBody('message');
    expect(store.size).toBe(0);
    b.destroy();
    await detached(srv, id);
    await vi.waitFor(async () => expect(await store.load(id)).toMatchObject({ id, outbound: { next: 2n }, owner: { fence: 1 } }));
    expect((await store.load(id))?.expiresAtMs).toBeDefined();
    const c = await h.client(srv);
    const w = await c.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, replayed: 1 });
    await vi.waitFor(async () => expect((await store.load(id))?.owner?.fence).toBe(2));
    c.close(codeOf('NORMAL'));
    await vi.waitFor(() => expect(srv.stats().sessions).toBe(0));
    await vi.waitFor(async () => expect(await store.load(id)).toBeUndefined());
    expect(store.endedReason(id)).toBe('ended');
  });

  test('RS-9 CH-3 on resume the subscriptions become Hello.channels: kept ones without a new snapshot, added ones with one', async () => {
    const srv = await h.server({ snapshot: (ch) => (ch === 'feed' ? undefined : { version: 1n, state: enc(ch) }) });
    const a = await h.session(srv, { channels: ['a', 'b'] });
    const id = a.bodies('welcome')[0]?.sessionId as string;
    await a.waitForCount('snapshot', 2);
    a.ackAll();
    await vi.waitFor(() => expect(srv.session(id)?.stats().lastAckedSeq).toBe(2n));
    a.destroy();
    await detached(srv, id);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 2n, channels: ['b', 'c'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    const s = await b.waitForBody('snapshot');
    expect(s).toMatchObject({ channel: 'c', reason: SnapshotReason.SUBSCRIBED, seq: 3n });
    expect([...(srv.session(id)?.subscriptions ?? [])].sort()).toEqual(['b', 'c']);
    await srv.publish('a', { payload: enc('gone') });
    await srv.publish('b', { payload: enc('kept') });
    const m = await b.waitForBody('message');
    expect(dec(m.payload)).toBe('kept');
    expect(b.bodies('snapshot')).toHaveLength(1);
  });
});

describe('client sequencing', () => {
  test('SEQ-3 SEQ-9 client messages replayed after a resume take effect once; duplicates are still acked', async () => {
    const got: string[] = [];
    const srv = await h.server({ ackDelayMs: 60_000, receiveWindow: 256, onMessage: (m) => void got.push(dec(m.payload)) });
    const a = await h.session(srv);
    const id = a.bodies('welcome')[0]?.sessionId as string;
    for (const p of ['one', 'two', 'three']) a.message({ payload: enc(p) });
    await vi.waitFor(() => expect(got).toHaveLength(3));
    a.destroy(); // no ack was sent (long ack delay)
    await detached(srv, id);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id });
    expect(w.lastClientSeq).toBe(3n); // SEQ-9: the client replays only above this…
    b.message({ seq: 2n, payload: enc('two') }); // …but a client that replays anyway changes nothing (SEQ-3)
    b.message({ seq: 3n, payload: enc('three') });
    await b.waitForBody('ack', 5000, (x) => x.seq === 3n); // duplicates are acked at once
    b.message({ seq: 4n, payload: enc('four') });
    await vi.waitFor(() => expect(got).toEqual(['one', 'two', 'three', 'four']));
  });

  test('SEQ-10 a message is acked only after the application has it: an async handler holds the ack', async () => {
    let release: () => void = () => {};
    const handled: bigint[] = [];
    const srv = await h.server({
      ackDelayMs: 1,
      onMessage: (m: ClientMessage) => {
        if (m.seq === 1n) return new Promise<void>((r) => (release = () => { handled.push(m.seq); r(); }));
        handled.push(m.seq);
        return undefined;
      },
    });
    const c = await h.session(srv);
    c.message({ payload: enc('slow') });
    c.message({ payload: enc('fast') });
    await new Promise((r) => setTimeout(r, 100)); // ample time for an ack that must not come
    expect(c.bodies('ack')).toHaveLength(0);
    expect(handled).toEqual([]); // in order: the second waits for the first
    release();
    await c.waitForBody('ack', 5000, (a) => a.seq === 2n);
    expect(handled).toEqual([1n, 2n]);
  });

  test('SEQ-5 acks come within the ack delay, and at once when half the window is unacked', async () => {
    const srv = await h.server({ ackDelayMs: 60_000, receiveWindow: 4 });
    const c = await h.session(srv);
    c.message({ payload: enc('1') });
    await new Promise((r) => setTimeout(r, 50));
    expect(c.bodies('ack')).toHaveLength(0);
    c.message({ payload: enc('2') }); // 2 of 4 unacked: half the window
    await c.waitForBody('ack', 5000, (a) => a.seq === 2n);
    const srv2 = await h.server({ ackDelayMs: 20, receiveWindow: 256 });
    const d = await h.session(srv2);
    d.message({ payload: enc('x') });
    await d.waitForBody('ack', 5000, (a) => a.seq === 1n);
  });

  test('SEQ-4 a client message that skips a seq closes 1002', async () => {
    const srv = await h.server();
    const c = await h.session(srv);
    c.message({ seq: 1n, payload: enc('a') });
    c.message({ seq: 3n, payload: enc('c') });
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
  });

  test('SEQ-6 an Ack beyond the last sent seq closes 1002; a stale Ack is ignored', async () => {
    const srv = await h.server();
    const a = await h.session(srv, { channels: ['feed'] });
    await srv.publish('feed', { payload: enc('1') });
    await srv.publish('feed', { payload: enc('2') });
    await a.waitForCount('message', 2);
    a.ack(2n);
    a.ack(1n); // stale: ignored
    const id = a.heartbeat();
    await a.waitForBody('heartbeatAck', 5000, (x) => x.id === id);
    expect(a.isOpen).toBe(true);
    a.ack(3n);
    expect((await a.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
  });
});

describe('hot inbound path (issue 7)', () => {
  test('SEQ-10 SEQ-3 SEQ-7 SEQ-4 next, duplicate and in-range ack bypass the session machine; a gap still reaches it and closes 1002', async () => {
    const events: string[] = [];
    const got: string[] = [];
    const srv = await h.server({
      onMessage: (m: ClientMessage) => void got.push(new TextDecoder().decode(m.payload)),
      inspect: (ev) => {
        if (ev.type === '@xstate.event') events.push(ev.event.type);
      },
    });
    const c = await h.session(srv, { channels: ['feed'] });
    c.message({ seq: 1n, payload: enc('a') });
    c.message({ seq: 1n, payload: enc('a') }); // duplicate: acked, not delivered again (SEQ-3)
    c.message({ seq: 2n, payload: enc('b') });
    await srv.publish('feed', { payload: enc('1') });
    await c.waitForCount('message', 1);
    c.ack(1n);
    await vi.waitFor(() => expect(got).toEqual(['a', 'b']), { timeout: 5000 });
    await vi.waitFor(() => expect(c.bodies('ack').some((a) => a.seq === 2n)).toBe(true), { timeout: 5000 });
    expect(events.filter((t) => t === 'frame.message' || t === 'frame.ack')).toEqual([]);
    c.message({ seq: 4n, payload: enc('d') }); // a gap: the machine's SEQ-4
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    expect(events).toContain('frame.message');
    expect(got).toEqual(['a', 'b']);
  });
});

describe('replay buffer memory', () => {
  test('RS-1 SEQ-7 a detached session keeps its unacked frames in buffers of their own, not views pinning shared slabs; the replay is byte-identical', async () => {
    const srv = await h.server();
    const c = await h.session(srv, { channels: ['feed'], receiveWindow: 100 });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    for (let i = 0; i < 20; i++) await srv.publish('feed', { payload: new Uint8Array(100).fill(i) });
    await c.waitForCount('message', 20);
    const session = sessionBehind(srv.sessions()[0]!) as LiveSession;
    const held = () => session.log.pending().map((s) => s.item);
    // Attached, the frames are views into shared slabs (fast-codec), which is what makes them cheap.
    expect(held().some((b) => b.buffer.byteLength > b.byteLength)).toBe(true);
    const sent = held().map((b) => [...b]);
    c.terminate();
    await vi.waitFor(() => expect(srv.session(id)?.state).toBe('detached'));
    expect(held().every((b) => b.buffer.byteLength === b.byteLength)).toBe(true);
    expect(held().map((b) => [...b])).toEqual(sent);
    const b = await h.client(srv);
    const w = await b.handshake({ sessionId: id, lastServerSeq: 0n, channels: ['feed'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    await b.waitForCount('message', 20);
    expect(b.bodies('message').map((m) => m.payload[0])).toEqual([...Array(20).keys()]);
  });
});
