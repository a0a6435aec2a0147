import { request } from 'node:http';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { CONTENT_TYPE, frameHeader, RECORD_HEADER_BYTES } from '../../spec/protocol/http-carrier.js';
import type { LifelineServer } from '../server.js';
import { Harness } from '../../test/support/server.js';
import { carrierRequest, openCarrier, type CarrierClient, type HttpAnswer } from '../../test/support/http-carrier-client.js';

const h = new Harness();
const carriers: CarrierClient[] = [];
afterEach(async () => {
  for (const c of carriers.splice(0)) c.destroy();
  await h.cleanup();
});

const enc = (s: string) => new TextEncoder().encode(s);

function carrierUrl(srv: LifelineServer): string {
  return srv.url().replace(/^ws/, 'http');
}

async function open(srv: LifelineServer): Promise<CarrierClient> {
  const { answer, client } = await openCarrier(carrierUrl(srv));
  expect(answer.status).toBe(200);
  if (!client) throw new Error('open refused');
  carriers.push(client);
  return client;
}

/** A send whose body is written in part and never ended (chunked): resolves with the answer, if any. */
function stalledSend(c: CarrierClient, first: Uint8Array): { answer: Promise<HttpAnswer | undefined>; abort: () => void } {
  const req = request(c.url, { method: 'POST', headers: { ...c.headers('send', { 'Lifeline-Seq': String(c.sent) }), 'Content-Type': CONTENT_TYPE, 'Transfer-Encoding': 'chunked' } });
  const answer = new Promise<HttpAnswer | undefined>((resolve) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0) }));
    });
    req.on('error', () => resolve(undefined));
  });
  req.write(first);
  return { answer, abort: () => req.destroy() };
}

