/**
 * Hand-written Protobuf writer and reader for the handshake bodies, Hello and Welcome (issue 16: time
 * to open 10,000 connections). Each connect builds, encodes and decodes one of each; protobuf-es's
 * reflective create(), toBinary() and fromBinary() walk the schema every time (about a tenth of the
 * reference client's CPU per connect beyond a bare ws, and of the server's Hello → Welcome path).
 *
 * Same contract as fast-codec.ts (proven by handshake-codec.test.ts against protobuf-es):
 * - `encodeHandshake` returns exactly the bytes `toBinary(EnvelopeSchema, env)` would, or undefined
 *   for anything but the plain case (another body, `$unknown` fields, a value of the wrong type or out
 *   of range): the caller then uses protobuf-es, so its errors stay the same.
 * - `decodeHandshake` returns exactly what `fromBinary(EnvelopeSchema, bytes)` would, or undefined for
 *   any input it does not fully understand (unknown, duplicate or out-of-order fields, other wire
 *   types, long varints, invalid UTF-8, truncation, trailing bytes): protobuf-es then decides, so
 *   unknown-field preservation (WIRE-6) and every decode error (WIRE-2) stay the same.
 * - `helloEnvelope` / `welcomeEnvelope` return what create() returns for the same fields.
 * Neither validates (WIRE-3 … WIRE-7): codec.ts runs the same `validate()` on both paths.
 * Browser-safe: TextEncoder/TextDecoder only.
 */
import { protoInt64 } from '@bufbuild/protobuf';
import type { BackpressurePolicy, Envelope, Hello, ResumeOutcome, ResumeReason, ResumeResult, Welcome } from '../../gen/lifeline/v1/envelope_pb.js';

// protobuf-es maps uint64 to strings without BigInt: step aside then, as fast-codec.ts does.
const ENABLED = protoInt64.supported;

const T_ENVELOPE: Envelope['$typeName'] = 'lifeline.v1.Envelope';
const T_HELLO: Hello['$typeName'] = 'lifeline.v1.Hello';
const T_WELCOME: Welcome['$typeName'] = 'lifeline.v1.Welcome';
const T_RESUME: ResumeResult['$typeName'] = 'lifeline.v1.ResumeResult';

/** Envelope tags of the two bodies: field 1 and 2, length-delimited. */
const TAG_HELLO = 0x0a;
const TAG_WELCOME = 0x12;

const utf8Encoder = new TextEncoder();
// protobuf-es's settings for proto3 strings: fatal on invalid UTF-8, a leading U+FEFF is text.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---------------------------------------------------------------------------
// Building (what create() returns, without walking the schema)
// ---------------------------------------------------------------------------

export interface HelloFields {
  readonly protocolVersion: number;
  readonly sessionId: string;
  readonly lastServerSeq: bigint;
  readonly receiveWindow: number;
  readonly token: string;
  readonly capabilities: string[];
  readonly channels: string[];
  readonly preferredPolicy: BackpressurePolicy;
  readonly agent: string;
}

/** Exactly `create(EnvelopeSchema, { body: { case: 'hello', value: create(HelloSchema, f) } })` for these fields. */
export function helloEnvelope(f: HelloFields): Envelope {
  const value: Hello = {
    $typeName: T_HELLO,
    protocolVersion: f.protocolVersion,
    sessionId: f.sessionId,
    lastServerSeq: f.lastServerSeq,
    receiveWindow: f.receiveWindow,
    token: f.token,
    capabilities: f.capabilities,
    channels: f.channels,
    preferredPolicy: f.preferredPolicy,
    agent: f.agent,
  };
  return { $typeName: T_ENVELOPE, body: { case: 'hello', value } };
}

export interface WelcomeFields {
  readonly sessionId: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatMissedMax: number;
  readonly maxPayloadBytes: number;
  readonly resumeTtlMs: number;
  readonly replayWindowMessages: number;
  readonly resume: { readonly outcome: ResumeOutcome; readonly reason: ResumeReason; readonly fromSeq: bigint; readonly replayed: number };
  readonly lastClientSeq: bigint;
  readonly receiveWindow: number;
  readonly policy: BackpressurePolicy;
  readonly queueLimitMessages: number;
  readonly serverTimeMs: bigint;
  readonly heartbeatIntervalMaxMs: number;
  readonly clientAckDelayMs: number;
  readonly capabilities: string[];
}

