/**
 * The handshake fast path (handshake-codec.ts) may only exist if it is indistinguishable from
 * protobuf-es: same bytes out, same Envelope in, and for anything unusual it steps aside
 * (undefined) so that protobuf-es decides. protobuf-es's create/toBinary/fromBinary are the oracle.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { EnvelopeSchema, HelloSchema, ResumeResultSchema, WelcomeSchema, type BackpressurePolicy, type Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from './codec.js';
import { decodeHandshake, encodeHandshake, helloEnvelope, welcomeEnvelope, type HelloFields, type WelcomeFields } from './handshake-codec.js';

const U64_MAX = (1n << 64n) - 1n;
const pow2Edges = (bits: number) =>
  Array.from({ length: bits + 1 }, (_, k) => [(1n << BigInt(k)) - 1n, 1n << BigInt(k)]).flat().filter((v) => v < 1n << BigInt(bits));
const u32 = fc.oneof(fc.constantFrom(...pow2Edges(32).map(Number)), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 300 }));
const u64 = fc.oneof(fc.constantFrom(...pow2Edges(64)), fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: 1n << 45n }));
// Enums: every value protobuf-es may hold, unknown ones and int32's top included.
const enumV = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(0x7f, 0x80, 0x3fff, 0x4000, 0x0fffffff, 0x10000000, 0x7fffffff));
const text = fc.oneof(
  fc.constant(''),
  fc.constantFrom('state', 'drain', 'subscribed', 'lifeline-js/0.1', 'é', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(300)),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
);
const texts = fc.array(text, { maxLength: 5 });

const arbHelloFields: fc.Arbitrary<HelloFields> = fc.record({
  protocolVersion: u32,
  sessionId: text,
  lastServerSeq: u64,
  receiveWindow: u32,
  token: text,
  capabilities: texts,
  channels: texts,
  preferredPolicy: enumV,
  agent: text,
});
const arbResume = fc.record({ outcome: enumV, reason: enumV, fromSeq: u64, replayed: u32 });
const arbWelcomeFields: fc.Arbitrary<WelcomeFields> = fc.record({
  sessionId: text,
  heartbeatIntervalMs: u32,
  heartbeatMissedMax: u32,
  maxPayloadBytes: u32,
  resumeTtlMs: u32,
  replayWindowMessages: u32,
  resume: arbResume,
  lastClientSeq: u64,
  receiveWindow: u32,
  policy: enumV,
  queueLimitMessages: u32,
  serverTimeMs: u64,
  heartbeatIntervalMaxMs: u32,
  clientAckDelayMs: u32,
  capabilities: texts,
});

const helloOf = (f: HelloFields): Envelope => create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, f) } });
const welcomeOf = (f: WelcomeFields, withResume = true): Envelope => {
  const { resume, ...rest } = f;
  const value = create(WelcomeSchema, withResume ? { ...rest, resume: create(ResumeResultSchema, resume) } : rest);
  return create(EnvelopeSchema, { body: { case: 'welcome', value } });
};
const arbHandshake: fc.Arbitrary<Envelope> = fc.oneof(
  arbHelloFields.map(helloOf),
  fc.tuple(arbWelcomeFields, fc.boolean()).map(([f, r]) => welcomeOf(f, r)),
);

const hex = (b: Uint8Array | undefined) => (b === undefined ? 'undefined' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));

function hasWideEnum(env: Envelope): boolean {
  const v = env.body.value as { preferredPolicy?: number; policy?: number; resume?: { outcome: number; reason: number } };
  return [v.preferredPolicy, v.policy, v.resume?.outcome, v.resume?.reason].some((e) => e !== undefined && e >= 2 ** 28);
}

function slowDecode(b: Uint8Array): Envelope | undefined {
  try {
    return fromBinary(EnvelopeSchema, b);
  } catch {
    return undefined;
  }
}

describe('handshake codec: Hello and Welcome by hand, equal to protobuf-es', () => {
  test('WIRE-1 encodeHandshake writes exactly the bytes toBinary writes, for every Hello and Welcome', () => {
    fc.assert(
      fc.property(arbHandshake, (env) => {
        expect(hex(encodeHandshake(env))).toBe(hex(toBinary(EnvelopeSchema, env)));
      }),
      { numRuns: 3000 },
    );
  });

  test('WIRE-1 decodeHandshake reads exactly what fromBinary reads, for every Hello and Welcome', () => {
    fc.assert(
      fc.property(arbHandshake, (env) => {
        const b = toBinary(EnvelopeSchema, env);
        const fast = decodeHandshake(b);
        // Not vacuous: every plain encoding takes the fast path, but for enums of 2²⁸ and up.
        if (!hasWideEnum(env)) expect(fast).toBeDefined();
        if (fast !== undefined) expect(fast).toStrictEqual(fromBinary(EnvelopeSchema, b));
      }),
      { numRuns: 3000 },
    );
  });

  test('WIRE-2 WIRE-6 on damaged or unusual bytes decodeHandshake steps aside or agrees with fromBinary', () => {
    const damaged = fc.tuple(arbHandshake, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat(), fc.uint8Array({ maxLength: 4 })).map(([env, flips, cut, extra]) => {
      const b = toBinary(EnvelopeSchema, env);
      for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
      const kept = b.subarray(0, b.length - (cut % 3 === 0 ? cut % (b.length + 1) : 0));
      const out = new Uint8Array(kept.length + extra.length);
      out.set(kept);
      out.set(extra, kept.length);
      return out;
    });
    const anyBytes = fc.tuple(fc.constantFrom(0x0a, 0x12), fc.uint8Array({ maxLength: 60 })).map(([t, rest]) => Uint8Array.of(t, rest.length, ...rest));
    fc.assert(
      fc.property(fc.oneof(damaged, anyBytes), (b) => {
        const fast = decodeHandshake(b);
        if (fast === undefined) return;
        const slow = slowDecode(b);
        expect(slow).toBeDefined(); // never accepts what protobuf-es rejects
        expect(fast).toStrictEqual(slow);
      }),
      { numRuns: 5000 },
    );
  });

  test('WIRE-6 unknown fields, duplicates, wide varints and other bodies go to protobuf-es', () => {
    const hello = helloOf({ protocolVersion: 1, sessionId: 's', lastServerSeq: 3n, receiveWindow: 256, token: '', capabilities: ['state'], channels: [], preferredPolicy: 0, agent: 'a' });
    const b = toBinary(EnvelopeSchema, hello);
    const withUnknown = Uint8Array.of(0x0a, b[1] as number + 2, ...b.subarray(2), 0x78, 0x01); // field 15 of Hello
    expect(decodeHandshake(withUnknown)).toBeUndefined();
    expect(fromBinary(EnvelopeSchema, withUnknown).body.value).toHaveProperty('$unknown');
    const dup = Uint8Array.of(0x0a, 4, 0x08, 0x01, 0x08, 0x02); // protocol_version twice: last wins in protobuf-es
    expect(decodeHandshake(dup)).toBeUndefined();
    const wide = Uint8Array.of(0x0a, 7, 0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00); // a 6-byte uint32
    expect(decodeHandshake(wide)).toBeUndefined();
    expect(decodeHandshake(Uint8Array.of(0x1a, 0))).toBeUndefined(); // a Heartbeat
    const env = welcomeOf({ sessionId: 'x', heartbeatIntervalMs: 1, heartbeatMissedMax: 2, maxPayloadBytes: 3, resumeTtlMs: 4, replayWindowMessages: 5, resume: { outcome: 1, reason: 1, fromSeq: 0n, replayed: 0 }, lastClientSeq: 0n, receiveWindow: 0, policy: 0, queueLimitMessages: 0, serverTimeMs: 0n, heartbeatIntervalMaxMs: 0, clientAckDelayMs: 0, capabilities: [] });
    (env.body.value as { $unknown?: unknown }).$unknown = [{ no: 99, wireType: 0, data: Uint8Array.of(1) }];
    expect(encodeHandshake(env)).toBeUndefined();
    const neg = helloOf({ protocolVersion: 1, sessionId: '', lastServerSeq: 0n, receiveWindow: 0, token: '', capabilities: [], channels: [], preferredPolicy: -1 as BackpressurePolicy, agent: '' });
    expect(encodeHandshake(neg)).toBeUndefined(); // a negative enum: protobuf-es writes 10 bytes
    expect(encodeHandshake(create(EnvelopeSchema, { body: { case: 'ack', value: { seq: 1n } } }))).toBeUndefined();
  });

  test('WIRE-5 values out of a field\'s range step aside, so codec.encode throws what protobuf-es throws', () => {
    const env = helloOf({ protocolVersion: 1, sessionId: '', lastServerSeq: 0n, receiveWindow: 0, token: '', capabilities: [], channels: [], preferredPolicy: 0, agent: '' });
    (env.body.value as { receiveWindow: number }).receiveWindow = 2 ** 32;
    expect(encodeHandshake(env)).toBeUndefined();
    expect(() => encode(env)).toThrow(/WIRE-5/);
  });

  test('helloEnvelope and welcomeEnvelope equal create() for the same fields', () => {
    fc.assert(
      fc.property(arbHelloFields, arbWelcomeFields, (h, w) => {
        expect(helloEnvelope(h)).toStrictEqual(helloOf(h));
        expect(welcomeEnvelope(w)).toStrictEqual(welcomeOf(w));
      }),
      { numRuns: 500 },
    );
  });

  test('codec.decode of a Welcome through the fast path is what protobuf-es and validate() give', () => {
    fc.assert(
      fc.property(arbWelcomeFields, (f) => {
        const b = toBinary(EnvelopeSchema, welcomeOf(f));
        const r = decode(b, { from: 'server', maxPayloadBytes: 1 << 20 });
        const slow = fromBinary(EnvelopeSchema, b);
        if (r.ok) expect(r.envelope).toStrictEqual(slow);
      }),
      { numRuns: 500 },
    );
  });
});
