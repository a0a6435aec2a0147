/**
 * The fast path is only allowed to exist if it is indistinguishable from
 * protobuf-es: same bytes out, same Envelope in, and for anything unusual it
 * steps aside (undefined) so that protobuf-es decides, unknown fields and
 * errors included. protobuf-es's toBinary/fromBinary are the oracle here.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  AckSchema,
  EnvelopeSchema,
  HeartbeatAckSchema,
  HeartbeatSchema,
  MessageSchema,
  StatePatchSchema,
  type Envelope,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode, validate, type DecodeResult } from './codec.js';
import { ProtocolError } from './errors.js';
import { ackEnvelope, decodeFast, encodeFast, messageEnvelope, messageFrameBytes } from './fast-codec.js';

// --- arbitraries: every field over its whole range, edges weighted in ---------

const U64_MAX = (1n << 64n) - 1n;
// Every power of two and its predecessor: each varint length boundary, each 32-bit split.
const pow2Edges = (bits: number) =>
  Array.from({ length: bits + 1 }, (_, k) => [(1n << BigInt(k)) - 1n, 1n << BigInt(k)]).flat().filter((v) => v < 1n << BigInt(bits));
const u32 = fc.oneof(
  fc.constantFrom(...pow2Edges(32).map(Number)),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0, max: 300 }),
);
const u64 = fc.oneof(
  fc.constantFrom(...pow2Edges(64)),
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.bigInt({ min: 0n, max: 1n << 40n }),
);
// ASCII, any code point, and raw UTF-16 units (lone surrogates, which both
// encoders turn into U+FFFD), short and past the 32-char ASCII fast paths.
const text = fc.oneof(
  fc.constant(''),
  // Few distinct values of equal length, so the decoder's string cache hits and misses.
  fc.constantFrom('demo.ticker', 'demo.tickes', 'demo.counter', 'ab', 'ba', 'é', 'e\u0301', 'x'.repeat(64), 'y'.repeat(64)),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 100, maxLength: 300 }),
);
const bytes = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 }));

const hotBodies = {
  heartbeat: fc.record({ id: u32, sentAtMs: u64, rttMs: u32 }).map((v) => create(HeartbeatSchema, v)),
  heartbeatAck: fc.record({ id: u32, echoSentAtMs: u64, intervalMs: u32 }).map((v) => create(HeartbeatAckSchema, v)),
  ack: fc.record({ seq: u64 }).map((v) => create(AckSchema, v)),
  message: fc
    .record({ seq: u64, messageId: text, channel: text, key: text, payload: bytes, droppedBefore: u32 })
    .map((v) => create(MessageSchema, v)),
  statePatch: fc
    .record({
      seq: u64, messageId: text, channel: text, baseVersion: u64, version: u64, delta: bytes, digest: u32,
      droppedBefore: u32,
    })
    .map((v) => create(StatePatchSchema, v)),
};
type HotCase = keyof typeof hotBodies;
const hotCases = Object.keys(hotBodies) as HotCase[];

const arbHot: fc.Arbitrary<Envelope> = fc.oneof(
  ...hotCases.map((c) =>
    (hotBodies[c] as fc.Arbitrary<object>).map((value) =>
      create(EnvelopeSchema, { body: { case: c, value } as Envelope['body'] } as never),
    ),
  ),
);

// --- helpers ------------------------------------------------------------------

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function varint(v: bigint | number): number[] {
  let n = BigInt(v);
  const out: number[] = [];
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

/** protobuf-es alone: throws where it throws. */
function slowDecode(b: Uint8Array): { ok: true; env: Envelope } | { ok: false } {
  try {
    return { ok: true, env: fromBinary(EnvelopeSchema, b) };
  } catch {
    return { ok: false };
  }
}

/** What codec.decode returned before the fast path existed (size limit aside). */
function referenceDecode(b: Uint8Array): DecodeResult {
  let envelope: Envelope;
  try {
    envelope = fromBinary(EnvelopeSchema, b);
  } catch (err) {
    const why = err instanceof Error ? err.message : 'undecodable';
    return { ok: false, error: new ProtocolError('INVALID_PAYLOAD', 'WIRE-2', `not an Envelope: ${why}`) };
  }
  const problem = validate(envelope);
  return problem ? { ok: false, error: problem } : { ok: true, envelope };
}

