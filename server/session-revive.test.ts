/**
 * A session outlives its node (issue 12): written to a SessionRecord, through the byte codec, and
 * revived on another server, it resumes RESUMED with the same seqs both ways and the same replay.
 */
import { create } from '@bufbuild/protobuf';
import { pino } from 'pino';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import { HelloSchema, ResumeOutcome, ResumeReason, type Envelope } from '../gen/lifeline/v1/envelope_pb.js';
import { decode } from '../spec/protocol/codec.js';
import { Connection, type PeerEvents } from './connection.js';
import type { PeerTransport } from './transport.js';
import { clockAt } from '../test/support/clock.js';
import { advanceClock } from '../spec/machines/simulated-time.js';
import type { LiveSession } from './session.js';
import { decodeRecord, encodeRecord } from './stores/record-codec.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A socket that records what is written to it. */
function recordingConn(): { conn: Connection; frames: Envelope[] } {
  const frames: Envelope[] = [];
  const transport: PeerTransport = {
    kind: 'ws',
    isOpen: true,
    bufferedAmount: 0,
    write(b: Uint8Array) {
      const r = decode(b, { from: 'server' });
      if (r.ok) frames.push(r.envelope);
    },
    close() {},
    terminate() {},
  };
  const events: PeerEvents = { frame() {}, pong() {}, closed() {}, protocolError() {} };
  return { conn: new Connection(transport, { events, clock: clockAt(() => performance.now()), logger: pino({ level: 'silent' }) }, 'anon'), frames };
}

describe('SessionRecord revival', () => {
  test('RS-2 SEQ-7 SEQ-9 a detached session written to a record and revived elsewhere resumes RESUMED with the same seqs and replay', async () => {
    const a = await h.server({ dedupeMessageIds: false });
    const c = await h.session(a, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    c.message({ payload: enc('up1') });
    c.message({ payload: enc('up2') });
    for (let i = 1; i <= 5; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 5);
    c.ack(2n);
    await vi.waitFor(() => expect(a.session(id)?.stats()).toMatchObject({ lastAckedSeq: 2n, lastClientSeq: 2n }));
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));
    const live = a.registry.live.get(id) as LiveSession;
    const text = encodeRecord(a.registry.lifecycle.recordOf(live, Date.now() + 150));
    const record = decodeRecord(text);
    expect(record.outbound).toMatchObject({ next: 6n, acked: 2n });
    expect(record.outbound.replay.map((f) => f.seq)).toEqual([3n, 4n, 5n]);
    expect(record.inbound.lastProcessed).toBe(2n);
    expect(record.subscriptions).toEqual([{ channel: 'feed' }]);
    expect(record.machine?.value).toBe('detached');

    // Another server (another node) takes it: the same store contents, its own registry.
    const b = await h.server();
    const fence = (await b.store.create(record, 'node-b')) + 0;
    const { conn, frames } = recordingConn();
    const revived = b.registry.lifecycle.revive(record, fence, conn);
    expect(b.session(id)?.id).toBe(id);
    expect(b.session(id)?.state).toBe('detached'); // its machine runs from the record's snapshot
    revived.pendingAttach = { conn, hello: create(HelloSchema, { protocolVersion: 1, sessionId: id, lastServerSeq: 3n, channels: ['feed'] }) };
    revived.actor.send({ type: 'socket.attached', socketId: conn.id }); // RS-2: as a handed-over socket
    expect(b.session(id)?.state).toBe('active');
    const welcome = frames[0]?.body.case === 'welcome' ? frames[0].body.value : undefined;
    expect(welcome?.sessionId).toBe(id);
    expect(welcome?.resume).toMatchObject({ outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED });
    expect(welcome?.lastClientSeq).toBe(2n); // SEQ-9: the client's stream continues
    expect(welcome?.resume).toMatchObject({ fromSeq: 4n, replayed: 2 });
    const replay = frames.slice(1).flatMap((f) => (f.body.case === 'message' ? [[f.body.value.seq, dec(f.body.value.payload)] as const] : []));
    expect(replay).toEqual([[4n, 'm4'], [5n, 'm5']]);
    // The stream goes on at the next seq, and publications reach the revived session on its new node.
    expect(await b.publish('feed', { payload: enc('m6') })).toBe(1);
    const last = frames.at(-1);
    expect(last?.body.case === 'message' ? [last.body.value.seq, dec(last.body.value.payload)] : undefined).toEqual([6n, 'm6']);
    revived.dispose();
  });

  test('RS-1 RS-3 RS-6 a revived detached session runs its delays from the record\'s times: replay released, then expired at its TTL; a late Hello hears NEW/EXPIRED', async () => {
    const a = await h.server({ resumeTtlMs: 1000, replayWindowMs: 700 });
    const c = await h.session(a, { channels: ['feed'] });
    const id = c.bodies('welcome')[0]?.sessionId as string;
    for (let i = 1; i <= 2; i++) await a.publish('feed', { payload: enc(`m${i}`) });
    await c.waitForCount('message', 2);
    c.destroy();
    await vi.waitFor(() => expect(a.session(id)?.state).toBe('detached'));

    // The other node runs on a simulated clock; the record says the session was detached 600 ms ago.
    const clock = new SimulatedClock();
    clock.set(1_000_000);
    const b = await h.server({ clock });
    const ended: { expired: boolean }[] = [];
    b.on('sessionEnded', (_s, info) => ended.push(info));
    const record = decodeRecord(encodeRecord(a.registry.lifecycle.recordOf(a.registry.live.get(id) as LiveSession, clock.now() + 400)));
    const fence = await b.store.create(record, 'node-b');
    const revived = b.registry.lifecycle.revive(record, fence, recordingConn().conn);
    expect(revived.log.pending()).toHaveLength(2);

    advanceClock(clock, 99);
    expect(revived.log.pending()).toHaveLength(2);
    advanceClock(clock, 1); // RS-3: 700 ms after the detach the replay is released
    expect(revived.log.pending()).toHaveLength(0);
    expect(b.session(id)?.state).toBe('detached'); // RS-1: the session itself lives on

    advanceClock(clock, 299);
    expect(b.session(id)?.state).toBe('detached');
    advanceClock(clock, 1); // RS-1: at the record's expiresAtMs
    expect(b.session(id)).toBeUndefined();
    expect(ended).toEqual([{ expired: true, evicted: false }]);
    await vi.waitFor(async () => expect(await b.store.endedReason(id)).toBe('expired'));

    const late = await h.client(b);
    const w = await late.handshake({ sessionId: id, lastServerSeq: 2n });
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.EXPIRED }); // RS-6
    expect(w.sessionId).not.toBe(id);
  });
});
