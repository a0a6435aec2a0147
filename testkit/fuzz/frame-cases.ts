/**
 * Generated client frames for the fuzz suite (issue 13) and the answer the spec
 * gives to each, computed from the spec's rules: the spec's codec
 * (spec/protocol/codec.ts, WIRE-1 … WIRE-7) for what a frame is, and the
 * session rules of §5–§12 for what it means in the connection's state (HS-8,
 * HS-11, SEQ-3, SEQ-4, SEQ-6, SEC-7). Nothing here asks the server.
 *
 * A connection is a plan: an optional Hello, frames that keep the session
 * (checked by a final heartbeat round trip), and at most one last frame that
 * must close it with a given code. Seeds are valid envelopes (the codec's own
 * encodings and conformance/vectors/*.json), mutated by bit flips, truncation,
 * varint overflow, wrong wire types, huge lengths, appended garbage; plus text,
 * empty, fragmented, oversized and malformed WebSocket frames.
 */
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { EnvelopeSchema, type Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';
import { codeOf } from '../../spec/protocol/close-codes.js';
import { PROTOCOL_VERSION } from '../../spec/protocol/defaults.js';

/** Values the fuzz server runs with; the oracle needs them (declared, like a conformance config). */
export interface FuzzServerLimits {
  readonly maxPayloadBytes: number;
  readonly maxChannelsPerSession: number;
}

/** How a frame is put on the wire. */
export type WireForm =
  | { readonly kind: 'binary'; readonly bytes: Uint8Array }
  /** The same bytes over several continuation frames (WIRE-1: one message). */
  | { readonly kind: 'fragmented'; readonly bytes: Uint8Array; readonly pieces: number }
  | { readonly kind: 'text'; readonly text: string }
  /** Raw WebSocket frame bytes written to the TCP socket (RSV bits, no mask, invalid UTF-8, oversized). */
  | { readonly kind: 'raw'; readonly bytes: Uint8Array; readonly what: WsFault };

/** Faults found by `ws` itself, before Lifeline sees a frame (issue 13, defect 2). */
export type WsFault = 'rsv1' | 'unmasked' | 'invalid-utf8-text' | 'oversized';

export interface FrameCase {
  /** How it was made, for counts and counterexamples. */
  readonly origin: string;
  readonly wire: WireForm;
}

export interface ConnectionPlan {
  readonly hello: Envelope | undefined;
  /** Every frame after the Hello; the oracle says which one (if any) closes. */
  readonly frames: readonly FrameCase[];
}

export type Expected = { readonly close: false } | { readonly close: true; readonly code: number; readonly rule: string; readonly isWsFault: boolean };

/** The session state the oracle tracks (what the spec says a server remembers). */
interface OracleState {
  hasSession: boolean;
  lastClientSeq: bigint;
  channels: Set<string>;
}

const env = (body: Envelope['body']): Envelope => create(EnvelopeSchema, { body });

function closeWith(name: Parameters<typeof codeOf>[0], rule: string, isWsFault = false): Expected {
  return { close: true, code: codeOf(name), rule, isWsFault };
}

/** What the spec says of one frame in this state; mutates the state as the server must. */
function expectFrame(f: FrameCase, s: OracleState, limits: FuzzServerLimits): Expected {
  const w = f.wire;
  if (w.kind === 'text') return closeWith('UNSUPPORTED_DATA', 'WIRE-1');
  if (w.kind === 'raw') {
    switch (w.what) {
      case 'rsv1':
      case 'unmasked':
        return closeWith('PROTOCOL_ERROR', 'RFC 6455 §5.2', true);
      case 'invalid-utf8-text':
        return closeWith('INVALID_PAYLOAD', 'RFC 6455 §8.1', true);
      case 'oversized':
        return closeWith('MESSAGE_TOO_BIG', 'WIRE-4', true);
    }
  }
  // WIRE-4: a frame over the limit is refused by the WebSocket layer before any decoding.
  if (w.bytes.byteLength > limits.maxPayloadBytes) return closeWith('MESSAGE_TOO_BIG', 'WIRE-4', true);
  const r = decode(w.bytes, { from: 'client', maxPayloadBytes: limits.maxPayloadBytes });
  if (!r.ok) return { close: true, code: r.error.code, rule: r.error.spec, isWsFault: false };
  const b = r.envelope.body;
  if (!s.hasSession) {
    if (b.case !== 'hello') return closeWith('PROTOCOL_ERROR', 'HS-8');
    return expectHello(b.value, s, limits);
  }
  switch (b.case) {
    case 'hello':
      return closeWith('PROTOCOL_ERROR', 'WIRE-7'); // a second Hello
    case 'heartbeat':
    case 'heartbeatAck':
    case 'stateDrift':
      return { close: false };
    case 'ack':
      // SEQ-6: nothing sequenced is ever sent to a fuzz session (no state, no publish).
      return b.value.seq > 0n ? closeWith('PROTOCOL_ERROR', 'SEQ-6') : { close: false };
    case 'message':
      if (b.value.seq > s.lastClientSeq + 1n) return closeWith('PROTOCOL_ERROR', 'SEQ-4');
      if (b.value.seq === s.lastClientSeq + 1n) s.lastClientSeq++; // else SEQ-3: a duplicate, acked and dropped
      return { close: false };
    case 'subscribe': {
      const wanted = new Set([...s.channels, ...b.value.channels]);
      if (wanted.size > limits.maxChannelsPerSession) return closeWith('POLICY_VIOLATION', 'SEC-7');
      s.channels = wanted;
      return { close: false };
    }
    case 'unsubscribe':
      for (const c of b.value.channels) s.channels.delete(c);
      return { close: false };
    default:
      return closeWith('PROTOCOL_ERROR', 'WIRE-7'); // decode({ from: 'client' }) refuses these already
  }
}

function expectHello(h: Extract<Envelope['body'], { case: 'hello' }>['value'], s: OracleState, limits: FuzzServerLimits): Expected {
  if (h.protocolVersion !== PROTOCOL_VERSION) return closeWith('VERSION_UNSUPPORTED', 'HS-11');
  const channels = new Set(h.channels);
  if (channels.size > limits.maxChannelsPerSession) return closeWith('POLICY_VIOLATION', 'SEC-7');
  s.hasSession = true; // a new session (a fuzzed session id is unknown: NEW, RS-6)
  s.channels = channels;
  return { close: false };
}

/**
 * The expected answer to a plan: the index of the frame that must close the
 * connection and its code, or none (the connection must stay open). Frames
 * after a closing one are dropped from the plan by `trimPlan`.
 */
export function expectPlan(p: ConnectionPlan, limits: FuzzServerLimits): { closeAt: number; expected: Expected } {
  const s: OracleState = { hasSession: false, lastClientSeq: 0n, channels: new Set() };
  const all: FrameCase[] = p.hello ? [{ origin: 'hello', wire: { kind: 'binary', bytes: encode(p.hello) } }, ...p.frames] : [...p.frames];
  for (let i = 0; i < all.length; i++) {
    const e = expectFrame(all[i]!, s, limits);
    if (e.close) return { closeAt: i, expected: e };
  }
  return { closeAt: -1, expected: { close: false } };
}

/** The plan cut after its first closing frame: nothing after a close can be a case. */
export function trimPlan(p: ConnectionPlan, limits: FuzzServerLimits): ConnectionPlan {
  const { closeAt } = expectPlan(p, limits);
  if (closeAt < 0) return p;
  const offset = p.hello ? 1 : 0;
  if (closeAt < offset) return { hello: p.hello, frames: [] };
  return { hello: p.hello, frames: p.frames.slice(0, closeAt - offset + 1) };
}

// ---- generators ----

const text = fc.string({ maxLength: 12 });
const channel = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l');

/** Envelopes a client may send, most of them valid in an attached session. */
const keepingBody: fc.Arbitrary<Envelope['body']> = fc.oneof(
  fc.record({ id: fc.nat(), sentAtMs: fc.bigInt({ min: 0n, max: 1n << 53n }), rttMs: fc.nat({ max: 10_000 }) }).map((v) => ({ case: 'heartbeat' as const, value: v as never })),
  fc.record({ id: fc.nat(), echoSentAtMs: fc.bigInt({ min: 0n, max: 1n << 40n }) }).map((v) => ({ case: 'heartbeatAck' as const, value: v as never })),
  fc.array(channel, { minLength: 1, maxLength: 4 }).map((channels) => ({ case: 'subscribe' as const, value: { channels } as never })),
  fc.array(channel, { minLength: 1, maxLength: 4 }).map((channels) => ({ case: 'unsubscribe' as const, value: { channels } as never })),
  fc.record({ channel, version: fc.bigInt({ min: 0n, max: 100n }) }).map((v) => ({ case: 'stateDrift' as const, value: v as never })),
  fc.constant({ case: 'ack' as const, value: { seq: 0n } as never }),
);

/** Seeds for mutation: each body a client can send, plus the stored golden vectors. */
function seedBytes(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const base: Envelope['body'][] = [
    { case: 'hello', value: { protocolVersion: PROTOCOL_VERSION, channels: ['a', 'b'], agent: 'fuzz' } as never },
    { case: 'heartbeat', value: { id: 7, sentAtMs: 1234n } as never },
    { case: 'heartbeatAck', value: { id: 7, echoSentAtMs: 1234n } as never },
    { case: 'ack', value: { seq: 0n } as never },
    { case: 'message', value: { seq: 1n, channel: 'a', key: 'k', messageId: 'm-1', payload: new Uint8Array([1, 2, 3]) } as never },
    { case: 'subscribe', value: { channels: ['a', 'b', 'c'] } as never },
    { case: 'unsubscribe', value: { channels: ['a'] } as never },
    { case: 'stateDrift', value: { channel: 'a', version: 3n } as never },
  ];
  for (const b of base) out.push(encode(env(b)));
  for (const file of ['bodies', 'malformed', 'wrong-role', 'unknown-fields']) {
    try {
      const j = JSON.parse(readFileSync(new URL(`../../conformance/vectors/${file}.json`, import.meta.url), 'utf8')) as { vectors: { hex: string }[] };
      for (const v of j.vectors) if (v.hex.length <= 512) out.push(new Uint8Array(Buffer.from(v.hex, 'hex')));
    } catch {
      // the vectors are a bonus; the built-in seeds suffice
    }
  }
  return out;
}

const SEEDS = seedBytes();

function encodeVarint(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** Byte-level mutations of a valid seed. */
const mutated: fc.Arbitrary<FrameCase> = fc
  .tuple(fc.integer({ min: 0, max: SEEDS.length - 1 }), fc.integer({ min: 0, max: 6 }), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 24 }))
  .map(([si, kind, a, b, junk]) => {
    const seed = SEEDS[si]!;
    const bytes = Array.from(seed);
    const at = bytes.length ? a % bytes.length : 0;
    let origin: string;
    switch (kind) {
      case 0: // bit flips
        for (let i = 0; i <= b % 3; i++) if (bytes.length) bytes[(a + i * 7) % bytes.length]! ^= 1 << ((b + i) % 8);
        origin = 'bit-flip';
        break;
      case 1: // truncation
        bytes.length = at;
        origin = 'truncated';
        break;
      case 2: // varint overflow: eleven continuation bytes where a varint starts
        bytes.splice(at, 0, ...new Array<number>(10 + (b % 3)).fill(0xff), 0x01);
        origin = 'varint-overflow';
        break;
      case 3: // wrong wire type on the first tag
        if (bytes.length) bytes[0] = (bytes[0]! & ~0x07) | [1, 3, 4, 5, 6, 7][b % 6]!;
        origin = 'wrong-wire-type';
        break;
      case 4: // a huge length: the first field's length prefix replaced
        bytes.splice(1, bytes.length > 1 ? 1 : 0, ...encodeVarint(BigInt(0x7fffffff) + BigInt(b % 1000) * 4096n));
        origin = 'huge-length';
        break;
      case 5: // garbage appended
        bytes.push(...junk);
        origin = 'garbage-appended';
        break;
      default: // pure garbage
        origin = 'garbage';
        return { origin, wire: { kind: 'binary' as const, bytes: junk } };
    }
    return { origin, wire: { kind: 'binary' as const, bytes: new Uint8Array(bytes) } };
  });

