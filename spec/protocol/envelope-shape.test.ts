import { create } from '@bufbuild/protobuf';
import { describe, expect, test } from 'vitest';
import {
  AckSchema,
  EnvelopeSchema,
  HeartbeatAckSchema,
  HeartbeatSchema,
  MessageSchema,
  SnapshotSchema,
  StatePatchSchema,
  StateDriftSchema,
  DrainNoticeSchema,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from './codec.js';
import { defaults } from './defaults.js';

describe('envelope shape', () => {
  test('SEQ-1 exactly Message, StatePatch and Snapshot carry a seq, and it must be ≥ 1', () => {
    const sequenced = [MessageSchema, StatePatchSchema, SnapshotSchema];
    const control = [HeartbeatSchema, HeartbeatAckSchema, AckSchema, StateDriftSchema, DrainNoticeSchema];
    for (const s of sequenced) expect(s.fields.some((f) => f.name === 'seq'), s.typeName).toBe(true);
    // Ack's `seq` is the cumulative ack value, not the frame's own number.
    for (const s of control.filter((c) => c !== AckSchema)) expect(s.fields.some((f) => f.name === 'seq'), s.typeName).toBe(false);

    const zero = [
      create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq: 0n }) } }),
      create(EnvelopeSchema, { body: { case: 'statePatch', value: create(StatePatchSchema, { seq: 0n, channel: 'c', version: 1n }) } }),
      create(EnvelopeSchema, { body: { case: 'snapshot', value: create(SnapshotSchema, { seq: 0n, channel: 'c' }) } }),
    ];
    for (const env of zero) expect(() => encode(env), env.body.case).toThrow(/seq must be ≥ 1/);
    const one = create(EnvelopeSchema, { body: { case: 'snapshot', value: create(SnapshotSchema, { seq: 1n, channel: 'c' }) } });
    expect(decode(encode(one)).ok).toBe(true);
  });

  test('HB-10 the default heartbeat detection fits under a 60 s proxy idle timeout', () => {
    // A proxy (nginx proxy_read_timeout, AWS ALB idle timeout: both 60 s) reaps a flow idle that long;
    // one heartbeat per interval keeps the flow busy only if the interval is below it.
    expect(defaults.heartbeatIntervalMs).toBeLessThan(60_000);
    expect(defaults.heartbeatIntervalMs).toBeGreaterThanOrEqual(1_000);
  });

  test('WIRE-10 the bodies are the twelve of v1 plus the gated ones: a new body fails here until it is gated on the peer\'s announcement', () => {
    const bodies = EnvelopeSchema.oneofs.find((o) => o.name === 'body')?.fields.map((f) => f.localName).sort();
    // Gated: Subscribed goes only to a client announcing `subscribed` (CH-4; server/channels.test.ts and
    // the WIRE-10/no-subscribed-unless-announced conformance case check the gate).
    const gated = ['subscribed'];
    expect(bodies).toEqual(
      ['hello', 'welcome', 'heartbeat', 'heartbeatAck', 'ack', 'message', 'statePatch', 'snapshot', 'stateDrift', 'drainNotice', 'subscribe', 'unsubscribe', ...gated].sort(),
    );
  });

  test('WIRE-11 uint64 fields keep every bit above 2^53, through the fast path and protobuf-es alike', () => {
    for (const v of [2n ** 53n + 1n, 2n ** 63n + 12345n, 2n ** 64n - 1n]) {
      const envs = [
        create(EnvelopeSchema, { body: { case: 'ack', value: create(AckSchema, { seq: v }) } }),
        create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq: v, payload: new Uint8Array([1]) }) } }),
        create(EnvelopeSchema, { body: { case: 'statePatch', value: create(StatePatchSchema, { seq: v, channel: 'c', baseVersion: v - 1n, version: v }) } }),
        create(EnvelopeSchema, { body: { case: 'heartbeat', value: create(HeartbeatSchema, { id: 1, sentAtMs: v }) } }),
        create(EnvelopeSchema, { body: { case: 'heartbeatAck', value: create(HeartbeatAckSchema, { id: 1, echoSentAtMs: v }) } }),
        create(EnvelopeSchema, { body: { case: 'snapshot', value: create(SnapshotSchema, { seq: v, channel: 'c', version: v }) } }),
      ];
      for (const env of envs) {
        const r = decode(encode(env), { from: env.body.case === 'heartbeat' || env.body.case === 'ack' ? 'client' : 'server' });
        expect(r.ok && r.envelope.body, `${env.body.case} ${v}`).toEqual(env.body);
      }
    }
  });
});
