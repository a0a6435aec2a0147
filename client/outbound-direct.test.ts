import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ResumeOutcome, ResumeResultSchema, WelcomeSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { decodeOrThrow, encode } from '../spec/protocol/codec.js';
import { messageEnvelope } from '../spec/protocol/fast-codec.js';
import { Outbound } from './outbound.js';

/**
 * Issue 16: a send meeting an empty queue with the window open is written at once (Outbound.send),
 * and a queued message is encoded without encode()'s second validate(). Both are proven here equal
 * to the slow path (every message through the queue, encode() in full) over random histories of
 * sends, acks, reconnects and resumes: the same frames written, in the same order, the same
 * messages settled the same way, the same counters.
 */

type Op =
  | { t: 'send'; size: number; channel: string; key: string; id: string | undefined }
  | { t: 'ack' }
  | { t: 'detach' }
  | { t: 'attach'; window: number; maxPayloadBytes: number; resume: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('send' as const),
      size: fc.oneof(fc.nat(80), fc.constantFrom(0, 200, 1_000, 1_100)),
      channel: fc.constantFrom('', 'a', 'chat/ü'),
      key: fc.constantFrom('', 'k'),
      id: fc.option(fc.constantFrom('m1', 'm2', 'ünï', 'x'.repeat(300)), { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ t: 'ack' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'detach' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('attach' as const),
      window: fc.constantFrom(1, 2, 3, 256),
      maxPayloadBytes: fc.constantFrom(1_100, 1_080, 65_536),
      resume: fc.boolean(),
    }),
  },
);

function run(ops: readonly Op[], mayWriteDirect: boolean, ackPick: readonly number[]): string[] {
  const log: string[] = [];
  const ob = new Outbound({ queueLimitMessages: 6, idPrefix: 'p-', mayWriteDirect });
  let sent: bigint[] = [];
  let acked = 0n;
  let attached = false;
  let a = 0;
  const write = (bytes: Uint8Array) => {
    log.push(`w ${Buffer.from(bytes).toString('hex')}`);
    // What encode() (validate() and all) writes for the Envelope these bytes carry.
    expect(Buffer.from(encode(decodeOrThrow(bytes, { from: 'client', maxPayloadBytes: 1 << 20 }))).equals(bytes)).toBe(true);
    // The seq a server would see (the frames are Messages; the seq is the first field).
    sent.push(ob.lastSentSeq);
  };
  for (const o of ops) {
    switch (o.t) {
      case 'send': {
        const payload = new Uint8Array(o.size).map((_, i) => i & 0xff);
        const id = ob.send(payload, { channel: o.channel, key: o.key, ...(o.id !== undefined && { messageId: o.id }) }, (err, messageId) =>
          log.push(`settled ${messageId} ${err === undefined ? 'ok' : err.name}`),
        );
        log.push(`id ${id}`);
        break;
      }
      case 'ack': {
        if (!attached || sent.length === 0) break;
        const last = sent[Math.min(sent.length - 1, (ackPick[a++ % ackPick.length] as number) % sent.length)] as bigint;
        if (last > acked && last <= ob.lastSentSeq) {
          ob.onAck(last);
          acked = last;
        }
        break;
      }
      case 'detach':
        ob.detach();
        attached = false;
        break;
      case 'attach': {
        const resume = o.resume && attached === false && ob.lastSentSeq > 0n;
        const welcome = create(WelcomeSchema, {
          receiveWindow: o.window,
          maxPayloadBytes: o.maxPayloadBytes,
          lastClientSeq: resume ? ob.ackedSeq : 0n,
          resume: create(ResumeResultSchema, { outcome: resume ? ResumeOutcome.RESUMED : ResumeOutcome.NEW }),
        });
        if (!resume) {
          sent = [];
          acked = 0n;
        }
        ob.attach(welcome, write);
        attached = true;
        break;
      }
    }
    log.push(`q ${ob.queuedCount} f ${ob.inFlightCount} s ${ob.lastSentSeq} a ${ob.ackedSeq}`);
  }
  return log;
}

describe('Outbound direct write (issue 16)', () => {
  test('SEQ-2 BP-1 BP-13 WIRE-4 the direct write and the queue write the same frames and settle the same sends', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (ops, picks) => {
        expect(run(ops, true, picks)).toEqual(run(ops, false, picks));
      }),
      { numRuns: 400 },
    );
  });

  test('SEQ-2 a message is encoded as encode() would, seq and all', () => {
    const frames: Uint8Array[] = [];
    const ob = new Outbound({ queueLimitMessages: 10, idPrefix: 'p-' });
    ob.attach(create(WelcomeSchema, { receiveWindow: 4, resume: create(ResumeResultSchema, { outcome: ResumeOutcome.NEW }) }), (b) => frames.push(b));
    const payload = new Uint8Array([1, 2, 3]);
    ob.send(payload, { channel: 'c', key: 'k', messageId: 'id-1' }, () => {});
    ob.send(payload, undefined, () => {});
    expect(frames.map((f) => Buffer.from(f).toString('hex'))).toEqual([
      Buffer.from(encode(messageEnvelope(1n, 'id-1', 'c', 'k', payload, 0))).toString('hex'),
      Buffer.from(encode(messageEnvelope(2n, 'p-0', '', '', payload, 0))).toString('hex'),
    ]);
  });
});
