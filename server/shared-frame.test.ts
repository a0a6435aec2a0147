import { clone, create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { EnvelopeSchema, MessageSchema, type Envelope } from '../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../spec/protocol/codec.js';
import { arbEnvelope } from '../spec/protocol/arbitraries.js';
import { sharedFrame } from './shared-frame.js';
import { Harness } from '../test/support/server.js';

type Sequenced = Envelope & { body: { case: 'message' | 'statePatch' } };

const h = new Harness();
afterEach(() => h.cleanup());

describe('encode once per fan-out', () => {
  test('SEQ-2 BP-10 every delivery is byte-identical to encoding the body with its own seq and dropped_before', () => {
    fc.assert(
      fc.property(
        arbEnvelope(['message', 'statePatch']),
        fc.array(
          fc.tuple(
            // Mostly seqs the splice writes itself; some beyond 2^53 go to the codec.
            fc.oneof({ weight: 9, arbitrary: fc.bigInt({ min: 1n, max: BigInt(Number.MAX_SAFE_INTEGER) }) }, { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }) }),
            fc.oneof(fc.constant(0), fc.nat(), fc.constant(0xffffffff)),
          ),
          { minLength: 1, maxLength: 5 },
        ),
        (env, deliveries) => {
          const frame = sharedFrame(clone(EnvelopeSchema, env) as Sequenced);
          for (const [seq, dropped] of deliveries) {
            const expected = clone(EnvelopeSchema, env) as Sequenced;
            expected.body.value.seq = seq;
            expected.body.value.droppedBefore = dropped;
            expect(Buffer.from(frame.encode(seq, dropped)).equals(Buffer.from(encode(expected)))).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a body with unknown fields falls back to the codec for every delivery', () => {
    const env = create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { channel: 'c', payload: new Uint8Array([1]) }) } }) as Sequenced;
    env.body.value.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    const frame = sharedFrame(env);
    const expected = clone(EnvelopeSchema, env) as Sequenced;
    expected.body.value.seq = 7n;
    expect(Buffer.from(frame.encode(7n, 0)).equals(Buffer.from(encode(expected)))).toBe(true);
  });

  test('SEQ-2 CH-1 fan-out deliveries carry each subscriber its own seq and the same body', async () => {
    const srv = await h.server({ snapshot: () => undefined });
    const a = await h.session(srv, { channels: ['feed'] });
    const b = await h.session(srv, { channels: ['feed', 'other'] });
    const c = await h.session(srv, { channels: ['feed'] });
    await srv.publish('other', { payload: new Uint8Array([0]) }); // b's seqs run one ahead
    for (let i = 1; i <= 3; i++) await srv.publish('feed', { payload: new Uint8Array([i]), key: 'k', messageId: `m${i}` });
    for (const [client, first] of [[a, 1n], [b, 2n], [c, 1n]] as const) {
      const got = (await client.waitForCount('message', first === 2n ? 4 : 3)).filter((m) => m.channel === 'feed');
      expect(got.map((m) => [m.seq, m.payload[0], m.key, m.messageId])).toEqual([
        [first, 1, 'k', 'm1'],
        [first + 1n, 2, 'k', 'm2'],
        [first + 2n, 3, 'k', 'm3'],
      ]);
    }
  });
});
