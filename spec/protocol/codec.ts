/**
 * The only module that turns Envelopes into bytes and back (WIRE-1 … WIRE-7).
 * Decoding never throws: any input yields an Envelope or a ProtocolError whose
 * code is the close code the spec names for it.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { EnvelopeSchema, type Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { defaults } from './defaults.js';
import { ProtocolError } from './errors.js';
import { decodeFast, encodeFast } from './fast-codec.js';

export type BodyCase = NonNullable<Envelope['body']['case']>;
export type Role = 'client' | 'server';

/** Bodies each role may send (WIRE-7). Subscribe/Unsubscribe/Hello are client-only, Subscribed server-only. */
const SENDABLE_BY: Record<Role, ReadonlySet<BodyCase>> = {
  client: new Set<BodyCase>([
    'hello', 'heartbeat', 'heartbeatAck', 'ack', 'message', 'stateDrift', 'subscribe', 'unsubscribe',
  ]),
  server: new Set<BodyCase>([
    'welcome', 'heartbeat', 'heartbeatAck', 'ack', 'message', 'statePatch', 'snapshot', 'stateDrift',
    'drainNotice', 'subscribed',
  ]),
};

export interface DecodeOptions {
  /** Who sent the bytes; a body that role may not send is a PROTOCOL_ERROR (WIRE-7). */
  readonly from?: Role;
  /** Largest frame accepted, in bytes (WIRE-4). */
  readonly maxPayloadBytes?: number;
}

export type DecodeResult =
  | { readonly ok: true; readonly envelope: Envelope }
  | { readonly ok: false; readonly error: ProtocolError };

/** Encode one Envelope as one binary frame. Throws ProtocolError for an invalid Envelope. */
export function encode(envelope: Envelope): Uint8Array {
  const problem = validate(envelope);
  if (problem) throw problem;
  // Hot bodies skip protobuf-es's per-call BinaryWriter; same bytes, proven in
  // fast-codec.test.ts. undefined = not a hot body or unusual: protobuf-es decides.
  const fast = encodeFast(envelope);
  if (fast !== undefined) return fast;
  try {
    return toBinary(EnvelopeSchema, envelope);
  } catch (err) {
    // protobuf-es refuses values outside a field's type (a uint64 ≥ 2⁶⁴, say).
    const why = err instanceof Error ? err.message : 'unencodable';
    throw new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', why);
  }
}

/** Decode one binary frame. Never throws (WIRE-2 … WIRE-5). */
export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const max = opts.maxPayloadBytes ?? defaults.maxPayloadBytes;
  if (bytes.byteLength > max) {
    return fail(new ProtocolError('MESSAGE_TOO_BIG', 'WIRE-4', `frame of ${bytes.byteLength} B > ${max} B`));
  }
  // Plainly encoded hot bodies decode by hand (same Envelope as protobuf-es);
  // unknown fields, odd or malformed input go to protobuf-es (WIRE-2, WIRE-6).
  let envelope = decodeFast(bytes);
  if (envelope === undefined) {
    try {
      envelope = fromBinary(EnvelopeSchema, bytes);
    } catch (err) {
      const why = err instanceof Error ? err.message : 'undecodable';
      return fail(new ProtocolError('INVALID_PAYLOAD', 'WIRE-2', `not an Envelope: ${why}`));
    }
  }
  const problem = validate(envelope, opts.from);
  return problem ? fail(problem) : { ok: true, envelope };
}

/** Decode, throwing the ProtocolError instead of returning it. */
export function decodeOrThrow(bytes: Uint8Array, opts: DecodeOptions = {}): Envelope {
  const r = decode(bytes, opts);
  if (!r.ok) throw r.error;
  return r.envelope;
}

function fail(error: ProtocolError): DecodeResult {
  return { ok: false, error };
}

const utf8 = new TextEncoder();
function byteLength(s: string): number {
  // Fast path: ASCII strings are as long in bytes as in UTF-16 units.
  return s.length < 64 && /^[\x00-\x7f]*$/.test(s) ? s.length : utf8.encode(s).length;
}

function tooLong(field: string, s: string, max: number): ProtocolError | undefined {
  // A string of n UTF-16 units is at most 3n UTF-8 bytes (a surrogate pair is 2 units, 4 bytes),
  // so short strings — nearly all of them — need no encoding or scan at all (WIRE-5).
  if (s.length * 3 <= max) return undefined;
  return byteLength(s) > max
    ? new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', `${field} longer than ${max} bytes`)
    : undefined;
}

function badList(field: string, list: readonly string[], maxItems: number, maxBytes: number) {
  if (list.length > maxItems) {
    return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', `${field}: more than ${maxItems} entries`);
  }
  for (const item of list) {
    if (item.length === 0) return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', `${field}: empty entry`);
    const e = tooLong(field, item, maxBytes);
    if (e) return e;
  }
  return undefined;
}

