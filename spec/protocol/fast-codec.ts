/**
 * Hand-written Protobuf writer and reader for the hot bodies (Heartbeat,
 * HeartbeatAck, Ack, Message, StatePatch), used by codec.ts in front of
 * protobuf-es. protobuf-es allocates a BinaryWriter (and a DataView per reader)
 * per call and is 2–3× slower than JSON on these small frames (STACK-NOTES
 * "Codec speed", issue 7); these run several times faster than JSON.
 *
 * Contract (proven by fast-codec.test.ts against toBinary/fromBinary):
 * - `encodeFast` returns exactly the bytes `toBinary(EnvelopeSchema, env)` would,
 *   or `undefined` whenever the envelope is anything but the plain case (another
 *   body, `$unknown` fields, a value of the wrong type or out of range): the
 *   caller then uses protobuf-es, so its errors stay the same.
 * - `decodeFast` returns exactly what `fromBinary(EnvelopeSchema, bytes)` would,
 *   or `undefined` for any input it does not fully understand (unknown fields,
 *   duplicate or out-of-order fields, wrong wire types, non-minimal tags,
 *   truncation, trailing bytes, invalid UTF-8, varints protobuf-es would
 *   truncate): the caller then uses protobuf-es, so unknown-field preservation
 *   (WIRE-6) and every decode error (WIRE-2) stay the same. It never accepts
 *   what the slow path rejects.
 * Neither validates (WIRE-3 … WIRE-7): codec.ts runs the same `validate()` on
 * both paths. Browser-safe: TextEncoder/TextDecoder only.
 */
import { create, protoInt64 } from '@bufbuild/protobuf';
import {
  MessageSchema,
  StatePatchSchema,
  type Ack,
  type Envelope,
  type Heartbeat,
  type HeartbeatAck,
  type Message,
  type StatePatch,
} from '../../gen/lifeline/v1/envelope_pb.js';

// protobuf-es maps uint64 to strings when BigInt is missing (or BUF_BIGINT_DISABLE=1);
// the fast path only speaks bigint, so it steps aside then.
const ENABLED = protoInt64.supported;

// Literal types: the compiler checks each name against the generated message type.
const T_ENVELOPE: Envelope['$typeName'] = 'lifeline.v1.Envelope';
const T_HEARTBEAT: Heartbeat['$typeName'] = 'lifeline.v1.Heartbeat';
const T_HEARTBEAT_ACK: HeartbeatAck['$typeName'] = 'lifeline.v1.HeartbeatAck';
const T_ACK: Ack['$typeName'] = 'lifeline.v1.Ack';
const T_MESSAGE: Message['$typeName'] = 'lifeline.v1.Message';
const T_STATE_PATCH: StatePatch['$typeName'] = 'lifeline.v1.StatePatch';

// protobuf-es shares one zero-length array per bytes field between messages it
// creates; an absent field decodes to that same instance on the slow path.
const EMPTY_PAYLOAD = create(MessageSchema).payload;
const EMPTY_DELTA = create(StatePatchSchema).delta;

// Envelope tags: field number << 3 | wire type 2 (length-delimited).
const TAG_HEARTBEAT = 0x1a; // 3
const TAG_HEARTBEAT_ACK = 0x22; // 4
const TAG_ACK = 0x2a; // 5
const TAG_MESSAGE = 0x32; // 6
const TAG_STATE_PATCH = 0x3a; // 7

const U64_MAX = 0xffffffffffffffffn;
const U32_MAX_N = 0xffffffffn;
const TWO_32 = 0x100000000;

const utf8Encoder = new TextEncoder();
// Same settings as protobuf-es for proto3 strings (utf8_validation = VERIFY):
// fatal on invalid UTF-8, and a leading U+FEFF is text, not a byte-order mark.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

function isU32(v: unknown): v is number {
  // Same range as protobuf-es's assertUInt32, minus its string coercion (→ slow path).
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= U64_MAX;
}

function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

