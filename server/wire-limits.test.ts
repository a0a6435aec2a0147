import { create } from '@bufbuild/protobuf';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket } from 'ws';
import { EnvelopeSchema, HelloSchema, ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { decodeOrThrow, encode } from '../spec/protocol/codec.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { defaults, SUBPROTOCOL } from '../spec/protocol/defaults.js';
import { CLIENT_FRAME_LIMIT_BYTES } from './frame-limit.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

describe('transport and frame limits', () => {
  test('WIRE-8 a client that offers permessage-deflate is served without it: the server never requires or negotiates it', async () => {
    const srv = await h.server();
    const ws = new WebSocket(srv.url(), [SUBPROTOCOL], { perMessageDeflate: true });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      expect(ws.extensions).toBe(''); // not negotiated
      const welcome = new Promise<string | undefined>((resolve) => ws.once('message', (data) => resolve(decodeOrThrow(new Uint8Array(data as Buffer), { from: 'server' }).body.case)));
      ws.send(encode(create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: 1 }) } })));
      expect(await welcome).toBe('welcome');
    } finally {
      ws.terminate();
    }
    // and every other test's raw client offers no extension at all (testkit/raw-client.ts)
    const plain = await h.session(srv);
    expect(plain.ws.extensions).toBe('');
  });

  test('WIRE-12 a message or patch that could not fit a 1 MiB frame is refused to the application; nothing is sent and the session goes on', async () => {
    const srv = await h.server();
    const c = await h.session(srv, { channels: ['feed'] });
    const session = srv.sessions()[0];
    if (!session) throw new Error('no session');
    const big = new Uint8Array(CLIENT_FRAME_LIMIT_BYTES);
    expect(() => session.send({ payload: big })).toThrow(/WIRE-12/);
    await expect(srv.publish('feed', { payload: big })).rejects.toThrow(/WIRE-12/); // to the caller, before the broker
    await expect(srv.publishPatch('feed', { baseVersion: 0n, version: 1n, delta: big })).rejects.toThrow(/WIRE-12/);
    // Strings near the limit are measured in UTF-8: 100 ASCII characters fit beside 1 MiB − 200, 100 'é' do not.
    await expect(srv.publish(`ascii-${'c'.repeat(94)}`, { payload: new Uint8Array(CLIENT_FRAME_LIMIT_BYTES - 200) })).resolves.toBe(0); // no subscriber
    await expect(srv.publish('é'.repeat(100), { payload: new Uint8Array(CLIENT_FRAME_LIMIT_BYTES - 200) })).rejects.toThrow(/WIRE-12/);
    // A payload just inside the limit still goes, in one frame under 1 MiB.
    session.send({ payload: new Uint8Array(CLIENT_FRAME_LIMIT_BYTES - 200) });
    expect(await srv.publish('feed', { payload: new Uint8Array([7]) })).toBe(1);
    await c.waitForCount('message', 2, 5000);
    expect(c.isOpen).toBe(true);
    expect(c.bodies('message').map((m) => m.payload.byteLength)).toEqual([CLIENT_FRAME_LIMIT_BYTES - 200, 1]);
  });

  test('HS-14 a Welcome with outcome NEW has last_client_seq 0, also when the client asked to resume after sending', async () => {
    const srv = await h.server();
    const fresh = await h.session(srv);
    expect(fresh.bodies('welcome')[0]?.lastClientSeq).toBe(0n);
    // A resume of a session the server does not know, from a client that had sent 5 messages.
    const c = await h.client(srv);
    const w = await c.handshake({ sessionId: 'AAAAAAAAAAAAAAAAAAAAAA', lastServerSeq: 3n });
    expect(w.resume?.outcome).toBe(ResumeOutcome.NEW);
    expect(w.resume?.reason).toBe(ResumeReason.UNKNOWN_SESSION);
    expect(w.lastClientSeq).toBe(0n);
  });

  test('SEC-8 session ids carry at least 128 bits from a secure random source: 16+ bytes, all distinct, no shared prefix', async () => {
    const srv = await h.server();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await h.session(srv)).bodies('welcome')[0]?.sessionId ?? '');
    for (const id of ids) expect(Buffer.from(id, 'base64url').byteLength).toBeGreaterThanOrEqual(16);
    expect(new Set(ids).size).toBe(ids.length);
    // Counter- or time-based ids share a prefix; 20 random ids share none beyond chance.
    expect(new Set(ids.map((id) => id.slice(0, 3))).size).toBeGreaterThan(15);
  });

  test('CC-9 close reasons carry no credential: a refused Hello token and a malformed frame never echo the secret', async () => {
    const secret = 'tok-9f2c1e-SECRET';
    const srv = await h.server({ authenticateHello: () => undefined });
    const refused = await h.client(srv);
    refused.hello({ token: secret });
    const info = await refused.waitForClose();
    expect(info.code).toBe(codeOf('UNAUTHORIZED'));
    expect(info.reason).not.toContain(secret);
    const open = await h.server();
    const bad = await h.client(open);
    bad.sendText(`{"token":"${secret}"}`); // a text frame carrying the secret (WIRE-1)
    const info2 = await bad.waitForClose();
    expect(info2.code).toBe(codeOf('UNSUPPORTED_DATA'));
    expect(info2.reason).not.toContain(secret);
  });

  test('CC-10 a peer that never answers the close frame is destroyed after the close timeout, not after ws\'s 30 s', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 300 });
    const c = await h.session(srv);
    const session = srv.sessions()[0];
    c.pause(); // reads nothing: the close frame is never answered
    const t0 = performance.now();
    session?.end(); // CC-6: close 1000
    await vi.waitFor(() => expect(srv.stats().connections).toBe(0), { timeout: 10_000 });
    expect(performance.now() - t0).toBeLessThan(10_000); // well under ws's own 30 s
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250); // it did wait for the close timeout
  });
});

describe('ack delay stated in Welcome', () => {
  test('SEQ-12 Welcome.client_ack_delay_ms is 250 by default (§17.1), 0 when set to 0 (the client keeps its own), and states clientAckDelayMs when set', async () => {
    const plain = await h.server();
    expect((await h.session(plain)).bodies('welcome')[0]?.clientAckDelayMs).toBe(250);
    expect(defaults.clientAckDelayMs).toBe(250);
    const own = await h.server({ clientAckDelayMs: 0 });
    expect((await h.session(own)).bodies('welcome')[0]?.clientAckDelayMs).toBe(0);
    const shorter = await h.server({ clientAckDelayMs: 100 });
    expect((await h.session(shorter)).bodies('welcome')[0]?.clientAckDelayMs).toBe(100);
  });
});