function zeroSeq(what: string): ProtocolError {
  return new ProtocolError('PROTOCOL_ERROR', 'SEQ-2', `${what}.seq must be ≥ 1`);
}

/**
 * validate()'s checks of a Message body (SEQ-2, WIRE-5), for readers that skip the Envelope (the
 * client's inbound fast path, client/connection.ts): one implementation of the rule.
 */
export function messageProblem(m: { readonly seq: bigint; readonly channel: string; readonly key: string; readonly messageId: string }): ProtocolError | undefined {
  if (m.seq === 0n) return zeroSeq('Message');
  const d = defaults;
  return (
    tooLong('Message.channel', m.channel, d.maxChannelBytes) ??
    tooLong('Message.key', m.key, d.maxKeyBytes) ??
    tooLong('Message.message_id', m.messageId, d.maxMessageIdBytes)
  );
}

/**
 * Checks beyond Protobuf (WIRE-3, WIRE-5, WIRE-7): a body is present, the sender
 * may send it, numbers and strings are in range. State-dependent rules (Hello
 * first, no second Hello, seq continuity) belong to the machines.
 */
export function validate(env: Envelope, from?: Role): ProtocolError | undefined {
  const body = env.body;
  if (body.case === undefined) {
    return new ProtocolError('PROTOCOL_ERROR', 'WIRE-3', 'Envelope has no body');
  }
  if (from && !SENDABLE_BY[from].has(body.case)) {
    return new ProtocolError('PROTOCOL_ERROR', 'WIRE-7', `${body.case} may not be sent by a ${from}`);
  }
  const d = defaults;
  switch (body.case) {
    case 'hello': {
      const h = body.value;
      if (h.protocolVersion === 0) {
        return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', 'Hello.protocol_version must be ≥ 1');
      }
      return (
        tooLong('Hello.session_id', h.sessionId, d.maxSessionIdBytes) ??
        tooLong('Hello.token', h.token, d.maxTokenBytes) ??
        tooLong('Hello.agent', h.agent, 256) ??
        badList('Hello.channels', h.channels, d.maxChannelsPerFrame, d.maxChannelBytes) ??
        badList('Hello.capabilities', h.capabilities, d.maxCapabilities, 64) ??
        (h.sessionId === '' && h.lastServerSeq !== 0n
          ? new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', 'Hello.last_server_seq without session_id')
          : undefined)
      );
    }
    case 'welcome': {
      const w = body.value;
      if (w.sessionId === '') return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', 'Welcome.session_id empty');
      if (w.heartbeatIntervalMs === 0) {
        return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', 'Welcome.heartbeat_interval_ms must be ≥ 1');
      }
      if (w.maxPayloadBytes === 0) {
        return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', 'Welcome.max_payload_bytes must be ≥ 1');
      }
      if (w.resume === undefined) {
        return new ProtocolError('PROTOCOL_ERROR', 'RS-5', 'Welcome.resume is required');
      }
      return tooLong('Welcome.session_id', w.sessionId, d.maxSessionIdBytes) ?? badList('Welcome.capabilities', w.capabilities, d.maxCapabilities, 64);
    }
    case 'message':
      return messageProblem(body.value);
    case 'statePatch': {
      const p = body.value;
      if (p.seq === 0n) return zeroSeq('StatePatch');
      if (p.version <= p.baseVersion) {
        return new ProtocolError('PROTOCOL_ERROR', 'SD-1', 'StatePatch.version must exceed base_version');
      }
      if (p.channel === '') return new ProtocolError('PROTOCOL_ERROR', 'WIRE-5', 'StatePatch.channel empty');
      return (
        tooLong('StatePatch.channel', p.channel, d.maxChannelBytes) ??
        tooLong('StatePatch.message_id', p.messageId, d.maxMessageIdBytes)
      );
    }
    case 'snapshot': {
      const s = body.value;
      if (s.seq === 0n) return zeroSeq('Snapshot');
      return tooLong('Snapshot.channel', s.channel, d.maxChannelBytes);
    }
    case 'stateDrift':
      return tooLong('StateDrift.channel', body.value.channel, d.maxChannelBytes);
    case 'drainNotice':
      return tooLong('DrainNotice.target', body.value.target, 2048);
    case 'subscribe':
      return badList('Subscribe.channels', body.value.channels, d.maxChannelsPerFrame, d.maxChannelBytes);
    case 'unsubscribe':
      return badList('Unsubscribe.channels', body.value.channels, d.maxChannelsPerFrame, d.maxChannelBytes);
    case 'subscribed':
      return badList('Subscribed.channels', body.value.channels, d.maxChannelsPerFrame, d.maxChannelBytes);
    case 'heartbeat':
    case 'heartbeatAck':
    case 'ack':
      return undefined;
    default: {
      const exhaustive: never = body;
      return exhaustive;
    }
  }
}