/** WebSocket frame bytes from the client (masked unless told), for the faults ws finds itself. */
export function wsFrame(opcode: number, payload: Uint8Array, opts: { rsv1?: boolean; mask?: boolean } = {}): Uint8Array {
  const mask = opts.mask ?? true;
  const head: number[] = [0x80 | (opts.rsv1 ? 0x40 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (payload.length < 126) head.push(m | payload.length);
  else if (payload.length < 65536) head.push(m | 126, payload.length >> 8, payload.length & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (payload.length >>> 24) & 0xff, (payload.length >>> 16) & 0xff, (payload.length >>> 8) & 0xff, payload.length & 0xff);
  const key = [0x12, 0x34, 0x56, 0x78];
  const body = mask ? payload.map((x, i) => x ^ key[i % 4]!) : payload;
  return new Uint8Array([...head, ...(mask ? key : []), ...body]);
}

function wsFault(limits: FuzzServerLimits): fc.Arbitrary<FrameCase> {
  const hb = encode(env({ case: 'heartbeat', value: { id: 1, sentAtMs: 1n } as never }));
  return fc.constantFrom<WsFault>('rsv1', 'unmasked', 'invalid-utf8-text', 'oversized').map((what) => {
    const bytes =
      what === 'rsv1' ? wsFrame(2, hb, { rsv1: true })
      : what === 'unmasked' ? wsFrame(2, hb, { mask: false })
      : what === 'invalid-utf8-text' ? wsFrame(1, new Uint8Array([0x61, 0xc3, 0x28, 0xff]))
      : wsFrame(2, new Uint8Array(limits.maxPayloadBytes + 1));
    return { origin: `ws-${what}`, wire: { kind: 'raw' as const, bytes, what } };
  });
}

/** Frames that end a connection one way or another, or (when a mutation stays valid) do not. */
function lastFrame(limits: FuzzServerLimits, withWsFaults: boolean): fc.Arbitrary<FrameCase> {
  const others: fc.WeightedArbitrary<FrameCase>[] = [
    { weight: 12, arbitrary: mutated },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((t) => ({ origin: 'text', wire: { kind: 'text' as const, text: t } })) },
    { weight: 1, arbitrary: fc.constant({ origin: 'empty', wire: { kind: 'binary' as const, bytes: new Uint8Array() } }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((extra) => ({ origin: 'over-max-payload', wire: { kind: 'binary' as const, bytes: new Uint8Array(limits.maxPayloadBytes + extra) } })) },
    { weight: 1, arbitrary: fc.record({ seq: fc.bigInt({ min: 2n, max: 1n << 40n }) }).map(({ seq }) => ({ origin: 'seq-gap', wire: { kind: 'binary' as const, bytes: encode(env({ case: 'message', value: { seq: seq + 50n, channel: 'a', payload: new Uint8Array([1]) } as never })) } })) },
    { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 1n << 40n }).map((seq) => ({ origin: 'ack-beyond', wire: { kind: 'binary' as const, bytes: encode(env({ case: 'ack', value: { seq } as never })) } })) },
  ];
  if (withWsFaults) others.push({ weight: 2, arbitrary: wsFault(limits) });
  return fc.oneof(...others);
}

