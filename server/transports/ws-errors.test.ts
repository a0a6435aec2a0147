import { afterEach, describe, expect, test, vi } from 'vitest';
import { ResumeOutcome, ResumeReason } from '../../gen/lifeline/v1/envelope_pb.js';
import { rawEnvelope, type WsFrameSpec } from '../../conformance/wire.js';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { Harness } from '../../test/support/server.js';
import { wsProtocolErrorName } from './ws-errors.js';

const h = new Harness();
afterEach(() => h.cleanup());

const heartbeat = rawEnvelope('heartbeat', [{ no: 1, varint: 1 }]);

const cases: { name: string; frame: WsFrameSpec; code: number }[] = [
  { name: 'an invalid UTF-8 text frame (1007)', frame: { opcode: 1, payload: new Uint8Array([0xc3, 0x28]) }, code: codeOf('INVALID_PAYLOAD') },
  { name: 'a frame with RSV1 set (1002)', frame: { opcode: 2, payload: heartbeat, rsv1: true }, code: codeOf('PROTOCOL_ERROR') },
  { name: 'an unmasked client frame (1002)', frame: { opcode: 2, payload: heartbeat, masked: false }, code: codeOf('PROTOCOL_ERROR') },
  { name: 'a frame over max payload (1009)', frame: { opcode: 2, payload: new Uint8Array(2048) }, code: codeOf('MESSAGE_TOO_BIG') },
];

describe('closes raised by ws itself follow the registry (CC-11)', () => {
  for (const c of cases) {
    test(`CC-11 ${c.name} ends the session: a later resume gets NEW, not a replay`, async () => {
      const srv = await h.server({ maxPayloadBytes: 1024 });
      const ended: string[] = [];
      srv.on('sessionEnded', (s) => ended.push(s.id));
      const a = await h.session(srv);
      const id = a.bodies('welcome')[0]?.sessionId as string;
      a.sendFrame(c.frame);
      await vi.waitFor(() => expect(a.closeFrameCode()).toBe(c.code), { timeout: 5000 });
      // RS-1 with the reset rule: torn down at once, not detached for the resume TTL.
      await vi.waitFor(() => expect(srv.session(id)).toBeUndefined(), { timeout: 5000 });
      expect(ended).toEqual([id]);
      const b = await h.client(srv);
      const w = await b.handshake({ sessionId: id, lastServerSeq: 0n });
      expect(w.resume?.outcome).toBe(ResumeOutcome.NEW);
      expect(w.resume?.reason).toBe(ResumeReason.UNKNOWN_SESSION);
    });
  }

  test('CC-11 a transport error (ECONNRESET) is not a protocol error: no registry name, the session detaches (RS-1)', () => {
    expect(wsProtocolErrorName(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(wsProtocolErrorName(Object.assign(new Error('x'), { code: 'WS_ERR_INVALID_UTF8' }))).toBe('INVALID_PAYLOAD');
    expect(wsProtocolErrorName(Object.assign(new Error('x'), { code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' }))).toBe('MESSAGE_TOO_BIG');
  });

  test('CC-11 a session that ws closed is not held: 40 such sessions leave none behind', async () => {
    const srv = await h.server({ maxPayloadBytes: 1024, resumeTtlMs: 60_000 }); // a TTL must not be what empties the store
    for (let i = 0; i < 40; i++) {
      const c = await h.session(srv);
      c.sendFrame(cases[i % cases.length]!.frame);
      await vi.waitFor(() => expect(c.closeFrameCode()).toBeDefined(), { timeout: 5000 });
      c.terminate();
    }
    await vi.waitFor(() => expect(srv.stats().sessions).toBe(0), { timeout: 3000 });
  });
});
