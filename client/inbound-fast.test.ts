/**
 * The client's inbound fast path (client/connection.ts receiveMessageFast, issue 16) reads a Message
 * frame straight into the application's event. It may exist only if nobody can tell: for any frames,
 * well formed or not, a client with it gives the same events (messages, errors, drift, states), sends
 * the same frames (Acks, drift reports, closes) and ends with the same seq and stats as one where
 * every frame takes the slow path (decode() → validate() → Inbound.receive()). And the bounded id
 * set behind SEQ-8 (client/recent-ids.ts) evicts exactly as the Set it replaced.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, test } from 'vitest';
import { EnvelopeSchema, MessageSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../spec/protocol/codec.js';
import { defaults } from '../spec/protocol/defaults.js';
import { env, fakeNetwork, flushMicrotasks, welcomeEnvelope, type FakeSocket } from '../test/support/client.js';
import { setInboundFastPath } from './connection.js';
import { createClient, type ClientEvent, type LifelineClient } from './create-client.js';
import { RecentIds } from './recent-ids.js';

afterEach(() => setInboundFastPath(true));

type Step =
  | { t: 'frame'; bytes: Uint8Array }
  | { t: 'wait'; ms: number };

// Room for a field past its WIRE-5 limit (257 B) in a frame within WIRE-4's, so both checks are reached.
const MAX_PAYLOAD = 600;
const text = (max: number) =>
  fc.oneof(
    fc.constantFrom('', 'sat', 'a/b', 'é', 'x'.repeat(Math.floor(max / 3)), 'y'.repeat(Math.floor(max / 3) + 1), 'z'.repeat(max + 1)),
    fc.string({ maxLength: 12 }),
  );
/** A Message's fields, at and past their limits (WIRE-5); its seq is set from the running count. */
const messageFields = () =>
  fc
    .record({
      channel: text(defaults.maxChannelBytes),
      key: text(defaults.maxKeyBytes),
      messageId: fc.oneof(
        { weight: 1, arbitrary: fc.constant('') },
        { weight: 4, arbitrary: fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'm6') }, // SEQ-8 repeats, window 3
        { weight: 1, arbitrary: text(defaults.maxMessageIdBytes) },
      ),
      payload: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ minLength: MAX_PAYLOAD - 30, maxLength: MAX_PAYLOAD + 10 })),
      droppedBefore: fc.oneof(fc.constant(0), fc.nat(), fc.constant(0xffffffff)),
    })
    .map((m) => m);

type Mangle =
  | readonly ['plain']
  | readonly ['flip', number, number]
  | readonly ['cut', number]
  | readonly ['append', Uint8Array]
  | readonly ['other', 'snapshot' | 'heartbeat' | 'ack' | 'welcome' | 'patch'];

const mangleArb: fc.Arbitrary<Mangle> = fc.oneof(
  // Mostly intact: a mangled frame usually closes the socket (WIRE-2), and a run ends there.
  { weight: 40, arbitrary: fc.constant(['plain'] as const) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('flip' as const), fc.nat(), fc.integer({ min: 1, max: 255 })) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('cut' as const), fc.nat()) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('append' as const), fc.uint8Array({ minLength: 1, maxLength: 4 })) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('other' as const), fc.constantFrom('snapshot', 'heartbeat', 'ack', 'welcome', 'patch' as const)) },
);

/** The seq relative to the next expected one: mostly next, as in real traffic. */
const deltaArb = fc.oneof(
  { weight: 30, arbitrary: fc.constant(0n) }, // next (SEQ-1)
  { weight: 2, arbitrary: fc.bigInt({ min: -3n, max: -1n }) }, // a duplicate (SEQ-3)
  { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 3n }) }, // a gap (SEQ-4)
  { weight: 1, arbitrary: fc.constant<'zero'>('zero') }, // seq 0 (SEQ-2)
);

function otherFrame(k: 'snapshot' | 'heartbeat' | 'ack' | 'welcome' | 'patch', next: bigint): Uint8Array {
  switch (k) {
    case 'snapshot':
      return encode(env.snapshot(next, '', 1n)); // a session re-baseline (SD-4)
    case 'patch':
      return encode(env.patch(next, 'ch', 0n, 1n, 'd'));
    case 'ack':
      return encode(env.ack(0n));
    case 'welcome':
      return encode(welcomeEnvelope({ sessionId: 'S' })); // a second Welcome (WIRE-7)
    default:
      return encode(env.of({ case: 'heartbeat', value: { id: 1, sentAtMs: 5n } }));
  }
}

