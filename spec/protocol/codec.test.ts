import { create, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { EnvelopeSchema, HelloSchema, MessageSchema, StatePatchSchema, WelcomeSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { arbEnvelope } from './arbitraries.js';
import { closeCodeName } from './close-codes.js';
import { decode, encode } from './codec.js';
import { ProtocolError } from './errors.js';

const sameEnvelope = (a: unknown, b: unknown) => expect(a).toStrictEqual(b);

describe('codec', () => {
  test('WIRE-1 every valid envelope round-trips through one binary frame', () => {
    fc.assert(
      fc.property(arbEnvelope(), (env) => {
        const r = decode(encode(env));
        expect(r.ok).toBe(true);
        if (r.ok) sameEnvelope(r.envelope, env);
      }),
      { numRuns: 500 },
    );
  });

  test('WIRE-2 arbitrary bytes decode to an envelope or a registered close code, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = decode(bytes);
        if (!r.ok) {
          expect(r.error).toBeInstanceOf(ProtocolError);
          expect(closeCodeName(r.error.code)).toBeDefined();
          expect(new TextEncoder().encode(r.error.reason).length).toBeLessThanOrEqual(123);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('WIRE-2 truncated frames are refused with 1007 or decode to a valid prefix, never a throw', () => {
    fc.assert(
      fc.property(arbEnvelope(), fc.nat(), (env, cut) => {
        const bytes = encode(env);
        const truncated = bytes.subarray(0, bytes.length === 0 ? 0 : cut % bytes.length);
        const r = decode(truncated);
        if (!r.ok) expect([1002, 1007]).toContain(r.error.code);
      }),
      { numRuns: 500 },
    );
  });

  test('WIRE-2 a length-delimited field running past the end is INVALID_PAYLOAD (1007)', () => {
    const r = decode(new Uint8Array([0x32, 0x10, 0x08, 0x01])); // field 6 (message) claims 16 bytes, has 2
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(1007);
  });

  test('WIRE-3 an envelope with no body is PROTOCOL_ERROR (1002)', () => {
    const r = decode(new Uint8Array(0));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(1002);
    expect(() => encode(create(EnvelopeSchema))).toThrow(ProtocolError);
  });

  test('WIRE-3 WIRE-6 an envelope with only an unknown field has no body: 1002; unknown fields beside a body are ignored', () => {
    const unknownOnly = new Uint8Array([0xf8, 0x07, 0x01]); // field 127 varint 1
    const r = decode(unknownOnly);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(1002);

    const ack = toBinary(EnvelopeSchema, create(EnvelopeSchema, { body: { case: 'ack', value: { seq: 7n } } }));
    const withUnknown = new Uint8Array([...ack, 0xf8, 0x07, 0x01]);
    const r2 = decode(withUnknown);
    expect(r2.ok).toBe(true);
    if (r2.ok && r2.envelope.body.case === 'ack') expect(r2.envelope.body.value.seq).toBe(7n);
  });

  test('WIRE-4 a frame over the payload limit is MESSAGE_TOO_BIG (1009) before decoding', () => {
    const env = create(EnvelopeSchema, {
      body: { case: 'message', value: create(MessageSchema, { seq: 1n, payload: new Uint8Array(2000) }) },
    });
    const r = decode(encode(env), { maxPayloadBytes: 1000 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(1009);
  });

  test('WIRE-5 out-of-range fields are PROTOCOL_ERROR (1002)', () => {
    const cases = [
      create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq: 0n }) } }),
      create(EnvelopeSchema, { body: { case: 'statePatch', value: create(StatePatchSchema, { seq: 1n, channel: 'c', baseVersion: 5n, version: 5n }) } }),
      create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: 0 }) } }),
      create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: 1, lastServerSeq: 3n }) } }),
      create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, { protocolVersion: 1, sessionId: 'x'.repeat(129) }) } }),
      create(EnvelopeSchema, { body: { case: 'welcome', value: create(WelcomeSchema, { sessionId: '', heartbeatIntervalMs: 1, maxPayloadBytes: 1 }) } }),
    ];
    for (const env of cases) {
      const r = decode(toBinary(EnvelopeSchema, env));
      expect(r.ok, JSON.stringify(env.body.case)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe(1002);
    }
  });

  test('WIRE-7 a body the sender\'s role may not send is PROTOCOL_ERROR (1002)', () => {
    fc.assert(
      fc.property(arbEnvelope(['welcome', 'snapshot', 'statePatch', 'drainNotice']), (env) => {
        const r = decode(encode(env), { from: 'client' });
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toBe(1002);
      }),
    );
    fc.assert(
      fc.property(arbEnvelope(['hello', 'subscribe', 'unsubscribe']), (env) => {
        const r = decode(encode(env), { from: 'server' });
        expect(r.ok).toBe(false);
      }),
    );
  });
});
