import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome } from '../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../../spec/protocol/close-codes.js';
import type { ClientMessage } from '../types.js';
import type { LifelineServer } from '../server.js';
import { Harness } from '../../test/support/server.js';
import { carrierRequest, openCarrier, type CarrierClient } from '../../test/support/http-carrier-client.js';
import { RecordDecoder, RecordKind, PROTOCOL_TOKEN } from '../../spec/protocol/http-carrier.js';

const h = new Harness();
const carriers: CarrierClient[] = [];
afterEach(async () => {
  for (const c of carriers.splice(0)) c.destroy();
  await h.cleanup();
});

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** The http:// URL of the Lifeline endpoint (same path as the WebSocket, HT-1). */
function carrierUrl(srv: LifelineServer): string {
  return srv.url().replace(/^ws/, 'http');
}

async function open(srv: LifelineServer, headers: Record<string, string> = {}): Promise<CarrierClient> {
  const { answer, client } = await openCarrier(carrierUrl(srv), headers);
  expect(answer.status).toBe(200);
  if (!client) throw new Error('open refused');
  carriers.push(client);
  return client;
}

async function detached(srv: LifelineServer, id: string): Promise<void> {
  await vi.waitFor(() => expect(srv.session(id)?.state).toBe('detached'), { timeout: 5000 });
}

