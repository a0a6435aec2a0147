/** The client's control envelopes and its smoothed RTT (control-frames.ts). */
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { HeartbeatSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { PROTOCOL_VERSION } from '../spec/protocol/defaults.js';
import { DEFAULT_CAPABILITIES, heartbeatAckEnvelope, heartbeatEnvelope, helloEnvelope, smoothedRttAfter } from './control-frames.js';

describe('control frames', () => {
  test('RS-10 HS-8 a resuming Hello carries the last seq; a first one carries 0', () => {
    const resume = helloEnvelope({}, 'S1', 'tok', 41n, 64, DEFAULT_CAPABILITIES, ['a']);
    const first = helloEnvelope({ agent: 'x/1' }, '', undefined, 41n, 64, DEFAULT_CAPABILITIES, []);
    if (resume.body.case !== 'hello' || first.body.case !== 'hello') throw new Error('not a Hello');
    expect(resume.body.value).toMatchObject({ protocolVersion: PROTOCOL_VERSION, sessionId: 'S1', lastServerSeq: 41n, receiveWindow: 64, token: 'tok', channels: ['a'], agent: 'lifeline-js/0.1' });
    expect(first.body.value).toMatchObject({ sessionId: '', lastServerSeq: 0n, token: '', agent: 'x/1' });
    // The Hello holds a copy: the shared default list stays frozen and unshared.
    expect(resume.body.value.capabilities).toEqual([...DEFAULT_CAPABILITIES]);
    expect(resume.body.value.capabilities).not.toBe(DEFAULT_CAPABILITIES);
  });

  test('HB-6 a HeartbeatAck echoes the Heartbeat\'s id and send time', () => {
    const env = heartbeatAckEnvelope(create(HeartbeatSchema, { id: 7, sentAtMs: 123n }));
    expect(env.body.case === 'heartbeatAck' && env.body.value).toMatchObject({ id: 7, echoSentAtMs: 123n });
  });

  test('HB-9 a Heartbeat carries the smoothed RTT, rounded, and 0 before any', () => {
    const a = heartbeatEnvelope(3, 1000.7, undefined);
    const b = heartbeatEnvelope(4, 2000, 12.5);
    expect(a.body.case === 'heartbeat' && a.body.value).toMatchObject({ id: 3, sentAtMs: 1000n, rttMs: 0 });
    expect(b.body.case === 'heartbeat' && b.body.value).toMatchObject({ id: 4, sentAtMs: 2000n, rttMs: 13 });
  });

  test('HB-9 the smoothed RTT is the first sample, then moves 1/8 of the way to each new one', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60_000 }), { minLength: 1, maxLength: 50 }), (samples) => {
        let srtt: number | undefined;
        for (const s of samples) {
          const next = smoothedRttAfter(srtt, s);
          expect(next).toBeCloseTo(srtt === undefined ? s : (7 * srtt + s) / 8, 9);
          srtt = next;
        }
      }),
    );
  });
});