type EncodeOutcome = { bytes: string } | { error: string; code: number } | { threw: string };

/** What codec.encode did before the fast path existed. */
function referenceEncode(env: Envelope): EncodeOutcome {
  let problem: ProtocolError | undefined;
  try {
    problem = validate(env);
  } catch (err) {
    return { threw: String(err) }; // validate() itself chokes on a null string
  }
  if (problem) return { error: problem.message, code: problem.code };
  try {
    return { bytes: hex(toBinary(EnvelopeSchema, env)) };
  } catch (err) {
    const e = new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', err instanceof Error ? err.message : 'unencodable');
    return { error: e.message, code: e.code };
  }
}

function actualEncode(env: Envelope): EncodeOutcome {
  try {
    return { bytes: hex(encode(env)) };
  } catch (err) {
    if (!(err instanceof ProtocolError)) return { threw: String(err) };
    return { error: err.message, code: err.code };
  }
}

function sameDecodeResult(actual: DecodeResult, expected: DecodeResult): void {
  expect(actual.ok).toBe(expected.ok);
  if (actual.ok && expected.ok) expect(actual.envelope).toStrictEqual(expected.envelope);
  if (!actual.ok && !expected.ok) {
    expect(actual.error).toBeInstanceOf(ProtocolError);
    expect([actual.error.code, actual.error.closeName, actual.error.spec, actual.error.message]).toEqual([
      expected.error.code, expected.error.closeName, expected.error.spec, expected.error.message,
    ]);
  }
}

/** The property every input must satisfy: fast accepts only what slow accepts, identically. */
function checkAgainstSlow(b: Uint8Array): void {
  const fast = decodeFast(b);
  const slow = slowDecode(b);
  if (fast !== undefined) {
    expect(slow.ok, `fast path accepted what protobuf-es rejects: ${hex(b)}`).toBe(true);
    if (slow.ok) expect(fast).toStrictEqual(slow.env);
  }
  sameDecodeResult(decode(b), referenceDecode(b));
}

// --- properties ---------------------------------------------------------------

