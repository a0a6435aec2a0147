import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import type { RawClient } from '../testkit/raw-client.js';
import { RecentMessageIds } from './message-ids.js';
import type { MemorySessionStore } from './stores/memory-session-store.js';
import type { LifelineServerOptions } from './options.js';
import type { LifelineServer } from './server.js';
import { Harness } from '../test/support/server.js';
import { clockAt } from '../test/support/clock.js';

const h = new Harness();
afterEach(() => h.cleanup());

const text = (s: string) => new TextEncoder().encode(s);
const decoded = (b: Uint8Array) => new TextDecoder().decode(b);

/** A server whose application records every message it receives, by payload. */
async function recordingServer(opts: LifelineServerOptions): Promise<{ srv: LifelineServer; got: string[] }> {
  const got: string[] = [];
  const srv = await h.server({ resumeTtlMs: 150, ...opts, onMessage: (m) => void got.push(decoded(m.payload)) });
  return { srv, got };
}

/** Session A sends m-1 and dies before it hears an ack; its session expires; B resends m-1 (renumbered) and m-2 in a NEW session. */
async function resendInNewSession(srv: LifelineServer, got: string[], header: Record<string, string> = {}): Promise<RawClient> {
  const a = await h.session(srv, {}, { headers: header });
  const id = a.bodies('welcome')[0]?.sessionId as string;
  a.message({ messageId: 'm-1', payload: text('one') });
  await vi.waitFor(() => expect(got).toContain('one'), { timeout: 5000 });
  a.destroy();
  await vi.waitFor(() => expect(srv.session(id)).toBeUndefined(), { timeout: 5000 });
  const b = await h.client(srv, { headers: header });
  const w = await b.handshake({ sessionId: id, lastServerSeq: 0n });
  expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.EXPIRED });
  expect(w.lastClientSeq).toBe(0n); // SEQ-9: the client renumbers from 1
  b.message({ seq: 1n, messageId: 'm-1', payload: text('one') });
  b.message({ seq: 2n, messageId: 'm-2', payload: text('two') });
  await b.waitForBody('ack', 5000, (ack) => ack.seq === 2n); // both processed and acknowledged
  return b;
}

describe('deduplication by message_id (SEQ-8)', () => {
  test('SEQ-8 SEQ-9 a message resent in a NEW session after its session expired reaches the application once', async () => {
    const { srv, got } = await recordingServer({ dedupeMessageIds: true });
    await resendInNewSession(srv, got);
    expect(got).toEqual(['one', 'two']);
  });

  test('SEQ-8 dedupe is on by default (issue 13): a resent message reaches the application once with default options', async () => {
    const { srv, got } = await recordingServer({});
    await resendInNewSession(srv, got);
    expect(got).toEqual(['one', 'two']);
  });

  test('SEQ-8 the default memory is bounded: 10 000 ids, kept resume TTL + reconnect cap', async () => {
    const { srv } = await recordingServer({});
    expect(srv.registry.env.dedupe).toBe(srv.store);
    expect((srv.store as MemorySessionStore).messageIds.bounds).toEqual({ maxIds: 10_000, windowMs: 150 + 30_000 });
  });

  test('SEQ-8 dedupeMessageIds: false turns it off: the resent message is delivered again (at-least-once)', async () => {
    const { srv, got } = await recordingServer({ dedupeMessageIds: false });
    await resendInNewSession(srv, got);
    expect(got).toEqual(['one', 'one', 'two']);
  });

  test('SEQ-8 ids are per principal: another principal may use the same message_id', async () => {
    const { srv, got } = await recordingServer({ dedupeMessageIds: true, authenticate: (req) => String(req.headers['x-user'] ?? 'anon') });
    const alice = await h.session(srv, {}, { headers: { 'x-user': 'alice' } });
    const bob = await h.session(srv, {}, { headers: { 'x-user': 'bob' } });
    alice.message({ messageId: 'same', payload: text('from alice') });
    bob.message({ messageId: 'same', payload: text('from bob') });
    await vi.waitFor(() => expect(got.sort()).toEqual(['from alice', 'from bob']), { timeout: 5000 });
  });

  test('SEQ-8 SEQ-10 a message the handler failed on is not remembered: its resend is processed', async () => {
    const got: string[] = [];
    let isFailing = true;
    const srv = await h.server({
      dedupeMessageIds: true,
      onMessage: (m) => {
        if (isFailing) throw new Error('not now');
        got.push(decoded(m.payload));
      },
    });
    const a = await h.session(srv);
    a.message({ messageId: 'm-1', payload: text('one') });
    await a.waitForClose(); // CC-5: 1011, the session is kept
    isFailing = false;
    const b = await h.client(srv);
    await b.handshake({ sessionId: a.bodies('welcome')[0]?.sessionId as string, lastServerSeq: 0n });
    b.message({ seq: 1n, messageId: 'm-1', payload: text('one') });
    await b.waitForBody('ack', 5000, (ack) => ack.seq === 1n);
    expect(got).toEqual(['one']);
  });

  test('SEQ-8 the memory is bounded in count and in time', () => {
    let now = 0;
    const ids = new RecentMessageIds(3, 1000, clockAt(() => now));
    for (const id of ['a', 'b', 'c', 'd']) ids.add('p', id);
    expect(ids.size).toBe(3);
    expect(ids.has('p', 'a')).toBe(false); // the oldest went first
    expect(ids.has('p', 'd')).toBe(true);
    expect(ids.has('q', 'd')).toBe(false);
    expect(ids.has('p', '')).toBe(false);
    now = 999;
    expect(ids.has('p', 'b')).toBe(true);
    now = 1000;
    expect(ids.has('p', 'b')).toBe(false); // remembered for windowMs only
    ids.add('p', 'e');
    expect(ids.size).toBe(1);
  });
});

describe('closing the server (SEQ-5)', () => {
  test('SEQ-5 close() sends the Ack still waiting for its delay before the sockets close, so a restart never sees the message again', async () => {
    // A long ack delay: without the flush, the Ack would still be waiting when close() runs.
    const { srv, got } = await recordingServer({ ackDelayMs: 60_000 });
    const a = await h.session(srv);
    a.message({ messageId: 'm-1', payload: text('one') });
    await vi.waitFor(() => expect(got).toContain('one'), { timeout: 5000 });
    expect(a.bodies('ack')).toHaveLength(0); // processed, its Ack waiting for the delay
    await srv.close();
    await a.waitForClose(5000);
    expect(a.bodies('ack').map((x) => x.seq)).toEqual([1n]);
  });
});