describe('HTTP carrier: open, send, receive, close', () => {
  test('HT-3 HT-4 open answers 200 with a 22-character connection capability, no-store, empty body', async () => {
    const srv = await h.server();
    const { answer, client } = await openCarrier(carrierUrl(srv));
    if (client) carriers.push(client);
    expect(answer.status).toBe(200);
    expect(answer.headers['lifeline-connection']).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.body.byteLength).toBe(0);
    expect(srv.stats().connections).toBe(1);
  });

  test('HT-1 HT-7 HT-8 Hello → Welcome over HTTP; a stream receive starts with KEEPALIVE and carries no-store, X-Accel-Buffering: no', async () => {
    const srv = await h.server();
    const c = await open(srv);
    const w = await c.handshake();
    expect(w.sessionId).not.toBe('');
    expect(c.frames[0]?.body.case).toBe('welcome');
    expect(c.keepalives).toBeGreaterThanOrEqual(1);
    expect(srv.stats().sessions).toBe(1);
    expect(srv.session(w.sessionId)?.state).toBe('active');
  });

  test('HT-6 client Messages reach onMessage in order, once; server messages arrive with seqs', async () => {
    const got: string[] = [];
    const srv = await h.server({ onMessage: (m: ClientMessage) => void got.push(dec(m.payload)) });
    const c = await open(srv);
    const w = await c.handshake();
    for (const p of ['a', 'b', 'c']) expect((await c.message({ payload: enc(p) })).status).toBe(204);
    await vi.waitFor(() => expect(got).toEqual(['a', 'b', 'c']));
    await c.waitForBody('ack', 5000, (a) => a.seq === 3n); // SEQ-5 over HTTP
    srv.session(w.sessionId)?.send({ payload: enc('hi') });
    const m = await c.waitForBody('message');
    expect(dec(m.payload)).toBe('hi');
    expect(m.seq).toBe(1n);
  });

  test('HT-6 a retried send (same Lifeline-Seq) is applied once', async () => {
    const got: string[] = [];
    const srv = await h.server({ onMessage: (m: ClientMessage) => void got.push(dec(m.payload)) });
    const c = await open(srv);
    await c.handshake();
    const { create } = await import('@bufbuild/protobuf');
    const { EnvelopeSchema, MessageSchema } = await import('../../gen/lifeline/v1/envelope_pb.js');
    const env = (seq: bigint, p: string) => create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq, payload: enc(p) }) } });
    const first = c.sent;
    expect((await c.sendEnvelopes([env(1n, 'x'), env(2n, 'y')], { seq: first })).status).toBe(204);
    // the answer was "lost": the client retries the same body, then one more frame on top
    expect((await c.sendEnvelopes([env(1n, 'x'), env(2n, 'y'), env(3n, 'z')], { seq: first })).status).toBe(204);
    await vi.waitFor(() => expect(got).toEqual(['x', 'y', 'z']));
    expect(c.sent).toBe(first + 3);
  });

  test('HT-7 a receive cut mid-way is re-requested with the Ack and replays from there: nothing lost, nothing twice', async () => {
    const srv = await h.server();
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    const s = srv.session(w.sessionId);
    for (let i = 1; i <= 5; i++) s?.send({ payload: enc(`m${i}`) });
    await new Promise((r) => setTimeout(r, 20));
    // receive the first bytes of the stream, then cut it inside the third frame
    const before = c.received;
    await c.receiveOnce({ mode: 'stream', cutAfterBytes: 5 /* KEEPALIVE */ + 2 * (5 + 20) + 7 });
    const got1 = c.received - before;
    expect(got1).toBeLessThan(5);
    await c.receiveOnce({ mode: 'poll' }); // Ack = what arrived whole
    expect(c.bodies('message').map((m) => dec(m.payload))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(c.seqs()).toEqual([1n, 2n, 3n, 4n, 5n]);
  });

  test('HT-10 the client closes with a CLOSE record: the session ends (1000) and the connection is gone (404)', async () => {
    const srv = await h.server();
    const c = await open(srv);
    const w = await c.handshake();
    expect((await c.close(1000, 'bye')).status).toBe(204);
    await vi.waitFor(() => expect(srv.session(w.sessionId)).toBeUndefined());
    await vi.waitFor(() => expect(srv.stats().connections).toBe(0));
    expect((await c.heartbeat()).status).toBe(404);
  });

  test('HT-10 CC-1 the server closes with a CLOSE record carrying the code and reason, then 404', async () => {
    const srv = await h.server();
    const c = await open(srv);
    const w = await c.handshake();
    srv.session(w.sessionId)?.end();
    expect(await c.waitForClose()).toMatchObject({ code: 1000 });
    await vi.waitFor(() => expect(srv.stats().connections).toBe(0));
    expect((await c.heartbeat()).status).toBe(404);
  });

  test('HT-10 CC-10 a server close with no receive open waits for the next receive, then carries the CLOSE record', async () => {
    const srv = await h.server();
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    expect(w.sessionId).not.toBe('');
    srv.revoke('anonymous');
    await new Promise((r) => setTimeout(r, 20));
    await c.receiveOnce({ mode: 'poll' });
    expect(c.closeRecord?.code).toBe(codeOf('REVOKED'));
  });

  test('RS-2 HT-18 a session moves from WebSocket to HTTP and back: RESUMED, the same seqs, nothing lost or twice', async () => {
    const srv = await h.server({ httpReceiveGapMs: 300 });
    const ws = await h.session(srv, { channels: ['feed'] });
    const id = ws.bodies('welcome')[0]?.sessionId as string;
    for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: enc(`m${i}`) });
    await ws.waitForCount('message', 3);
    ws.ack(2n);
    await vi.waitFor(() => expect(srv.session(id)?.stats().lastAckedSeq).toBe(2n));
    ws.destroy();
    await detached(srv, id);
    await srv.publish('feed', { payload: enc('m4') });
    // over HTTP
    const c = await open(srv);
    const w = await c.handshake({ sessionId: id, lastServerSeq: 3n, channels: ['feed'] });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    await c.waitForBody('message', 5000, (m) => m.seq === 4n);
    await srv.publish('feed', { payload: enc('m5') });
    await c.waitForBody('message', 5000, (m) => m.seq === 5n);
    expect(c.bodies('message').map((m) => [m.seq, dec(m.payload)])).toEqual([
      [4n, 'm4'],
      [5n, 'm5'],
    ]);
    await c.ack(5n);
    await vi.waitFor(() => expect(srv.session(id)?.stats().lastAckedSeq).toBe(5n));
    c.destroy(); // the HTTP transport dies without a close
    await detached(srv, id);
    await srv.publish('feed', { payload: enc('m6') });
    // and back over WebSocket
    const back = await h.client(srv);
    const w2 = await back.handshake({ sessionId: id, lastServerSeq: 5n, channels: ['feed'] });
    expect(w2.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    await back.waitForBody('message', 5000, (m) => m.seq === 6n);
    expect(back.bodies('message').map((m) => [m.seq, dec(m.payload)])).toEqual([[6n, 'm6']]);
  });

  test('RS-7 HT-18 a Hello over HTTP takes over a session attached over WebSocket (4002), and the reverse', async () => {
    const srv = await h.server();
    const ws = await h.session(srv);
    const id = ws.bodies('welcome')[0]?.sessionId as string;
    const c = await open(srv);
    const w = await c.handshake({ sessionId: id });
    expect(w.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect((await ws.waitForClose()).code).toBe(codeOf('SESSION_TAKEN_OVER'));
    const again = await h.client(srv);
    const w2 = await again.handshake({ sessionId: id });
    expect(w2.resume?.outcome).toBe(ResumeOutcome.RESUMED);
    expect((await c.waitForClose()).code).toBe(codeOf('SESSION_TAKEN_OVER'));
  });
});