describe('fast codec', () => {
  test('WIRE-1 encodeFast writes exactly the bytes of protobuf-es toBinary for every hot body', () => {
    fc.assert(
      fc.property(arbHot, (env) => {
        const fast = encodeFast(env);
        expect(fast, 'hot body must take the fast path').toBeDefined();
        expect(hex(fast as Uint8Array)).toBe(hex(toBinary(EnvelopeSchema, env)));
        expect(fast).toBeInstanceOf(Uint8Array);
      }),
      { numRuns: 3000 },
    );
  });

  test('WIRE-1 decodeFast returns exactly what fromBinary returns, from a Uint8Array, a Buffer or an offset view', () => {
    fc.assert(
      fc.property(arbHot, fc.nat({ max: 16 }), (env, offset) => {
        const canonical = toBinary(EnvelopeSchema, env);
        const inBigger = new Uint8Array(offset + canonical.length + 3);
        inBigger.set(canonical, offset);
        for (const b of [canonical, Buffer.from(canonical), inBigger.subarray(offset, offset + canonical.length)]) {
          const fast = decodeFast(b);
          expect(fast, 'canonical bytes must take the fast path').toBeDefined();
          expect(fast).toStrictEqual(fromBinary(EnvelopeSchema, b));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('WIRE-1 absent bytes fields decode to the same shared empty array protobuf-es uses', () => {
    for (const env of [
      create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema, { seq: 1n }) } }),
      create(EnvelopeSchema, { body: { case: 'statePatch', value: create(StatePatchSchema, { seq: 1n }) } }),
    ]) {
      const b = toBinary(EnvelopeSchema, env);
      const fast = decodeFast(b);
      const slow = fromBinary(EnvelopeSchema, b);
      expect(fast).toBeDefined();
      const get = (e: Envelope) =>
        e.body.case === 'message' ? e.body.value.payload : e.body.case === 'statePatch' ? e.body.value.delta : undefined;
      expect(get(fast as Envelope)).toBe(get(slow));
    }
  });

  test('WIRE-1 WIRE-5 codec.encode keeps its bytes and its errors for out-of-range and mistyped values', () => {
    const bad: unknown[] = [2n ** 64n, -1n, 5, '5', undefined, 2 ** 32, -1, 1.5, NaN, '7', null, new Uint16Array(2), 'x'];
    const fields: Record<HotCase, string[]> = {
      heartbeat: ['id', 'sentAtMs', 'rttMs'],
      heartbeatAck: ['id', 'echoSentAtMs', 'intervalMs'],
      ack: ['seq'],
      message: ['seq', 'messageId', 'channel', 'key', 'payload', 'droppedBefore'],
      statePatch: ['seq', 'messageId', 'channel', 'baseVersion', 'version', 'delta', 'digest', 'droppedBefore'],
    };
    fc.assert(
      fc.property(arbHot, fc.constantFrom(...bad), fc.nat(), (env, value, pick) => {
        const body = env.body.value as Record<string, unknown>;
        const names = fields[env.body.case as HotCase];
        const name = names[pick % names.length] as string;
        const broken = { ...env, body: { ...env.body, value: { ...body, [name]: value } } } as Envelope;
        // A value that happens to fit (a string in a string field) may take the fast
        // path, but then its bytes must be protobuf-es's; anything else falls back.
        const fast = encodeFast(broken);
        if (fast !== undefined) expect(hex(fast)).toBe(hex(toBinary(EnvelopeSchema, broken)));
        expect(actualEncode(broken)).toEqual(referenceEncode(broken));
      }),
      { numRuns: 1000 },
    );
  });

  test('WIRE-6 envelopes carrying unknown fields or foreign type names are encoded by protobuf-es, unchanged', () => {
    fc.assert(
      fc.property(arbHot, fc.integer({ min: 0, max: 3 }), (env, how) => {
        const unknown = [{ no: 99, wireType: 0, data: new Uint8Array([7]) }];
        const value = env.body.value as object;
        const variants: Envelope[] = [
          { ...env, $unknown: unknown },
          { ...env, body: { ...env.body, value: { ...value, $unknown: unknown } } } as Envelope,
          { ...env, $typeName: 'lifeline.v1.Other' } as unknown as Envelope,
          { ...env, body: { ...env.body, value: { ...value, $typeName: 'lifeline.v1.Hello' } } } as Envelope,
        ];
        const v = variants[how] as Envelope;
        expect(encodeFast(v)).toBeUndefined();
        expect(actualEncode(v)).toEqual(referenceEncode(v));
      }),
      { numRuns: 500 },
    );
  });

  test('WIRE-6 unknown fields in the body or the envelope fall back to protobuf-es, which keeps them', () => {
    const unknownField = fc
      .record({
        no: fc.oneof(fc.integer({ min: 9, max: 15 }), fc.integer({ min: 16, max: 2 ** 29 - 1 })),
        wire: fc.constantFrom(0, 1, 2, 5),
        payload: fc.uint8Array({ maxLength: 12 }),
        v: u64,
      })
      .map(({ no, wire, payload, v }) => {
        const tag = varint((BigInt(no) << 3n) | BigInt(wire));
        if (wire === 0) return [...tag, ...varint(v)];
        if (wire === 1) return [...tag, ...[...payload, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8)];
        if (wire === 5) return [...tag, ...[...payload, 0, 0, 0, 0].slice(0, 4)];
        return [...tag, ...varint(payload.length), ...payload];
      });
    fc.assert(
      fc.property(arbHot, unknownField, fc.integer({ min: 0, max: 3 }), (env, extra, where) => {
        const canonical = toBinary(EnvelopeSchema, env);
        let b: Uint8Array;
        if (where >= 2) {
          // Envelope level: before or after the body (field numbers 13+ are unknown there).
          const e = extra.slice();
          b = new Uint8Array(where === 2 ? [...e, ...canonical] : [...canonical, ...e]);
          if (decodeFast(b) !== undefined) {
            // A field number 9..12 is a known Envelope body: protobuf-es takes the last body.
            expect(decodeFast(b)).toStrictEqual(fromBinary(EnvelopeSchema, b));
          }
        } else {
          // Body level: first or last field of the body.
          const tag = canonical[0] as number;
          let p = 1;
          while ((canonical[p++] as number) & 0x80);
          const body = [...canonical.subarray(p)];
          const inner = where === 0 ? [...extra, ...body] : [...body, ...extra];
          b = new Uint8Array([tag, ...varint(inner.length), ...inner]);
          expect(decodeFast(b), 'an unknown body field must fall back').toBeUndefined();
          const slow = fromBinary(EnvelopeSchema, b);
          expect((slow.body.value as { $unknown?: unknown[] }).$unknown?.length).toBe(1);
        }
        checkAgainstSlow(b);
        // Re-encoding what protobuf-es kept gives protobuf-es's bytes (fallback on $unknown).
        const r = decode(b);
        if (r.ok) expect(hex(encode(r.envelope))).toBe(hex(toBinary(EnvelopeSchema, r.envelope)));
      }),
      { numRuns: 1500 },
    );
  });

  test('WIRE-2 mutated frames (truncated, flipped, inserted, deleted, appended bytes): the fast path never accepts what protobuf-es rejects, and decode() is unchanged', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('xor' as const), at: fc.nat(), value: fc.constantFrom(1, 2, 4, 7, 0x80) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
    );
    fc.assert(
      fc.property(arbHot, fc.array(mutation, { minLength: 1, maxLength: 3 }), (env, muts) => {
        let b = [...toBinary(EnvelopeSchema, env)];
        for (const m of muts) {
          const at = b.length === 0 ? 0 : ('at' in m ? m.at : 0) % b.length;
          if (m.kind === 'truncate') b = b.slice(0, at);
          else if (m.kind === 'set') b[at] = m.value;
          else if (m.kind === 'xor') b[at] = ((b[at] ?? 0) ^ m.value) & 0xff;
          else if (m.kind === 'insert') b.splice(at, 0, ...m.bytes);
          else if (m.kind === 'delete') b.splice(at, 1);
          else b.push(...m.bytes);
        }
        checkAgainstSlow(new Uint8Array(b));
      }),
      { numRuns: 4000 },
    );
  });

  test('WIRE-2 WIRE-6 field soup (any field, any wire type, any order, repeats, lying lengths, overlong or unterminated varints, invalid UTF-8) matches protobuf-es', () => {
    const rawVarint = fc.oneof(
      u64.map((v) => varint(v)),
      // Non-minimal: padded with 0x80 continuation bytes and a final 0x00.
      fc.tuple(u64, fc.integer({ min: 1, max: 4 })).map(([v, pad]) => {
        const bs = varint(v);
        bs[bs.length - 1] = (bs[bs.length - 1] as number) | 0x80;
        for (let i = 1; i < pad; i++) bs.push(0x80);
        bs.push(0);
        return bs;
      }),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 11 }),
    );
    const payload = fc.oneof(
      text.map((s) => [...new TextEncoder().encode(s)]),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
      fc.constantFrom([0xc3], [0xff, 0xfe], [0xed, 0xa0, 0x80], [0xef, 0xbb, 0xbf, 0x41]), // bad/edge UTF-8, BOM
    );
    const field = fc
      .record({
        no: fc.integer({ min: 1, max: 17 }),
        wire: fc.oneof(fc.constantFrom(0, 1, 2, 5), fc.integer({ min: 0, max: 7 })),
        v: rawVarint,
        data: payload,
        lie: fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 3 })),
      })
      .map(({ no, wire, v, data, lie }) => {
        const tag = varint((no << 3) | wire);
        switch (wire) {
          case 0: return [...tag, ...v];
          case 1: return [...tag, ...data.slice(0, 8)];
          case 5: return [...tag, ...data.slice(0, 4)];
          case 2: return [...tag, ...varint(Math.max(0, data.length + lie)), ...data];
          default: return [...tag, ...data.slice(0, 2)];
        }
      });
    fc.assert(
      fc.property(
        fc.constantFrom(0x1a, 0x22, 0x2a, 0x32, 0x3a),
        fc.array(field, { maxLength: 8 }),
        fc.integer({ min: -2, max: 2 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }),
        (tag, fields, lie, trailing) => {
          const body = fields.flat();
          const len = Math.max(0, body.length + lie);
          checkAgainstSlow(new Uint8Array([tag, ...varint(len), ...body, ...trailing]));
          checkAgainstSlow(new Uint8Array([tag, ...varint(body.length), ...body]));
        },
      ),
      { numRuns: 4000 },
    );
  });

  test('WIRE-2 fixed malformed examples fall back to protobuf-es and keep its error class', () => {
    const examples: number[][] = [
      [0x2a, 0x02, 0x08, 0x80], // Ack.seq varint truncated inside the body
      [0x2a, 0x03, 0x08, 0x80], // body length runs past the end
      [0x2a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], // 10th byte > 1: slow truncates
      [0x2a, 0x0c, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11-byte varint
      [0x1a, 0x06, 0x08, 0xff, 0xff, 0xff, 0xff, 0x1f], // uint32 with bits above 32: slow truncates
      [0x1a, 0x02, 0x0a, 0x00], // Heartbeat.id with wire type 2
      [0x1a, 0x04, 0x08, 0x01, 0x08, 0x02], // repeated field: last wins on the slow path
      [0x1a, 0x04, 0x10, 0x01, 0x08, 0x02], // out of order
      [0x3a, 0x05, 0x1a, 0x03, 0x61, 0xff, 0x62], // invalid UTF-8 in StatePatch.channel
      [0x3a, 0x03, 0x3d, 0x01, 0x02], // fixed32 digest truncated
      [0x1a, 0x00, 0x1a, 0x00], // two bodies
      [0x1a, 0x00, 0x22, 0x00], // two different bodies: the last wins
      [0x1a, 0x80, 0x00], // non-minimal length prefix
      [0x1a], // no length
    ];
    let fellBack = 0;
    for (const e of examples) {
      const b = new Uint8Array(e);
      if (decodeFast(b) === undefined) fellBack++;
      checkAgainstSlow(b);
    }
    // All but the non-minimal length prefix fall back (that one decodes identically).
    expect(fellBack).toBeGreaterThanOrEqual(examples.length - 1);
  });
  test('WIRE-1 messageEnvelope and ackEnvelope build exactly what create() builds', () => {
    fc.assert(
      fc.property(hotBodies.message, u64, (m, seq) => {
        const built = messageEnvelope(m.seq, m.messageId, m.channel, m.key, m.payload, m.droppedBefore);
        expect(built).toStrictEqual(create(EnvelopeSchema, { body: { case: 'message', value: m } }));
        expect(hex(encodeFast(built) as Uint8Array)).toBe(hex(toBinary(EnvelopeSchema, built)));
        expect(ackEnvelope(seq)).toStrictEqual(create(EnvelopeSchema, { body: { case: 'ack', value: create(AckSchema, { seq }) } }));
      }),
      { numRuns: 1000 },
    );
  });

  test('WIRE-4 messageFrameBytes is the length of the frame protobuf-es writes', () => {
    fc.assert(
      fc.property(hotBodies.message, u64, (m, other) => {
        const env = create(EnvelopeSchema, { body: { case: 'message', value: m } });
        expect(messageFrameBytes(m)).toBe(toBinary(EnvelopeSchema, env).byteLength);
        const atOther = create(EnvelopeSchema, { body: { case: 'message', value: { ...m, seq: other } } });
        expect(messageFrameBytes(m, other)).toBe(toBinary(EnvelopeSchema, atOther).byteLength);
        expect(messageFrameBytes(m, other)).toBe(toBinary(EnvelopeSchema, atOther).byteLength); // the kept answer
      }),
      { numRuns: 2000 },
    );
    const foreign = { ...create(MessageSchema, { seq: 1n }), $unknown: [{ no: 99, wireType: 0, data: new Uint8Array([1]) }] };
    expect(messageFrameBytes(foreign)).toBeUndefined(); // unusual: the caller measures with encode()
  });

  test('WIRE-1 frames carved from the shared slab never overlap: every frame kept keeps its bytes', () => {
    const kept: [Uint8Array, string][] = [];
    for (let i = 0; i < 400; i++) {
      const payload = new Uint8Array((i * 97) % 4200).fill(i & 0xff);
      const env = messageEnvelope(BigInt(i + 1), `id-${i}`, 'ch', '', payload, 0);
      kept.push([encode(env), hex(toBinary(EnvelopeSchema, env))]);
    }
    for (const [frame, want] of kept) expect(hex(frame)).toBe(want);
  });
});
