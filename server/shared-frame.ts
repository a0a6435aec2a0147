/**
 * Encode once per fan-out (issue 3 follow-up): a published Message or StatePatch is the same
 * for every subscriber except its seq (SEQ-2, given at the socket) and dropped_before (BP-10).
 * The codec encodes it once, with seq 1 and dropped_before 0; each delivery then writes the
 * Envelope header, the seq field, the shared bytes and the dropped_before field.
 *
 * Why: measured with fake sockets (bench/perf/encode-once.ts, fanout-cpu.ts), creating the
 * Message and Envelope objects, validating and encoding them per delivery cost 0.6 µs of a
 * 1.4–2.9 µs server-side delivery; the splice costs about a third of that.
 *
 * The bytes are exactly what `encode()` (spec/protocol/codec.ts, the only encoder) produces for
 * the same body with that seq and dropped_before: protobuf writes fields in number order, seq is
 * field 1 (first) and dropped_before the highest field of both bodies (last). shared-frame.test.ts
 * checks the identity over arbitrary bodies; anything unusual falls back to encode() per delivery.
 */
import type { Envelope } from '../gen/lifeline/v1/envelope_pb.js';
import { encode } from '../spec/protocol/codec.js';
import { allocFrame } from '../spec/protocol/fast-codec.js';

/** What one published item shares between its deliveries (server.publish sets it). */
export interface FanOutShare {
  /** Deliveries written so far: the first encodes as usual, the second builds the frame. */
  writes: number;
  frame: SharedFrame | undefined;
}

/** One body's bytes for any seq and dropped_before. */
export interface SharedFrame {
  encode(seq: bigint, droppedBefore: number): Uint8Array;
}

type Sequenced = Extract<Envelope['body'], { case: 'message' | 'statePatch' }>;

// Field tags: Message.dropped_before = 6 and StatePatch.dropped_before = 8, both varint.
const DROPPED_TAG = { message: 0x30, statePatch: 0x40 } as const;
const SEQ_TAG = 0x08; // field 1, varint
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER); // once, not a BigInt per delivery

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * A SharedFrame for a Message or StatePatch envelope (its seq and dropped_before are ignored).
 * Throws what encode() throws for an invalid body.
 */
export function sharedFrame(env: Envelope & { body: Sequenced }): SharedFrame {
  const body = env.body;
  const once = (seq: bigint, droppedBefore: number) => {
    body.value.seq = seq;
    body.value.droppedBefore = droppedBefore;
    return encode(env);
  };
  const template = once(1n, 0);
  // [envelope tag][length varint][0x08 0x01][shared fields…]
  let pos = 1;
  while (pos < template.length && (template[pos] as number) >= 0x80) pos++;
  pos++;
  const envelopeTag = template[0] as number;
  const isPlain = template[pos] === SEQ_TAG && template[pos + 1] === 1 && env.$unknown === undefined && body.value.$unknown === undefined;
  if (!isPlain) return { encode: once }; // unknown fields or another layout: the codec every time
  const shared = template.slice(pos + 2);
  const droppedTag = DROPPED_TAG[body.case];
  return {
    encode(seq, droppedBefore) {
      if (seq > MAX_SAFE || seq < 1n || droppedBefore > 0xffffffff) return once(seq, droppedBefore);
      const s = Number(seq);
      const inner = 1 + varintSize(s) + shared.length + (droppedBefore === 0 ? 0 : 1 + varintSize(droppedBefore));
      // From the codec's slab: an array of its own past 64 B costs ~0.7 µs (an off-heap backing store, fast-codec.ts).
      const out = allocFrame(1 + varintSize(inner) + inner);
      let p = 0;
      out[p++] = envelopeTag;
      p = writeVarint(out, p, inner);
      out[p++] = SEQ_TAG;
      p = writeVarint(out, p, s);
      out.set(shared, p);
      p += shared.length;
      if (droppedBefore !== 0) {
        out[p++] = droppedTag;
        writeVarint(out, p, droppedBefore);
      }
      return out;
    },
  };
}