/** Bytes the server might send, and pauses (ack timers): mostly Messages, some mangled, some other bodies. */
const stepsArb: fc.Arbitrary<Step[]> = fc
  .array(
    fc.oneof(
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 120 }).map((ms) => ({ wait: ms })) },
      { weight: 8, arbitrary: fc.record({ delta: deltaArb, m: messageFields(), how: mangleArb }) },
    ),
    { maxLength: 40 },
  )
  .map((list) => {
    let next = 1n;
    return list.map((x): Step => {
      if ('wait' in x) return { t: 'wait', ms: x.wait };
      const { delta, m, how } = x;
      const seq = delta === 'zero' ? 0n : next + delta < 0n ? 0n : next + delta;
      if (delta === 0n && how[0] === 'plain') next++;
      // protobuf-es itself: encode() would refuse what validate() refuses, and those must arrive too.
      const plain = toBinary(EnvelopeSchema, create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { ...m, seq }) } }));
      switch (how[0]) {
        case 'plain':
          return { t: 'frame', bytes: plain };
        case 'other':
          return { t: 'frame', bytes: otherFrame(how[1], next) };
        case 'flip': {
          const bytes = plain.slice();
          const i = how[1] % bytes.length;
          bytes[i] = ((bytes[i] as number) ^ how[2]) & 0xff;
          return { t: 'frame', bytes };
        }
        case 'cut':
          return { t: 'frame', bytes: plain.slice(0, how[1] % plain.length) };
        case 'append': {
          const bytes = new Uint8Array(plain.length + how[1].length);
          bytes.set(plain);
          bytes.set(how[1], plain.length);
          return { t: 'frame', bytes };
        }
      }
    });
  });

/** What can be compared of an event: errors by class, code and text. */
function comparable(e: ClientEvent<Uint8Array>): unknown {
  if (e.type === 'error') return { type: 'error', name: e.error.name, message: e.error.message, code: (e.error as { code?: unknown }).code };
  if (e.type === 'message') return { ...e, payloadType: e.payload.constructor.name };
  return e;
}

interface Side {
  readonly client: LifelineClient<Uint8Array>;
  readonly clock: SimulatedClock;
  readonly sock: FakeSocket;
  readonly events: unknown[];
}

async function side(): Promise<Side> {
  const net = fakeNetwork();
  const clock = new SimulatedClock();
  const client = createClient({
    url: 'ws://127.0.0.1:1/x', transport: net.transport, clock, random: () => 0.5, reconnectBaseMs: 60_000, reconnectCapMs: 60_000,
    ackDelayMs: 50, receiveWindow: 8, dedupeWindow: 3, maxPayloadBytes: MAX_PAYLOAD,
  });
  const events: unknown[] = [];
  client.onEvent((e) => events.push(comparable(e)));
  await flushMicrotasks();
  const sock = net.last;
  sock.open();
  sock.welcome({ sessionId: 'S', receiveWindow: 8 });
  return { client, clock, sock, events };
}

/** Run one side with the fast path on or off for every frame it reads. */
function feed(s: Side, step: Step, isFast: boolean): void {
  setInboundFastPath(isFast);
  try {
    if (step.t === 'wait') s.clock.increment(step.ms);
    else s.sock.deliverBytes(step.bytes);
  } finally {
    setInboundFastPath(true);
  }
}

describe('client inbound fast path', () => {
  test('SEQ-1 SEQ-3 SEQ-4 SEQ-5 SEQ-8 WIRE-2 WIRE-4 WIRE-5 a client reading Messages on the fast path gives the same events, frames, seq and stats as one on the slow path, for any frames', async () => {
    await fc.assert(
      fc.asyncProperty(stepsArb, async (steps) => {
        const fast = await side();
        const slow = await side();
        try {
          for (const step of steps) {
            feed(fast, step, true);
            feed(slow, step, false);
            await flushMicrotasks();
            expect(fast.events).toEqual(slow.events);
            expect(fast.sock.sent).toEqual(slow.sock.sent);
            expect(fast.sock.closedWith).toEqual(slow.sock.closedWith);
          }
          expect(fast.client.stats()).toEqual(slow.client.stats());
          expect(fast.client.state).toBe(slow.client.state);
        } finally {
          fast.client.close();
          slow.client.close();
        }
      }),
      { numRuns: 300 },
    );
  });

  test('SEQ-1 the fast path is taken: in-order Messages reach the application with their fields, payload a Uint8Array view', async () => {
    const s = await side();
    for (let i = 1n; i <= 3n; i++) s.sock.deliver(env.message(i, `p${i}`, { channel: 'sat', messageId: `id${i}` }));
    const got = s.events.filter((e) => (e as { type: string }).type === 'message');
    expect(got).toEqual([1n, 2n, 3n].map((seq) => ({
      type: 'message', seq, channel: 'sat', key: '', messageId: `id${seq}`, payload: new TextEncoder().encode(`p${seq}`), droppedBefore: 0, payloadType: 'Uint8Array',
    })));
    s.client.close();
  });
});

describe('RecentIds (SEQ-8)', () => {
  test('SEQ-8 answers and evicts exactly as a Set that drops its oldest id beyond the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), { maxLength: 80 }), (window, ids) => {
        const model = new Set<string>();
        const r = new RecentIds(window);
        for (const id of ids) {
          const isSeen = model.has(id);
          expect(r.has(id)).toBe(isSeen);
          if (isSeen) continue;
          model.add(id);
          if (model.size > window) model.delete(model.values().next().value as string);
          r.add(id);
          expect(r.size).toBe(model.size);
        }
        for (const id of 'abcdefgh') expect(r.has(id)).toBe(model.has(id));
      }),
      { numRuns: 500 },
    );
  });
});