/** Valid frames that keep a session, numbered messages included (generated in order by the plan). */
function keepingFrames(): fc.Arbitrary<{ kind: 'body' | 'message' | 'duplicate'; body?: Envelope['body']; fragmented: number; payload: Uint8Array; text: string }[]> {
  return fc.array(
    fc.record({
      kind: fc.constantFrom<'body' | 'message' | 'duplicate'>('body', 'body', 'message', 'message', 'duplicate'),
      body: keepingBody,
      fragmented: fc.constantFrom(0, 0, 0, 2, 3),
      payload: fc.uint8Array({ maxLength: 64 }),
      text,
    }),
    { maxLength: 24, size: 'max' }, // fast-check's default size would cap it near 10
  );
}

/** A connection plan: Hello (mostly; sometimes a mutated one or none), keeping frames, an ending frame. */
export function connectionPlan(limits: FuzzServerLimits, opts: { withWsFaults: boolean }): fc.Arbitrary<ConnectionPlan> {
  return fc
    .record({
      helloKind: fc.constantFrom('valid', 'valid', 'valid', 'valid', 'valid', 'valid', 'none', 'odd'),
      version: fc.constantFrom(PROTOCOL_VERSION, 2, 99), // 0 is refused by the codec itself (WIRE-5), not HS-11
      helloChannels: fc.array(channel, { maxLength: 10 }),
      sessionId: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
      keeping: keepingFrames(),
      last: fc.option(lastFrame(limits, opts.withWsFaults), { nil: undefined, freq: 6 }),
    })
    .map((r) => {
      const hello =
        r.helloKind === 'none' ? undefined
        : env({ case: 'hello', value: { protocolVersion: r.helloKind === 'odd' ? r.version : PROTOCOL_VERSION, channels: r.helloChannels, ...(r.sessionId ? { sessionId: r.sessionId } : {}) } as never });
      let seq = 0n;
      const frames: FrameCase[] = r.keeping.map((k) => {
        let e: Envelope;
        if (k.kind === 'body') e = env(k.body!);
        else if (k.kind === 'message' || seq === 0n) e = env({ case: 'message', value: { seq: ++seq, channel: 'a', key: k.text, messageId: `m${seq}`, payload: k.payload } as never });
        else e = env({ case: 'message', value: { seq, channel: 'a', messageId: `m${seq}`, payload: k.payload } as never }); // SEQ-3
        const bytes = encode(e);
        return k.fragmented > 1 && bytes.length >= k.fragmented
          ? { origin: `fragmented-${e.body.case}`, wire: { kind: 'fragmented' as const, bytes, pieces: k.fragmented } }
          : { origin: `valid-${e.body.case}`, wire: { kind: 'binary' as const, bytes } };
      });
      if (r.last) frames.push(r.last);
      return { hello, frames };
    })
    .map((p) => trimPlan(p, limits));
}
