import { create } from '@bufbuild/protobuf';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { EnvelopeSchema, ResumeOutcome, ResumeReason, WelcomeSchema, ResumeResultSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { decode } from '../spec/protocol/codec.js';
import type { RawClient } from '../testkit/raw-client.js';
import { Harness } from '../test/support/server.js';

const h = new Harness();
afterEach(() => h.cleanup());

/** SEC-4: an established session is untouched by what happens to another one. */
async function expectAlive(c: RawClient): Promise<void> {
  const id = c.heartbeat();
  await c.waitForBody('heartbeatAck', 5000, (a) => a.id === id);
  expect(c.isOpen).toBe(true);
}

describe('handshake', () => {
  test('HS-9 a valid Hello is answered with Welcome as the first frame, stating the session parameters', async () => {
    const srv = await h.server({ replayWindowMessages: 64, queueLimitMessages: 32, receiveWindow: 16 });
    const c = await h.client(srv);
    const w = await c.handshake();
    expect(c.frames[0]?.body.case).toBe('welcome');
    expect(w.sessionId).not.toBe('');
    expect(w.resume).toMatchObject({ outcome: ResumeOutcome.NEW, reason: ResumeReason.NOT_REQUESTED, fromSeq: 1n, replayed: 0 });
    expect(w).toMatchObject({ heartbeatIntervalMs: 1000, heartbeatMissedMax: 2, replayWindowMessages: 64, queueLimitMessages: 32, receiveWindow: 16, maxPayloadBytes: 1024 * 1024 });
    expect(srv.stats().sessions).toBe(1);
  });

  test('session ids are capabilities: 128 random bits each (spec §16.3), never repeated', async () => {
    const srv = await h.server();
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const c = await h.session(srv);
      const id = c.bodies('welcome')[0]?.sessionId as string;
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/); // base64url of 16 bytes from crypto.randomBytes
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
      ids.add(id);
      c.terminate();
    }
    expect(ids.size).toBe(40);
  });

  test('HS-10 no Hello within the handshake timeout closes 4201, other sessions unaffected', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 150 });
    const bystander = await h.session(srv);
    const c = await h.client(srv);
    expect((await c.waitForClose()).code).toBe(codeOf('HANDSHAKE_TIMEOUT'));
    expect(srv.stats().sessions).toBe(1);
    await expectAlive(bystander);
  });

  test('HS-11 a Hello with an unsupported protocol version closes 4000 without Welcome', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.client(srv);
    c.hello({ protocolVersion: 2 });
    expect((await c.waitForClose()).code).toBe(codeOf('VERSION_UNSUPPORTED'));
    expect(c.bodies('welcome')).toHaveLength(0);
    await expectAlive(bystander);
  });

  test('HS-12 with Hello authentication a missing or bad token closes 4101 and no Welcome is sent', async () => {
    const srv = await h.server({ authenticateHello: async (token) => (token === 'secret' ? 'erin' : undefined) });
    const bystander = await h.session(srv, { token: 'secret' });
    expect(srv.sessions()[0]?.principal).toBe('erin');
    for (const token of ['', 'wrong']) {
      const c = await h.client(srv);
      c.hello({ token });
      expect((await c.waitForClose()).code).toBe(codeOf('UNAUTHORIZED'));
      expect(c.bodies('welcome')).toHaveLength(0);
    }
    expect(srv.stats().sessions).toBe(1);
    await expectAlive(bystander);
  });

  test('HS-8 WIRE-7 a body before Hello closes 1002', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.client(srv);
    c.heartbeat();
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    await expectAlive(bystander);
  });

  test('WIRE-7 a second Hello closes 1002 and ends the session', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    c.hello();
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    await expectAlive(bystander);
    await vi.waitFor(() => expect(srv.stats().sessions).toBe(1));
  });

  test('WIRE-7 a body the client role may not send (Welcome) closes 1002', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    c.send(create(EnvelopeSchema, { body: { case: 'welcome', value: create(WelcomeSchema, { sessionId: 'x', heartbeatIntervalMs: 1, maxPayloadBytes: 1, resume: create(ResumeResultSchema, {}) }) } }));
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    await expectAlive(bystander);
  });

  test('WIRE-1 a text frame closes 1003', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    c.sendText('{"type":"hello"}');
    expect((await c.waitForClose()).code).toBe(codeOf('UNSUPPORTED_DATA'));
    await expectAlive(bystander);
  });

  test('WIRE-2 bytes that are not an Envelope close 1007, before or after Hello', async () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(decode(garbage).ok).toBe(false);
    const srv = await h.server();
    const bystander = await h.session(srv);
    const before = await h.client(srv);
    before.sendBytes(garbage);
    expect((await before.waitForClose()).code).toBe(codeOf('INVALID_PAYLOAD'));
    const after = await h.session(srv);
    after.sendBytes(garbage);
    expect((await after.waitForClose()).code).toBe(codeOf('INVALID_PAYLOAD'));
    await expectAlive(bystander);
  });

  test('WIRE-3 an Envelope with no body closes 1002', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    c.sendBytes(new Uint8Array(0));
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    await expectAlive(bystander);
  });

  test('WIRE-4 a frame over max_payload_bytes closes 1009', async () => {
    const srv = await h.server({ maxPayloadBytes: 1024 });
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    c.message({ payload: new Uint8Array(4096) });
    expect((await c.waitForClose()).code).toBe(codeOf('MESSAGE_TOO_BIG'));
    await expectAlive(bystander);
  });

  test('WIRE-5 SEQ-2 a Message with seq 0 closes 1002', async () => {
    const srv = await h.server();
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    // encode() refuses seq 0 (WIRE-5), so the frame is built by hand: field 6 (message) { field 5 (payload) "x" }.
    const bytes = new Uint8Array([0x32, 0x03, 0x2a, 0x01, 0x78]);
    const r = decode(bytes, { from: 'client' });
    expect(r.ok).toBe(false);
    c.sendBytes(bytes);
    expect((await c.waitForClose()).code).toBe(codeOf('PROTOCOL_ERROR'));
    await expectAlive(bystander);
  });

  test('CC-8 a new session over the session limit is closed 1013', async () => {
    const srv = await h.server({ maxSessions: 1 });
    const bystander = await h.session(srv);
    const c = await h.client(srv);
    c.hello();
    expect((await c.waitForClose()).code).toBe(codeOf('TRY_AGAIN_LATER'));
    await expectAlive(bystander);
  });

  test('CC-5 SEC-4 a handler that throws closes its session 1011; another session keeps working', async () => {
    const srv = await h.server({
      onMessage: (m) => {
        if (new TextDecoder().decode(m.payload) === 'boom') throw new Error('application bug');
      },
    });
    const bystander = await h.session(srv);
    const c = await h.session(srv);
    c.message({ payload: new TextEncoder().encode('boom') });
    expect((await c.waitForClose()).code).toBe(codeOf('INTERNAL_ERROR'));
    expect(c.bodies('ack')).toHaveLength(0); // SEQ-10: never acked
    await expectAlive(bystander);
    bystander.message({ payload: new TextEncoder().encode('fine') });
    await bystander.waitForBody('ack', 5000, (a) => a.seq === 1n);
  });
});