/**
 * Exactly `create(EnvelopeSchema, { body: { case: 'welcome', value: create(WelcomeSchema, { ...f,
 * resume: create(ResumeResultSchema, f.resume) }) } })`.
 */
export function welcomeEnvelope(f: WelcomeFields): Envelope {
  const r = f.resume;
  const resume: ResumeResult = { $typeName: T_RESUME, outcome: r.outcome, reason: r.reason, fromSeq: r.fromSeq, replayed: r.replayed };
  const value: Welcome = {
    $typeName: T_WELCOME,
    sessionId: f.sessionId,
    heartbeatIntervalMs: f.heartbeatIntervalMs,
    heartbeatMissedMax: f.heartbeatMissedMax,
    maxPayloadBytes: f.maxPayloadBytes,
    resumeTtlMs: f.resumeTtlMs,
    replayWindowMessages: f.replayWindowMessages,
    resume,
    lastClientSeq: f.lastClientSeq,
    receiveWindow: f.receiveWindow,
    policy: f.policy,
    queueLimitMessages: f.queueLimitMessages,
    serverTimeMs: f.serverTimeMs,
    heartbeatIntervalMaxMs: f.heartbeatIntervalMaxMs,
    clientAckDelayMs: f.clientAckDelayMs,
    capabilities: f.capabilities,
  };
  return { $typeName: T_ENVELOPE, body: { case: 'welcome', value } };
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
/** An enum value protobuf-es writes as a plain varint (int32 ≥ 0); negative ones go to it. */
function isEnum(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff;
}
function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= 0xffffffffffffffffn;
}
function isStrings(v: unknown): v is string[] {
  if (!Array.isArray(v)) return false;
  for (const s of v) if (typeof s !== 'string') return false;
  return true;
}

/** The body is written here after a gap for the Envelope header (tag + up to 5 length bytes). */
const HEADER_ROOM = 6;
let buf = new Uint8Array(2048);
let pos = 0;

function room(n: number): void {
  if (pos + n <= buf.length) return;
  const bigger = new Uint8Array(Math.max(buf.length * 2, pos + n + 1024));
  bigger.set(buf.subarray(0, pos));
  buf = bigger;
}

function varint32(v: number): void {
  room(5);
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
}

function varint64(v: bigint): void {
  if (v <= 0xffffffffn) {
    varint32(Number(v));
    return;
  }
  room(10);
  let lo = Number(v & 0xffffffffn);
  let hi = Number(v >> 32n);
  // The low 28 bits in four bytes, then bits 28-34 (4 of lo, 3 of hi), then the rest of hi.
  for (let i = 0; i < 4; i++) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  let b = lo | ((hi & 0x7) << 4);
  hi >>>= 3;
  if (hi === 0) {
    buf[pos++] = b;
    return;
  }
  buf[pos++] = b | 0x80;
  while (hi > 0x7f) {
    buf[pos++] = (hi & 0x7f) | 0x80;
    hi >>>= 7;
  }
  b = hi;
  buf[pos++] = b;
}

