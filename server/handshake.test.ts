import { afterEach, describe, expect, test } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { Harness } from './test-support.js';

const h = new Harness();
afterEach(() => h.cleanup());

describe('handshake', () => {
  test('HS-9 a valid Hello is answered with Welcome first', async () => {
    const srv = await h.server();
    const c = await h.client(srv);
    const w = await c.handshake({ channels: [] });
    expect(c.frames[0]?.body.case).toBe('welcome');
    expect(w.sessionId).not.toBe('');
    expect(w.resume?.outcome).toBe(ResumeOutcome.NEW);
    expect(w.resume?.reason).toBe(ResumeReason.NOT_REQUESTED);
    expect(w.heartbeatIntervalMs).toBe(1000);
    expect(srv.stats().sessions).toBe(1);
  });

  test('HS-10 no Hello within the handshake timeout closes 4201', async () => {
    const srv = await h.server({ handshakeTimeoutMs: 50 });
    const c = await h.client(srv);
    expect((await c.waitForClose()).code).toBe(codeOf('HANDSHAKE_TIMEOUT'));
    expect(srv.stats().sessions).toBe(0);
  });
});