describe('HTTP carrier: liveness, backpressure, drain (HT-16, HT-17, HT-19, HT-11)', () => {
  test('HT-17 HB-7 no protocol ping over HTTP: Heartbeats keep a session past (M+1) intervals; silence closes it 4200', async () => {
    const I = 100;
    const srv = await h.server({ heartbeatIntervalMs: I, heartbeatMissedMax: 2 });
    const c = await open(srv);
    const w = await c.handshake();
    const beat = setInterval(() => void c.heartbeat().catch(() => {}), I / 2);
    await new Promise((r) => setTimeout(r, 6 * I));
    clearInterval(beat);
    expect(c.closeRecord).toBeUndefined();
    expect(srv.session(w.sessionId)?.state).toBe('active');
    const t0 = performance.now();
    expect((await c.waitForClose(5000)).code).toBe(codeOf('HEARTBEAT_TIMEOUT'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * I);
  });

  test('HT-16 BP-4 a client that receives but never acknowledges pauses its session at the high-water mark; its Ack resumes it', async () => {
    const HW = 4096;
    const srv = await h.server({ bufferedAmountHighWaterBytes: HW, httpStreamMaxBytes: 64 * 1024, httpPollHoldMs: 100 });
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    const s = srv.session(w.sessionId);
    for (let i = 0; i < 60; i++) s?.send({ payload: new Uint8Array(400) });
    // receive again and again with the same Ack: the same frames come back, no new ones
    const frameCount = async (ack: number): Promise<number> => {
      const a = await carrierRequest(c.url, c.headers('receive', { 'Lifeline-Ack': String(ack), 'Lifeline-Receive': 'poll' }), undefined, c.agent);
      return new RecordDecoder(1 << 20).push(a.body).filter((r) => r.kind === RecordKind.FRAME).length;
    };
    const ack = c.received;
    const first = await frameCount(ack);
    for (let i = 0; i < 3; i++) expect(await frameCount(ack)).toBe(first);
    expect(first).toBeGreaterThan(0);
    expect(first * 400).toBeLessThanOrEqual(HW + 2 * 400 + 200);
    expect(s?.stats().queueLength).toBeGreaterThan(0);
    // acknowledging them lets the rest flow
    let acked = ack;
    for (let n = 0; n < 40 && acked < ack + 60; n++) acked += await frameCount(acked);
    expect(acked).toBe(ack + 60);
  });

  test('HT-19 DR-1 DR-2 a drain sends DrainNotice over HTTP, then the CLOSE record 1012; opens are refused 503', async () => {
    const srv = await h.server();
    const c = await open(srv);
    await c.handshake();
    const drained = srv.drain({ deadlineMs: 3000, spreadMs: 50 });
    await c.waitForBody('drainNotice');
    const refused = await carrierRequest(carrierUrl(srv), { 'Lifeline-Http': 'open', 'Lifeline-Protocol': PROTOCOL_TOKEN });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await c.waitForClose()).code).toBe(codeOf('SERVICE_RESTART'));
    await drained;
    expect(srv.stats().connections).toBe(0);
  });

  test('HT-11 HT-19 DR-5 a connection that never receives its close is terminated at the drain deadline and forgotten (404)', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 5000, httpReceiveGapMs: 60_000 });
    const c = await open(srv);
    await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    await srv.drain({ deadlineMs: 300, spreadMs: 100 });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(srv.stats().connections).toBe(0);
    expect(await c.receiveOnce({ mode: 'poll' })).toBe(404);
    expect(c.closeRecord).toBeUndefined();
  });
});

describe('HTTP carrier: the core applies its caps as to a WebSocket', () => {
  test('CC-8 HT-3 a session beyond maxSessions over HTTP is closed TRY_AGAIN_LATER like one over WebSocket', async () => {
    const srv = await h.server({ maxSessions: 1 });
    await h.session(srv);
    const c = await open(srv);
    c.startReceiving();
    await c.hello();
    expect((await c.waitForClose()).code).toBe(codeOf('TRY_AGAIN_LATER'));
  });
});