function string(tag: number, s: string): void {
  const n = s.length;
  room(6 + n);
  buf[pos++] = tag;
  let ascii = n < 0x80;
  if (ascii) {
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
  }
  if (ascii) {
    buf[pos++] = n;
    for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    return;
  }
  const bytes = utf8Encoder.encode(s); // lone surrogates become U+FFFD, as protobuf-es writes them
  varint32(bytes.length);
  room(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

function u32Field(tag: number, v: number): void {
  if (v === 0) return;
  room(1);
  buf[pos++] = tag;
  varint32(v);
}
function u64Field(tag: number, v: bigint): void {
  if (v === 0n) return;
  room(1);
  buf[pos++] = tag;
  varint64(v);
}
function stringField(tag: number, s: string): void {
  if (s !== '') string(tag, s);
}

function writeHello(h: Hello): boolean {
  if (h.$typeName !== T_HELLO || h.$unknown !== undefined) return false;
  if (!isU32(h.protocolVersion) || typeof h.sessionId !== 'string' || !isU64(h.lastServerSeq) || !isU32(h.receiveWindow)) return false;
  if (typeof h.token !== 'string' || !isStrings(h.capabilities) || !isStrings(h.channels) || !isEnum(h.preferredPolicy) || typeof h.agent !== 'string') return false;
  u32Field(0x08, h.protocolVersion);
  stringField(0x12, h.sessionId);
  u64Field(0x18, h.lastServerSeq);
  u32Field(0x20, h.receiveWindow);
  stringField(0x2a, h.token);
  for (const c of h.capabilities) string(0x32, c);
  for (const c of h.channels) string(0x3a, c);
  u32Field(0x40, h.preferredPolicy);
  stringField(0x4a, h.agent);
  return true;
}

function writeWelcome(w: Welcome): boolean {
  if (w.$typeName !== T_WELCOME || w.$unknown !== undefined) return false;
  if (typeof w.sessionId !== 'string' || !isU32(w.heartbeatIntervalMs) || !isU32(w.heartbeatMissedMax) || !isU32(w.maxPayloadBytes)) return false;
  if (!isU32(w.resumeTtlMs) || !isU32(w.replayWindowMessages) || !isU64(w.lastClientSeq) || !isU32(w.receiveWindow) || !isEnum(w.policy)) return false;
  if (!isU32(w.queueLimitMessages) || !isU64(w.serverTimeMs) || !isU32(w.heartbeatIntervalMaxMs) || !isU32(w.clientAckDelayMs) || !isStrings(w.capabilities)) return false;
  const r = w.resume;
  if (r !== undefined && (r.$typeName !== T_RESUME || r.$unknown !== undefined || !isEnum(r.outcome) || !isEnum(r.reason) || !isU64(r.fromSeq) || !isU32(r.replayed))) return false;
  stringField(0x0a, w.sessionId);
  u32Field(0x10, w.heartbeatIntervalMs);
  u32Field(0x18, w.heartbeatMissedMax);
  u32Field(0x20, w.maxPayloadBytes);
  u32Field(0x28, w.resumeTtlMs);
  u32Field(0x30, w.replayWindowMessages);
  if (r !== undefined) {
    room(2);
    buf[pos++] = 0x3a;
    const lenAt = pos++; // at most 6 + 6 + 11 + 6 bytes: the length is one byte
    u32Field(0x08, r.outcome);
    u32Field(0x10, r.reason);
    u64Field(0x18, r.fromSeq);
    u32Field(0x20, r.replayed);
    buf[lenAt] = pos - lenAt - 1;
  }
  u64Field(0x40, w.lastClientSeq);
  u32Field(0x48, w.receiveWindow);
  u32Field(0x50, w.policy);
  u32Field(0x58, w.queueLimitMessages);
  u64Field(0x60, w.serverTimeMs);
  u32Field(0x68, w.heartbeatIntervalMaxMs);
  u32Field(0x70, w.clientAckDelayMs);
  for (const c of w.capabilities) string(0x7a, c);
  return true;
}

/**
 * The bytes protobuf-es's `toBinary(EnvelopeSchema, env)` would produce for a Hello or Welcome, or
 * undefined to send the caller to protobuf-es.
 */
export function encodeHandshake(env: Envelope): Uint8Array | undefined {
  if (!ENABLED || env.$typeName !== T_ENVELOPE || env.$unknown !== undefined) return undefined;
  const body = env.body;
  pos = HEADER_ROOM;
  let tag: number;
  if (body.case === 'hello') {
    if (!writeHello(body.value)) return undefined;
    tag = TAG_HELLO;
  } else if (body.case === 'welcome') {
    if (!writeWelcome(body.value)) return undefined;
    tag = TAG_WELCOME;
  } else {
    return undefined;
  }
  const end = pos;
  const len = end - HEADER_ROOM;
  let lenBytes = 1;
  for (let v = len; v > 0x7f; v >>>= 7) lenBytes++;
  const start = HEADER_ROOM - 1 - lenBytes;
  buf[start] = tag;
  let p = start + 1;
  let v = len;
  while (v > 0x7f) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p] = v;
  return buf.slice(start, end);
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

// Read cursor; readers return a sentinel (-1 / undefined) on anything unusual.
let P = 0;

/** A varint of at most 4 bytes (< 2²⁸), or -1: wider values (and enums near int32's sign) go to protobuf-es. */
function readSmall(b: Uint8Array, end: number): number {
  let v = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (P >= end) return -1;
    const x = b[P++] as number;
    v |= (x & 0x7f) << shift;
    if (x < 0x80) return v;
  }
  return -1;
}

/** A uint32 varint of at most 5 bytes whose 5th carries only the top 4 bits, or -1. */
function readU32(b: Uint8Array, end: number): number {
  let v = 0;
  for (let i = 0; i < 5; i++) {
    if (P >= end) return -1;
    const x = b[P++] as number;
    if (i === 4) return x > 0x0f ? -1 : (v + x * 0x10000000) >>> 0;
    v |= (x & 0x7f) << (7 * i);
    if (x < 0x80) return v >>> 0;
  }
  return -1;
}

/** A uint64 varint of at most 10 bytes whose 10th carries only the top bit, or undefined. */
function readU64(b: Uint8Array, end: number): bigint | undefined {
  let lo = 0;
  let hi = 0n;
  for (let i = 0; i < 10; i++) {
    if (P >= end) return undefined;
    const x = b[P++] as number;
    if (i === 9 && x > 1) return undefined;
    if (i < 4) lo |= (x & 0x7f) << (7 * i);
    else hi |= BigInt(x & 0x7f) << BigInt(7 * i - 28);
    if (x < 0x80) return hi === 0n ? BigInt(lo >>> 0) : (hi << 28n) | BigInt(lo >>> 0);
  }
  return undefined;
}

function readString(b: Uint8Array, end: number): string | undefined {
  const n = readU32(b, end);
  if (n < 0 || n > end - P) return undefined;
  const from = P;
  P += n;
  let s = '';
  for (let i = from; i < P; i++) {
    const c = b[i] as number;
    if (c > 0x7f) {
      try {
        return utf8Decoder.decode(b.subarray(from, P));
      } catch {
        return undefined; // invalid UTF-8: protobuf-es throws it
      }
    }
    s += String.fromCharCode(c);
  }
  return s;
}

function decodeHello(b: Uint8Array, end: number): Envelope | undefined {
  let protocolVersion = 0;
  let sessionId = '';
  let lastServerSeq = 0n;
  let receiveWindow = 0;
  let token = '';
  const capabilities: string[] = [];
  const channels: string[] = [];
  let preferredPolicy = 0;
  let agent = '';
  let last = 0;
  while (P < end) {
    const tag = b[P++] as number;
    // Fields in order; a repeated field may repeat. Anything else is protobuf-es's to judge.
    if (tag < last || (tag === last && tag !== 0x32 && tag !== 0x3a)) return undefined;
    last = tag;
    switch (tag) {
      case 0x08:
        protocolVersion = readU32(b, end);
        if (protocolVersion < 0) return undefined;
        break;
      case 0x12: {
        const s = readString(b, end);
        if (s === undefined) return undefined;
        sessionId = s;
        break;
      }
      case 0x18: {
        const v = readU64(b, end);
        if (v === undefined) return undefined;
        lastServerSeq = v;
        break;
      }
      case 0x20:
        receiveWindow = readU32(b, end);
        if (receiveWindow < 0) return undefined;
        break;
      case 0x2a: {
        const s = readString(b, end);
        if (s === undefined) return undefined;
        token = s;
        break;
      }
      case 0x32:
      case 0x3a: {
        const s = readString(b, end);
        if (s === undefined) return undefined;
        (tag === 0x32 ? capabilities : channels).push(s);
        break;
      }
      case 0x40:
        preferredPolicy = readSmall(b, end);
        if (preferredPolicy < 0) return undefined;
        break;
      case 0x4a: {
        const s = readString(b, end);
        if (s === undefined) return undefined;
        agent = s;
        break;
      }
      default:
        return undefined;
    }
  }
  const value: Hello = { $typeName: T_HELLO, protocolVersion, sessionId, lastServerSeq, receiveWindow, token, capabilities, channels, preferredPolicy, agent };
  return { $typeName: T_ENVELOPE, body: { case: 'hello', value } };
}

function decodeResume(b: Uint8Array, end: number): ResumeResult | undefined {
  let outcome = 0;
  let reason = 0;
  let fromSeq = 0n;
  let replayed = 0;
  let last = 0;
  while (P < end) {
    const tag = b[P++] as number;
    if (tag <= last) return undefined;
    last = tag;
    switch (tag) {
      case 0x08:
        outcome = readSmall(b, end);
        if (outcome < 0) return undefined;
        break;
      case 0x10:
        reason = readSmall(b, end);
        if (reason < 0) return undefined;
        break;
      case 0x18: {
        const v = readU64(b, end);
        if (v === undefined) return undefined;
        fromSeq = v;
        break;
      }
      case 0x20:
        replayed = readU32(b, end);
        if (replayed < 0) return undefined;
        break;
      default:
        return undefined;
    }
  }
  return { $typeName: T_RESUME, outcome, reason, fromSeq, replayed };
}

function decodeWelcome(b: Uint8Array, end: number): Envelope | undefined {
  let sessionId = '';
  const u = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // the uint32 and enum fields, by number
  let resume: ResumeResult | undefined;
  let lastClientSeq = 0n;
  let serverTimeMs = 0n;
  const capabilities: string[] = [];
  let last = 0;
  while (P < end) {
    const tag = b[P++] as number;
    if (tag < last || (tag === last && tag !== 0x7a)) return undefined;
    last = tag;
    switch (tag) {
      case 0x0a: {
        const s = readString(b, end);
        if (s === undefined) return undefined;
        sessionId = s;
        break;
      }
      case 0x3a: {
        const n = readU32(b, end);
        if (n < 0 || n > end - P) return undefined;
        const r = decodeResume(b, P + n);
        if (r === undefined) return undefined;
        resume = r;
        break;
      }
      case 0x40:
      case 0x60: {
        const v = readU64(b, end);
        if (v === undefined) return undefined;
        if (tag === 0x40) lastClientSeq = v;
        else serverTimeMs = v;
        break;
      }
      case 0x50: // policy: an enum
        u[10] = readSmall(b, end);
        if ((u[10] as number) < 0) return undefined;
        break;
      case 0x10:
      case 0x18:
      case 0x20:
      case 0x28:
      case 0x30:
      case 0x48:
      case 0x58:
      case 0x68:
      case 0x70: {
        const v = readU32(b, end);
        if (v < 0) return undefined;
        u[tag >> 3] = v;
        break;
      }
      case 0x7a: {
        const s = readString(b, end);
        if (s === undefined) return undefined;
        capabilities.push(s);
        break;
      }
      default:
        return undefined;
    }
  }
  const value: Welcome = {
    $typeName: T_WELCOME,
    sessionId,
    heartbeatIntervalMs: u[2] as number,
    heartbeatMissedMax: u[3] as number,
    maxPayloadBytes: u[4] as number,
    resumeTtlMs: u[5] as number,
    replayWindowMessages: u[6] as number,
    lastClientSeq,
    receiveWindow: u[9] as number,
    policy: u[10] as number,
    queueLimitMessages: u[11] as number,
    serverTimeMs,
    heartbeatIntervalMaxMs: u[13] as number,
    clientAckDelayMs: u[14] as number,
    capabilities,
  };
  if (resume !== undefined) value.resume = resume;
  return { $typeName: T_ENVELOPE, body: { case: 'welcome', value } };
}

/**
 * What protobuf-es's `fromBinary(EnvelopeSchema, bytes)` returns for a plainly encoded Hello or
 * Welcome, or undefined to send the caller to protobuf-es.
 */
export function decodeHandshake(bytes: Uint8Array): Envelope | undefined {
  if (!ENABLED || bytes.length < 2) return undefined;
  const tag = bytes[0];
  if (tag !== TAG_HELLO && tag !== TAG_WELCOME) return undefined;
  P = 1;
  const end = bytes.length;
  const n = readU32(bytes, end);
  if (n < 0 || n !== end - P) return undefined; // one body, nothing after it
  return tag === TAG_HELLO ? decodeHello(bytes, end) : decodeWelcome(bytes, end);
}