// A uint64 split into 32-bit halves, set by split(). Module state instead of an
// object per field keeps the encoder allocation-free apart from its output.
let LO = 0;
let HI = 0;
function split(v: bigint): void {
  if (v <= U32_MAX_N) {
    LO = Number(v);
    HI = 0;
  } else if (v <= 0x1fffffffffffffn) {
    const n = Number(v);
    LO = n >>> 0;
    HI = (n - LO) / TWO_32;
  } else {
    LO = Number(v & U32_MAX_N);
    HI = Number(v >> 32n);
  }
}

function varint64Size(lo: number, hi: number): number {
  if (hi === 0) return varint32Size(lo);
  return hi < 0x8 ? 5 : hi < 0x400 ? 6 : hi < 0x20000 ? 7 : hi < 0x1000000 ? 8 : hi < 0x80000000 ? 9 : 10;
}

function writeVarint32(buf: Uint8Array, pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeVarint64(buf: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi !== 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/** UTF-8 byte length of an ASCII string, or -1 when it has a non-ASCII unit. */
function asciiLength(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return -1;
  return s.length;
}

function writeAscii(buf: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

/**
 * A string field ready to write: ASCII goes byte by byte; anything else is
 * encoded once with TextEncoder, as protobuf-es does (lone surrogates → U+FFFD).
 */
class Str {
  len = 0;
  utf8: Uint8Array | undefined = undefined;
  set(s: string): void {
    const n = asciiLength(s);
    if (n >= 0) {
      this.len = n;
      this.utf8 = undefined;
    } else {
      this.utf8 = utf8Encoder.encode(s);
      this.len = this.utf8.length;
    }
  }
  /** Tag + length + bytes, 0 when the field is omitted (empty string). */
  size(): number {
    return this.len === 0 ? 0 : 1 + varint32Size(this.len) + this.len;
  }
  write(buf: Uint8Array, pos: number, tag: number, s: string): number {
    if (this.len === 0) return pos;
    buf[pos++] = tag;
    pos = writeVarint32(buf, pos, this.len);
    if (this.utf8 === undefined) return writeAscii(buf, pos, s);
    buf.set(this.utf8, pos);
    return pos + this.len;
  }
}
const strA = new Str();
const strB = new Str();
const strC = new Str();

function bytesFieldSize(b: Uint8Array): number {
  return b.length === 0 ? 0 : 1 + varint32Size(b.length) + b.length;
}

// Output buffers. V8 keeps typed arrays of ≤ 64 bytes on the JS heap (~30 ns),
// but a larger one gets its own zeroed off-heap backing store, measured at
// ~700 ns for 90 bytes as for 1,100: more than the whole Message encode. Frames
// of 65 B … 4 KiB are therefore carved from a 32 KiB slab, bump-allocated and
// never reused, as Node's Buffer pool does: each frame is a view of its own
// bytes; a frame kept alive (replay buffer) pins at most its slab. A view made
// with `new Uint8Array(buffer, offset, length)` costs ~30 ns, half a
// `subarray()` (measured, issue 7 echo: 1 KiB echoes spent 0.7 µs per frame here).
const SLAB_BYTES = 32 * 1024;
const SLAB_MAX_FRAME = 4 * 1024;
let slab = new ArrayBuffer(0);
let slabPos = 0;
/** `n` bytes for a frame: from the slab when 65 B … 4 KiB (above), else an array of its own. Also server/shared-frame.ts's. */
export function allocFrame(n: number): Uint8Array {
  if (n <= 64 || n > SLAB_MAX_FRAME) return new Uint8Array(n);
  if (slabPos + n > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabPos = 0;
  }
  const out = new Uint8Array(slab, slabPos, n);
  slabPos += n;
  return out;
}

/** Envelope header (body tag + body length) followed by the body. */
function frame(tag: number, bodyLen: number): { buf: Uint8Array; pos: number } {
  const buf = allocFrame(1 + varint32Size(bodyLen) + bodyLen);
  buf[0] = tag;
  HDR.buf = buf;
  HDR.pos = writeVarint32(buf, 1, bodyLen);
  return HDR;
}
const HDR: { buf: Uint8Array; pos: number } = { buf: new Uint8Array(0), pos: 0 };

function encodeHeartbeatLike(
  tag: number,
  id: unknown,
  at: unknown,
  third: unknown,
): Uint8Array | undefined {
  if (!isU32(id) || !isU64(at) || !isU32(third)) return undefined;
  split(at);
  const lo = LO;
  const hi = HI;
  const atSize = lo === 0 && hi === 0 ? 0 : 1 + varint64Size(lo, hi);
  const len = (id === 0 ? 0 : 1 + varint32Size(id)) + atSize + (third === 0 ? 0 : 1 + varint32Size(third));
  const { buf } = frame(tag, len);
  let pos = HDR.pos;
  if (id !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint32(buf, pos, id);
  }
  if (atSize !== 0) {
    buf[pos++] = 0x10;
    pos = writeVarint64(buf, pos, lo, hi);
  }
  if (third !== 0) {
    buf[pos++] = 0x18;
    writeVarint32(buf, pos, third);
  }
  return buf;
}

function encodeHeartbeat(v: Heartbeat): Uint8Array | undefined {
  if (v.$typeName !== T_HEARTBEAT || v.$unknown !== undefined) return undefined;
  return encodeHeartbeatLike(TAG_HEARTBEAT, v.id, v.sentAtMs, v.rttMs);
}

function encodeHeartbeatAck(v: HeartbeatAck): Uint8Array | undefined {
  if (v.$typeName !== T_HEARTBEAT_ACK || v.$unknown !== undefined) return undefined;
  return encodeHeartbeatLike(TAG_HEARTBEAT_ACK, v.id, v.echoSentAtMs, v.intervalMs);
}

function encodeAck(v: Ack): Uint8Array | undefined {
  if (v.$typeName !== T_ACK || v.$unknown !== undefined) return undefined;
  const seq: unknown = v.seq;
  if (!isU64(seq)) return undefined;
  if (seq === 0n) return new Uint8Array([TAG_ACK, 0]);
  split(seq);
  const n = varint64Size(LO, HI);
  const { buf } = frame(TAG_ACK, 1 + n);
  buf[HDR.pos] = 0x08;
  writeVarint64(buf, HDR.pos + 1, LO, HI);
  return buf;
}

/**
 * Checks the fast path's conditions for a Message and sizes its body without the seq field;
 * -1 = step aside. Leaves the strings measured in strA…strC.
 */
function sizeMessageRest(v: Message): number {
  if (v.$typeName !== T_MESSAGE || v.$unknown !== undefined) return -1;
  const seq: unknown = v.seq;
  const messageId: unknown = v.messageId;
  const channel: unknown = v.channel;
  const key: unknown = v.key;
  const payload: unknown = v.payload;
  const dropped: unknown = v.droppedBefore;
  if (
    !isU64(seq) || typeof messageId !== 'string' || typeof channel !== 'string' || typeof key !== 'string' ||
    !(payload instanceof Uint8Array) || !isU32(dropped)
  ) {
    return -1;
  }
  strA.set(messageId);
  strB.set(channel);
  strC.set(key);
  return strA.size() + strB.size() + strC.size() + bytesFieldSize(payload) + (dropped === 0 ? 0 : 1 + varint32Size(dropped));
}

/** Checks and sizes a Message body; leaves its seq split in LO/HI. -1 = step aside. */
function sizeMessage(v: Message): number {
  const rest = sizeMessageRest(v);
  if (rest < 0) return -1;
  split(v.seq);
  return (LO === 0 && HI === 0 ? 0 : 1 + varint64Size(LO, HI)) + rest;
}

function encodeMessage(v: Message): Uint8Array | undefined {
  const len = sizeMessage(v);
  if (len < 0) return undefined;
  // sizeMessage left seq split in LO/HI and the strings measured in strA…strC.
  const sLo = LO;
  const sHi = HI;
  const { messageId, channel, key, payload, droppedBefore: dropped } = v;
  const { buf } = frame(TAG_MESSAGE, len);
  let pos = HDR.pos;
  if (sLo !== 0 || sHi !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint64(buf, pos, sLo, sHi);
  }
  pos = strA.write(buf, pos, 0x12, messageId);
  pos = strB.write(buf, pos, 0x1a, channel);
  pos = strC.write(buf, pos, 0x22, key);
  if (payload.length !== 0) {
    buf[pos++] = 0x2a;
    pos = writeVarint32(buf, pos, payload.length);
    buf.set(payload, pos);
    pos += payload.length;
  }
  if (dropped !== 0) {
    buf[pos++] = 0x30;
    writeVarint32(buf, pos, dropped);
  }
  return buf;
}

/**
 * The length of the frame `encode()` would write for this Message were its seq `seq` (default its
 * own), without writing it: the client checks WIRE-4 at the largest seq when a send is accepted,
 * and encoding to measure cost a copy of the payload (issue 7). undefined when the fast path would
 * step aside: the caller then encodes to measure.
 */
export function messageFrameBytes(v: Message, seq: bigint = v.seq): number | undefined {
  if (!ENABLED || !isU64(seq)) return undefined;
  const rest = sizeMessageRest(v);
  if (rest < 0) return undefined;
  const len = seqFieldBytes(seq) + rest;
  return 1 + varint32Size(len) + len;
}

// The client sizes every send at the same (largest) seq: splitting it is bigint work, so the last
// answer is kept.
let sizedSeq = -1n;
let sizedSeqBytes = 0;
function seqFieldBytes(seq: bigint): number {
  if (seq !== sizedSeq) {
    split(seq);
    sizedSeqBytes = LO === 0 && HI === 0 ? 0 : 1 + varint64Size(LO, HI);
    sizedSeq = seq;
  }
  return sizedSeqBytes;
}

function encodeStatePatch(v: StatePatch): Uint8Array | undefined {
  if (v.$typeName !== T_STATE_PATCH || v.$unknown !== undefined) return undefined;
  const seq: unknown = v.seq;
  const messageId: unknown = v.messageId;
  const channel: unknown = v.channel;
  const base: unknown = v.baseVersion;
  const version: unknown = v.version;
  const delta: unknown = v.delta;
  const digest: unknown = v.digest;
  const dropped: unknown = v.droppedBefore;
  if (
    !isU64(seq) || typeof messageId !== 'string' || typeof channel !== 'string' || !isU64(base) ||
    !isU64(version) || !(delta instanceof Uint8Array) || !isU32(digest) || !isU32(dropped)
  ) {
    return undefined;
  }
  split(seq);
  const sLo = LO;
  const sHi = HI;
  split(base);
  const bLo = LO;
  const bHi = HI;
  split(version);
  const vLo = LO;
  const vHi = HI;
  strA.set(messageId);
  strB.set(channel);
  const len =
    (sLo === 0 && sHi === 0 ? 0 : 1 + varint64Size(sLo, sHi)) +
    strA.size() + strB.size() +
    (bLo === 0 && bHi === 0 ? 0 : 1 + varint64Size(bLo, bHi)) +
    (vLo === 0 && vHi === 0 ? 0 : 1 + varint64Size(vLo, vHi)) +
    bytesFieldSize(delta) +
    (digest === 0 ? 0 : 5) +
    (dropped === 0 ? 0 : 1 + varint32Size(dropped));
  const { buf } = frame(TAG_STATE_PATCH, len);
  let pos = HDR.pos;
  if (sLo !== 0 || sHi !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint64(buf, pos, sLo, sHi);
  }
  pos = strA.write(buf, pos, 0x12, messageId);
  pos = strB.write(buf, pos, 0x1a, channel);
  if (bLo !== 0 || bHi !== 0) {
    buf[pos++] = 0x20;
    pos = writeVarint64(buf, pos, bLo, bHi);
  }
  if (vLo !== 0 || vHi !== 0) {
    buf[pos++] = 0x28;
    pos = writeVarint64(buf, pos, vLo, vHi);
  }
  if (delta.length !== 0) {
    buf[pos++] = 0x32;
    pos = writeVarint32(buf, pos, delta.length);
    buf.set(delta, pos);
    pos += delta.length;
  }
  if (digest !== 0) {
    // fixed32, little-endian
    buf[pos++] = 0x3d;
    buf[pos++] = digest & 0xff;
    buf[pos++] = (digest >>> 8) & 0xff;
    buf[pos++] = (digest >>> 16) & 0xff;
    buf[pos++] = digest >>> 24;
  }
  if (dropped !== 0) {
    buf[pos++] = 0x40;
    writeVarint32(buf, pos, dropped);
  }
  return buf;
}

/**
 * The bytes protobuf-es's `toBinary(EnvelopeSchema, env)` would produce for a
 * hot body, or `undefined` to send the caller to protobuf-es.
 */
export function encodeFast(env: Envelope): Uint8Array | undefined {
  if (!ENABLED || env.$typeName !== T_ENVELOPE || env.$unknown !== undefined) return undefined;
  const body = env.body;
  switch (body.case) {
    case 'heartbeat':
      return encodeHeartbeat(body.value);
    case 'heartbeatAck':
      return encodeHeartbeatAck(body.value);
    case 'ack':
      return encodeAck(body.value);
    case 'message':
      return encodeMessage(body.value);
    case 'statePatch':
      return encodeStatePatch(body.value);
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------
// Building hot envelopes
// ---------------------------------------------------------------------------

/** A Message envelope whose body is certain to be a Message. */
export type MessageEnvelope = Envelope & { body: { case: 'message'; value: Message } };

/**
 * Exactly what `create(EnvelopeSchema, { body: { case: 'message', value: create(MessageSchema,
 * { seq, messageId, channel, key, payload, droppedBefore }) } })` returns (plain objects, fields
 * in schema order), built as literals: create() walks the schema on every call, 3–5 % of the echo
 * CPU on each side (issue 7). fast-codec.test.ts proves the two equal.
 */
export function messageEnvelope(
  seq: bigint,
  messageId: string,
  channel: string,
  key: string,
  payload: Uint8Array,
  droppedBefore: number,
): MessageEnvelope {
  const value: Message = { $typeName: T_MESSAGE, seq, messageId, channel, key, payload, droppedBefore };
  return { $typeName: T_ENVELOPE, body: { case: 'message', value } };
}

/** Exactly what `create(EnvelopeSchema, { body: { case: 'ack', value: create(AckSchema, { seq }) } })` returns. */
export function ackEnvelope(seq: bigint): Envelope {
  const value: Ack = { $typeName: T_ACK, seq };
  return { $typeName: T_ENVELOPE, body: { case: 'ack', value } };
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

// Read cursor; every reader below returns a sentinel (-1 / undefined) on
// anything unusual, and decodeFast then returns undefined.
let P = 0;

/**
 * A uint32 varint of at most 5 bytes whose 5th byte carries only the top 4 bits.
 * Longer or wider ones protobuf-es truncates or rejects: leave those to it.
 */
function readU32(buf: Uint8Array, end: number): number {
  let pos = P;
  let result = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    const b = buf[pos++] as number;
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      P = pos;
      return result >>> 0;
    }
  }
  if (pos >= end) return -1;
  const b = buf[pos++] as number;
  if (b > 0x0f) return -1;
  P = pos;
  return (result >>> 0) + b * 0x10000000;
}

/** A uint64 varint of at most 10 bytes whose 10th byte is 0 or 1. */
function readU64(buf: Uint8Array, end: number): bigint | undefined {
  let pos = P;
  // Up to 4 bytes fit in lo without sign trouble: the common case (seq, versions).
  let lo = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return undefined;
    const b = buf[pos++] as number;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) {
      P = pos;
      return BigInt(lo);
    }
  }
  // Beyond 28 bits: accumulate exactly in a float while below 2^53, then bigint.
  let n = lo;
  let mul = 0x10000000; // 2^28
  for (let i = 4; i < 10; i++) {
    if (pos >= end) return undefined;
    const b = buf[pos++] as number;
    if (i === 9 && b > 1) return undefined;
    if (i >= 7) {
      // Bits from 49 up: switch to bigint for exactness.
      return readU64Big(buf, end, BigInt(n), pos - 1, i);
    }
    n += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      P = pos;
      return BigInt(n);
    }
  }
  return undefined;
}

function readU64Big(buf: Uint8Array, end: number, acc: bigint, pos: number, i: number): bigint | undefined {
  let shift = BigInt(7 * i);
  for (; i < 10; i++) {
    if (pos >= end) return undefined;
    const b = buf[pos++] as number;
    if (i === 9 && b > 1) return undefined;
    acc |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if (b < 0x80) {
      P = pos;
      return acc;
    }
  }
  return undefined;
}

/** Length of a length-delimited field that fits before `end`, or -1. */
function readLen(buf: Uint8Array, end: number): number {
  const n = readU32(buf, end);
  return n < 0 || n > end - P ? -1 : n;
}

/**
 * Last string decoded for a field whose values repeat (channel, key): bytes
 * compared against the cache cost ~17 ns against ~40–90 ns to build the string
 * (measured, bench/codec.bench.ts). Only short strings are cached.
 */
class StringCache {
  bytes = new Uint8Array(0);
  str = '';
}
const CACHE_MAX_BYTES = 64;
const channelCache = new StringCache();
const keyCache = new StringCache();

/** A proto3 string (strict UTF-8 like protobuf-es), or undefined. */
function readString(buf: Uint8Array, end: number, cache?: StringCache): string | undefined {
  const n = readLen(buf, end);
  if (n < 0) return undefined;
  const start = P;
  const stop = start + n;
  P = stop;
  if (cache !== undefined && n === cache.bytes.length) {
    const c = cache.bytes;
    let i = 0;
    while (i < n && c[i] === buf[start + i]) i++;
    if (i === n) return cache.str;
  }
  let s = n <= 32 ? asciiString(buf, start, stop) : undefined;
  if (s === undefined) {
    s = decodeUtf8(buf, start, stop);
    if (s === undefined) return undefined;
  }
  if (cache !== undefined && n <= CACHE_MAX_BYTES) {
    cache.bytes = buf.slice(start, stop);
    cache.str = s;
  }
  return s;
}

/** Short ASCII without TextDecoder's call overhead; undefined at the first non-ASCII byte. */
// One code array per length (≤ 32), reused: a new array per string was the largest temporary of a
// decoded Message (its message_id, issue 7). Single-threaded and never kept past the call.
const CODES: number[][] = Array.from({ length: 33 }, (_, n) => new Array<number>(n).fill(0));

function asciiString(buf: Uint8Array, start: number, stop: number): string | undefined {
  const codes = CODES[stop - start] ?? new Array<number>(stop - start);
  for (let i = start; i < stop; i++) {
    const b = buf[i] as number;
    if (b > 0x7f) return undefined;
    codes[i - start] = b;
  }
  return String.fromCharCode.apply(null, codes);
}

function decodeUtf8(buf: Uint8Array, start: number, stop: number): string | undefined {
  try {
    return utf8Decoder.decode(buf.subarray(start, stop));
  } catch {
    return undefined; // invalid UTF-8: protobuf-es throws, so it must decide
  }
}

/**
 * A bytes field: a view into the input, exactly as protobuf-es returns it (`subarray`). Of a plain
 * Uint8Array (what the client decodes) the same view is built directly, half the cost of subarray()'s
 * species lookup (see allocFrame); a subclass (the server's Buffers) keeps subarray(), so its type.
 */
function readBytes(buf: Uint8Array, end: number): Uint8Array | undefined {
  const n = readLen(buf, end);
  if (n < 0) return undefined;
  const start = P;
  P = start + n;
  return buf.constructor === Uint8Array ? new Uint8Array(buf.buffer, buf.byteOffset + start, n) : buf.subarray(start, P);
}

/**
 * Heartbeat and HeartbeatAck share a shape: uint32 = 1, uint64 = 2, uint32 = 3.
 * Returns false on anything unusual; the fields land in HB.
 */
const HB = { a: 0, b: 0n, c: 0 };
function readHeartbeatLike(buf: Uint8Array, end: number): boolean {
  let a = 0;
  let b = 0n;
  let c = 0;
  let last = 0;
  while (P < end) {
    const tag = buf[P++] as number;
    // Fields in increasing order, each once: what every encoder writes. Anything
    // else (repeats merge, unknowns are kept) is protobuf-es's business.
    if (tag <= last) return false;
    last = tag;
    if (tag === 0x08) {
      a = readU32(buf, end);
      if (a < 0) return false;
    } else if (tag === 0x10) {
      const v = readU64(buf, end);
      if (v === undefined) return false;
      b = v;
    } else if (tag === 0x18) {
      c = readU32(buf, end);
      if (c < 0) return false;
    } else {
      return false;
    }
  }
  HB.a = a;
  HB.b = b;
  HB.c = c;
  return true;
}

function decodeHeartbeat(buf: Uint8Array, end: number): Envelope | undefined {
  if (!readHeartbeatLike(buf, end)) return undefined;
  const value: Heartbeat = { $typeName: T_HEARTBEAT, id: HB.a, sentAtMs: HB.b, rttMs: HB.c };
  return { $typeName: T_ENVELOPE, body: { case: 'heartbeat', value } };
}

function decodeHeartbeatAck(buf: Uint8Array, end: number): Envelope | undefined {
  if (!readHeartbeatLike(buf, end)) return undefined;
  const value: HeartbeatAck = { $typeName: T_HEARTBEAT_ACK, id: HB.a, echoSentAtMs: HB.b, intervalMs: HB.c };
  return { $typeName: T_ENVELOPE, body: { case: 'heartbeatAck', value } };
}

function decodeAck(buf: Uint8Array, end: number): Envelope | undefined {
  let seq = 0n;
  if (P < end) {
    if (buf[P++] !== 0x08) return undefined;
    const v = readU64(buf, end);
    if (v === undefined || P !== end) return undefined;
    seq = v;
  }
  const value: Ack = { $typeName: T_ACK, seq };
  return { $typeName: T_ENVELOPE, body: { case: 'ack', value } };
}

/** The fields of a Message body, as readMessageBody() leaves them. */
export interface MessageFields {
  readonly seq: bigint;
  readonly messageId: string;
  readonly channel: string;
  readonly key: string;
  readonly payload: Uint8Array;
  readonly droppedBefore: number;
}

// The last Message body read: module state like P, so that a reader who wants its own object (the
// client's event, issue 16) does not pay for the Message and Envelope objects first.
const MSG = { seq: 0n, messageId: '', channel: '', key: '', payload: EMPTY_PAYLOAD, droppedBefore: 0 };

/** Reads a Message body into MSG; false on anything unusual (MSG then holds nothing of use). */
function readMessageBody(buf: Uint8Array, end: number): boolean {
  let seq = 0n;
  let messageId = '';
  let channel = '';
  let key = '';
  let payload = EMPTY_PAYLOAD;
  let droppedBefore = 0;
  let last = 0;
  while (P < end) {
    const tag = buf[P++] as number;
    if (tag <= last) return false;
    last = tag;
    switch (tag) {
      case 0x08: {
        const v = readU64(buf, end);
        if (v === undefined) return false;
        seq = v;
        break;
      }
      case 0x12: {
        const v = readString(buf, end);
        if (v === undefined) return false;
        messageId = v;
        break;
      }
      case 0x1a: {
        const v = readString(buf, end, channelCache);
        if (v === undefined) return false;
        channel = v;
        break;
      }
      case 0x22: {
        const v = readString(buf, end, keyCache);
        if (v === undefined) return false;
        key = v;
        break;
      }
      case 0x2a: {
        const v = readBytes(buf, end);
        if (v === undefined) return false;
        payload = v;
        break;
      }
      case 0x30:
        droppedBefore = readU32(buf, end);
        if (droppedBefore < 0) return false;
        break;
      default:
        return false;
    }
  }
  MSG.seq = seq;
  MSG.messageId = messageId;
  MSG.channel = channel;
  MSG.key = key;
  MSG.payload = payload;
  MSG.droppedBefore = droppedBefore;
  return true;
}

function decodeMessage(buf: Uint8Array, end: number): Envelope | undefined {
  if (!readMessageBody(buf, end)) return undefined;
  const value: Message = {
    $typeName: T_MESSAGE, seq: MSG.seq, messageId: MSG.messageId, channel: MSG.channel, key: MSG.key, payload: MSG.payload,
    droppedBefore: MSG.droppedBefore,
  };
  return { $typeName: T_ENVELOPE, body: { case: 'message', value } };
}

function decodeStatePatch(buf: Uint8Array, end: number): Envelope | undefined {
  let seq = 0n;
  let messageId = '';
  let channel = '';
  let baseVersion = 0n;
  let version = 0n;
  let delta = EMPTY_DELTA;
  let digest = 0;
  let droppedBefore = 0;
  let last = 0;
  while (P < end) {
    const tag = buf[P++] as number;
    if (tag <= last) return undefined;
    last = tag;
    switch (tag) {
      case 0x08: {
        const v = readU64(buf, end);
        if (v === undefined) return undefined;
        seq = v;
        break;
      }
      case 0x12: {
        const v = readString(buf, end);
        if (v === undefined) return undefined;
        messageId = v;
        break;
      }
      case 0x1a: {
        const v = readString(buf, end, channelCache);
        if (v === undefined) return undefined;
        channel = v;
        break;
      }
      case 0x20: {
        const v = readU64(buf, end);
        if (v === undefined) return undefined;
        baseVersion = v;
        break;
      }
      case 0x28: {
        const v = readU64(buf, end);
        if (v === undefined) return undefined;
        version = v;
        break;
      }
      case 0x32: {
        const v = readBytes(buf, end);
        if (v === undefined) return undefined;
        delta = v;
        break;
      }
      case 0x3d: {
        if (end - P < 4) return undefined;
        digest = ((buf[P] as number) | ((buf[P + 1] as number) << 8) | ((buf[P + 2] as number) << 16) |
          ((buf[P + 3] as number) << 24)) >>> 0;
        P += 4;
        break;
      }
      case 0x40:
        droppedBefore = readU32(buf, end);
        if (droppedBefore < 0) return undefined;
        break;
      default:
        return undefined;
    }
  }
  const value: StatePatch = {
    $typeName: T_STATE_PATCH, seq, messageId, channel, baseVersion, version, delta, digest, droppedBefore,
  };
  return { $typeName: T_ENVELOPE, body: { case: 'statePatch', value } };
}

/**
 * What protobuf-es's `fromBinary(EnvelopeSchema, bytes)` would return for one
 * plainly encoded hot body, or `undefined` to send the caller to protobuf-es.
 */
export function decodeFast(bytes: Uint8Array): Envelope | undefined {
  if (!ENABLED || bytes.length < 2) return undefined;
  const tag = bytes[0] as number;
  if (tag < TAG_HEARTBEAT || tag > TAG_STATE_PATCH || (tag & 7) !== 2) return undefined;
  const end = bytes.length;
  P = 1;
  const len = readU32(bytes, end);
  // Exactly one body filling the frame: a second field (a repeated body merges,
  // another body replaces it, an unknown one is kept) is protobuf-es's business.
  if (len < 0 || P + len !== end) return undefined;
  switch (tag) {
    case TAG_HEARTBEAT:
      return decodeHeartbeat(bytes, end);
    case TAG_HEARTBEAT_ACK:
      return decodeHeartbeatAck(bytes, end);
    case TAG_ACK:
      return decodeAck(bytes, end);
    case TAG_MESSAGE:
      return decodeMessage(bytes, end);
    default:
      return decodeStatePatch(bytes, end);
  }
}

/** The fields readMessageFrame() read; valid until the next decode. */
export const messageFields: MessageFields = MSG;

/**
 * True when `bytes` is a Message frame decodeFast() reads, its fields then in `messageFields` (until
 * the next decode): exactly those of `decodeFast(bytes)`'s Message, the same reader, without the
 * Message and Envelope objects. False for every other frame, nothing decided: the caller decodes it.
 * The client's inbound fast path (client/connection.ts, issue 16).
 */
export function readMessageFrame(bytes: Uint8Array): boolean {
  if (!ENABLED || bytes.length < 2 || bytes[0] !== TAG_MESSAGE) return false;
  const end = bytes.length;
  P = 1;
  const len = readU32(bytes, end);
  if (len < 0 || P + len !== end) return false; // as decodeFast: one body filling the frame
  return readMessageBody(bytes, end);
}