describe('HTTP carrier: hostile input gets a status, never a crash (HT-2, HT-6, HT-7, HT-13, HT-14)', () => {
  test('HT-6 a second send while one is in flight is 409 and applies nothing', async () => {
    const got: string[] = [];
    const srv = await h.server({ onMessage: (m) => void got.push(new TextDecoder().decode(m.payload)) });
    const c = await open(srv);
    await c.handshake();
    const stalled = stalledSend(c, frameHeader(100)); // a record header, then nothing
    await new Promise((r) => setTimeout(r, 50));
    const second = await c.message({ payload: enc('second') });
    expect(second.status).toBe(409);
    stalled.abort();
    await new Promise((r) => setTimeout(r, 50));
    c.sent = 1; // the Hello went; the stalled body applied nothing whole
    expect((await c.message({ payload: enc('third'), seq: 1n })).status).toBe(204);
    await vi.waitFor(() => expect(got).toEqual(['third']));
  });

  test('HT-6 a send past the frames received (a gap) is 409 and closes the connection PROTOCOL_ERROR', async () => {
    const srv = await h.server();
    const c = await open(srv);
    await c.handshake();
    const a = await c.sendEnvelopes([], { seq: c.sent + 1 });
    expect(a.status).toBe(409);
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
  });

  test('HT-13 a Content-Length over httpMaxSendBytes is refused 413 from the header, before any body', async () => {
    const srv = await h.server({ maxPayloadBytes: 1024, httpMaxSendBytes: 4096 });
    const c = await open(srv);
    await c.handshake();
    const a = await new Promise<number>((resolve) => {
      const req = request(c.url, { method: 'POST', headers: { ...c.headers('send', { 'Lifeline-Seq': String(c.sent) }), 'Content-Type': CONTENT_TYPE, 'Content-Length': String(10 * 1024 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(-1));
      req.flushHeaders(); // headers only: the body never comes
    });
    expect(a).toBe(413);
    expect((await c.heartbeat()).status).toBe(204); // the connection is unharmed
  });

  test('HT-13 a chunked body growing past httpMaxSendBytes is 413', async () => {
    const srv = await h.server({ maxPayloadBytes: 1024, httpMaxSendBytes: 4096 });
    const c = await open(srv);
    await c.handshake();
    const s = stalledSend(c, new Uint8Array(5000).fill(0));
    expect((await s.answer)?.status).toBe(413);
  });

  test('HT-2 WIRE-4 a FRAME record declaring more than maxPayloadBytes is 413 and closes MESSAGE_TOO_BIG, nothing buffered', async () => {
    const srv = await h.server({ maxPayloadBytes: 1024 });
    const c = await open(srv);
    await c.handshake();
    const s = stalledSend(c, frameHeader(1_000_000_000)); // the header alone: a billion bytes announced
    expect((await s.answer)?.status).toBe(413);
    expect((await c.waitForClose()).code).toBe(codeOf('MESSAGE_TOO_BIG'));
  });

  test('HT-2 a malformed body (unknown record kind, a body ending inside a record) is 400 and closes PROTOCOL_ERROR', async () => {
    const srv = await h.server();
    const c = await open(srv);
    await c.handshake();
    const bad = new Uint8Array(RECORD_HEADER_BYTES);
    bad[0] = 9;
    expect((await c.sendRaw(bad, c.sent)).status).toBe(400);
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    const d = await open(srv);
    await d.handshake();
    expect((await d.sendRaw(frameHeader(10), d.sent)).status).toBe(400); // ends inside the record
    expect((await d.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
  });

  test('HT-10 a record after the client CLOSE record is 400', async () => {
    const srv = await h.server();
    const c = await open(srv);
    await c.handshake();
    const { closeRecord, frameRecord } = await import('../../spec/protocol/http-carrier.js');
    const body = Buffer.concat([closeRecord(1000, ''), frameRecord(new Uint8Array([0x2a, 0x02, 0x08, 0x01]))]);
    expect((await c.sendRaw(body, c.sent)).status).toBe(400);
  });

  test('HT-1 a send body with another Content-Type is 400', async () => {
    const srv = await h.server();
    const c = await open(srv);
    await c.handshake();
    expect((await c.sendRaw(enc('x'), c.sent, { 'Content-Type': 'text/plain' })).status).toBe(400);
  });

  test('HT-14 a send body that never ends is answered 408 within the handshake timeout and its socket closed', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 300 });
    const c = await open(srv);
    await c.handshake();
    const t0 = performance.now();
    const s = stalledSend(c, frameHeader(50));
    expect((await s.answer)?.status).toBe(408);
    expect(performance.now() - t0).toBeLessThan(3000);
    c.sent = 1;
    expect((await c.heartbeat()).status).toBe(204); // the connection itself is fine
  });

  test('HT-7 a receive acknowledging frames never sent, or below an earlier Ack, is 409 and closes PROTOCOL_ERROR', async () => {
    const srv = await h.server({ httpPollHoldMs: 100 });
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    srv.session(w.sessionId)?.send({ payload: enc('x') });
    expect(await c.receiveOnce({ mode: 'poll' })).toBe(200);
    expect(c.bodies('message')).toHaveLength(1);
    expect(await c.receiveOnce({ ack: c.received + 5, mode: 'poll' })).toBe(409);
    expect(await c.receiveOnce({ ack: c.received, mode: 'poll' })).toBe(200);
    expect(c.closeRecord?.code).toBe(codeOf('PROTOCOL_ERROR'));

    const d = await open(srv);
    const w2 = await d.handshake();
    d.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    srv.session(w2.sessionId)?.send({ payload: enc('y') });
    expect(await d.receiveOnce({ mode: 'poll' })).toBe(200);
    expect(await d.receiveOnce({ ack: d.received, mode: 'poll' })).toBe(200); // acknowledges everything, carries nothing
    expect(await d.receiveOnce({ ack: d.received - 1, mode: 'poll' })).toBe(409);
  });
});

describe('HTTP carrier: receive modes and timers (HT-8, HT-12, HT-15)', () => {
  test('HT-8 HT-15 an empty poll ends after httpPollHoldMs; a poll with frames ends after them; the headers disable buffering', async () => {
    const srv = await h.server({ httpPollHoldMs: 150 });
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const a = await carrierRequest(c.url, c.headers('receive', { 'Lifeline-Ack': String(c.received), 'Lifeline-Receive': 'poll' }), undefined, c.agent);
    const took = performance.now() - t0;
    expect(a.status).toBe(200);
    expect(a.body.byteLength).toBe(0);
    expect(took).toBeGreaterThanOrEqual(130);
    expect(took).toBeLessThan(2000);
    expect(a.headers).toMatchObject({ 'content-type': CONTENT_TYPE, 'cache-control': 'no-store, no-transform', 'x-accel-buffering': 'no' });
    expect(a.headers['content-length']).toBeUndefined();
    setTimeout(() => srv.session(w.sessionId)?.send({ payload: enc('now') }), 50);
    const t1 = performance.now();
    expect(await c.receiveOnce({ mode: 'poll' })).toBe(200);
    expect(performance.now() - t1).toBeLessThan(140); // ended with its records, not at the hold
    expect(c.bodies('message')).toHaveLength(1);
  });

  test('HT-8 a stream ends after httpStreamMaxBytes and after httpStreamMaxMs', async () => {
    const srv = await h.server({ httpStreamMaxBytes: 2000, httpStreamMaxMs: 200 });
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    expect(await c.receiveOnce({ mode: 'stream' })).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(180);
    const s = srv.session(w.sessionId);
    for (let i = 0; i < 20; i++) s?.send({ payload: new Uint8Array(300) });
    await new Promise((r) => setTimeout(r, 20));
    const before = c.received;
    const t1 = performance.now();
    expect(await c.receiveOnce({ mode: 'stream' })).toBe(200);
    expect(performance.now() - t1).toBeLessThan(180);
    expect(c.received - before).toBeLessThan(20); // ended at its byte bound, the rest on the next receive
    for (let n = 0; n < 10 && c.bodies('message').length < 20; n++) await c.receiveOnce({ mode: 'poll' }); // each carries ≤ 2000 B
    expect(c.seqs()).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
  });

  test('HT-8 a newer receive ends the older one at once', async () => {
    const srv = await h.server({ httpStreamMaxMs: 10_000 });
    const c = await open(srv);
    await c.handshake();
    c.stopReceiving();
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const older = c.receiveOnce({ mode: 'stream' });
    await new Promise((r) => setTimeout(r, 50));
    void c.receiveOnce({ mode: 'stream' });
    expect(await older).toBe(200);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  test('HT-12 RS-1 a connection with no receive open for httpReceiveGapMs is gone (404) and its session detached', async () => {
    const srv = await h.server({ httpReceiveGapMs: 150 });
    const c = await open(srv);
    const w = await c.handshake();
    c.stopReceiving();
    await vi.waitFor(() => expect(srv.session(w.sessionId)?.state).toBe('detached'), { timeout: 5000 });
    expect(srv.stats().connections).toBe(0);
    expect((await c.heartbeat()).status).toBe(404);
  });

  test('HT-12 300 connections opened and abandoned are all freed by the gap timer', async () => {
    const srv = await h.server({ httpReceiveGapMs: 200, handshakeTimeoutMs: 60_000 });
    const url = carrierUrl(srv);
    const opens: Promise<{ client?: CarrierClient }>[] = [];
    for (let i = 0; i < 300; i++) opens.push(openCarrier(url));
    for (const o of await Promise.all(opens)) if (o.client) carriers.push(o.client);
    expect(carriers.length).toBe(300);
    await vi.waitFor(() => expect(srv.stats().connections).toBe(0), { timeout: 10_000 });
  });
});
