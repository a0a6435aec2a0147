/**
 * The golden test vectors (WIRE-1 … WIRE-7): hand-picked envelopes with their
 * bytes, their decoded JSON form and the verdict a receiver must reach. They
 * are written to conformance/vectors/*.json by generate.ts so that a codec in
 * any language can be checked without running the suite. The verdicts come from
 * spec/protocol/codec.ts, the reference codec, and vectors.test.ts checks both.
 */
import { create, toJson, type JsonValue } from '@bufbuild/protobuf';
import {
  BackpressurePolicy,
  DrainReason,
  DriftReason,
  EnvelopeSchema,
  ResumeOutcome,
  ResumeReason,
  SnapshotReason,
  type Envelope,
} from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode, type Role } from '../../spec/protocol/codec.js';
import { closeCodeName } from '../../spec/protocol/close-codes.js';
import { rawEnvelope, rawMessage, toHex, type RawField } from '../wire.js';

/** One vector as stored in the JSON files. */
export interface Vector {
  readonly name: string;
  readonly description: string;
  /** Spec ids the vector exercises. */
  readonly spec: readonly string[];
  /** The frame, hex. */
  readonly hex: string;
  /** Decode as if this role sent it (WIRE-7); absent = role not checked. */
  readonly from?: Role;
  /** Receiver's frame limit for this vector (WIRE-4); absent = the default 1 MiB. */
  readonly maxPayloadBytes?: number;
  readonly valid: boolean;
  /** protobuf-es toJson of what Protobuf parses (unknown fields dropped); null when it does not parse. */
  readonly json: JsonValue | null;
  /** For invalid vectors: the close code the receiver must send. */
  readonly closeCode?: number;
  readonly closeName?: string;
}

export interface VectorFile {
  readonly file: string;
  readonly description: string;
  readonly vectors: readonly Vector[];
}

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

type Body = NonNullable<Envelope['body']['case']>;

function env<K extends Body>(body: K, value: Extract<Envelope['body'], { case: K }>['value'] | object): Envelope {
  return create(EnvelopeSchema, { body: { case: body, value } as Envelope['body'] });
}

function jsonOf(e: Envelope): JsonValue {
  return toJson(EnvelopeSchema, e);
}

/** The verdict the reference codec reaches; the generator records it, the test re-checks it. */
function verdict(bytes: Uint8Array, from?: Role, maxPayloadBytes?: number): Pick<Vector, 'valid' | 'closeCode' | 'closeName'> {
  const r = decode(bytes, { ...(from ? { from } : {}), ...(maxPayloadBytes ? { maxPayloadBytes } : {}) });
  if (r.ok) return { valid: true };
  return { valid: false, closeCode: r.error.code, closeName: closeCodeName(r.error.code) ?? 'UNREGISTERED' };
}

interface Spec {
  name: string;
  description: string;
  spec: string[];
  from?: Role;
  maxPayloadBytes?: number;
}

function valid(s: Spec, e: Envelope): Vector {
  const bytes = encode(e);
  return finish(s, bytes, jsonOf(e));
}

/** A vector from hand-built bytes; `intended` is what Protobuf parses them to, if anything. */
function crafted(s: Spec, bytes: Uint8Array, intended: Envelope | null): Vector {
  return finish(s, bytes, intended ? jsonOf(intended) : null);
}

function finish(s: Spec, bytes: Uint8Array, json: JsonValue | null): Vector {
  const v = verdict(bytes, s.from, s.maxPayloadBytes);
  return {
    name: s.name,
    description: s.description,
    spec: s.spec,
    hex: toHex(bytes),
    ...(s.from ? { from: s.from } : {}),
    ...(s.maxPayloadBytes ? { maxPayloadBytes: s.maxPayloadBytes } : {}),
    ...v,
    json,
  };
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const welcomeBase = {
  sessionId: 's-1',
  heartbeatIntervalMs: 25_000,
  heartbeatMissedMax: 2,
  maxPayloadBytes: 1_048_576,
  resumeTtlMs: 120_000,
  replayWindowMessages: 1024,
  resume: { outcome: ResumeOutcome.NEW, reason: ResumeReason.NOT_REQUESTED, fromSeq: 1n, replayed: 0 },
  lastClientSeq: 0n,
  receiveWindow: 256,
  policy: BackpressurePolicy.DROP_OLDEST,
  queueLimitMessages: 1024,
  serverTimeMs: 1_700_000_000_000n,
  heartbeatIntervalMaxMs: 120_000,
};

function bodies(): VectorFile {
  const vs: Vector[] = [
    valid({ name: 'hello-minimal', description: 'Hello for a new session: only protocol_version', spec: ['HS-8', 'WIRE-1'], from: 'client' }, env('hello', { protocolVersion: 1 })),
    valid(
      { name: 'hello-resume-full', description: 'resuming Hello with every field set', spec: ['RS-10', 'WIRE-1'], from: 'client' },
      env('hello', {
        protocolVersion: 1, sessionId: 'sess-42', lastServerSeq: 17n, receiveWindow: 64, token: 't0k3n',
        capabilities: ['state', 'drain', 'coalesce'], channels: ['demo.counter', 'demo.ticker'],
        preferredPolicy: BackpressurePolicy.COALESCE_BY_KEY, agent: 'lifeline-js/0.1',
      }),
    ),
    valid(
      { name: 'hello-limits', description: 'Hello with session id of 128 bytes and a 256-byte channel: exactly at the limits of §17', spec: ['WIRE-5'], from: 'client' },
      env('hello', { protocolVersion: 1, sessionId: 's'.repeat(128), lastServerSeq: U64_MAX, channels: ['c'.repeat(256)] }),
    ),
    valid({ name: 'welcome-new', description: 'Welcome for a new session with every field set', spec: ['HS-9', 'RS-5'], from: 'server' }, env('welcome', welcomeBase)),
    valid(
      { name: 'welcome-resumed', description: 'Welcome after a replay resume: from_seq and replayed say what follows', spec: ['RS-2', 'RS-5'], from: 'server' },
      env('welcome', { ...welcomeBase, resume: { outcome: ResumeOutcome.RESUMED, reason: ResumeReason.REPLAYED, fromSeq: 18n, replayed: 3 }, lastClientSeq: 9n }),
    ),
    valid(
      { name: 'welcome-minimal', description: 'smallest valid Welcome: session id, interval 1, payload 1, empty resume', spec: ['WIRE-5'], from: 'server' },
      env('welcome', { sessionId: 'x', heartbeatIntervalMs: 1, maxPayloadBytes: 1, resume: {} }),
    ),
    valid(
      { name: 'welcome-u32-max', description: 'Welcome with every uint32 at 2³²−1 and every uint64 at 2⁶⁴−1', spec: ['WIRE-1'], from: 'server' },
      env('welcome', {
        sessionId: 'x', heartbeatIntervalMs: U32_MAX, heartbeatMissedMax: U32_MAX, maxPayloadBytes: U32_MAX, resumeTtlMs: U32_MAX,
        replayWindowMessages: U32_MAX, resume: { outcome: ResumeOutcome.SNAPSHOT, reason: ResumeReason.CLIENT_AHEAD, fromSeq: U64_MAX, replayed: U32_MAX },
        lastClientSeq: U64_MAX, receiveWindow: U32_MAX, policy: BackpressurePolicy.DISCONNECT, queueLimitMessages: U32_MAX,
        serverTimeMs: U64_MAX, heartbeatIntervalMaxMs: U32_MAX,
      }),
    ),
    valid({ name: 'heartbeat', description: 'application Heartbeat', spec: ['HB-5'] }, env('heartbeat', { id: 7, sentAtMs: 123_456n, rttMs: 12 })),
    valid({ name: 'heartbeat-zero', description: 'Heartbeat with every field 0: an empty body is still a body', spec: ['HB-5', 'WIRE-3'] }, env('heartbeat', {})),
    valid({ name: 'heartbeat-ack', description: 'HeartbeatAck echoing id and sent_at_ms', spec: ['HB-6'] }, env('heartbeatAck', { id: 7, echoSentAtMs: 123_456n, intervalMs: 30_000 })),
    valid({ name: 'ack', description: 'cumulative Ack', spec: ['SEQ-5'] }, env('ack', { seq: 42n })),
    valid({ name: 'ack-zero', description: 'Ack 0 (nothing processed yet) is valid', spec: ['SEQ-5'] }, env('ack', { seq: 0n })),
    valid({ name: 'ack-u64-max', description: 'Ack at 2⁶⁴−1', spec: ['SEQ-5'] }, env('ack', { seq: U64_MAX })),
    valid(
      { name: 'message-full', description: 'Message with every field', spec: ['SEQ-1', 'BP-10'] },
      env('message', { seq: 1n, messageId: 'm-1', channel: 'chat', key: 'k', payload: utf8('{"hi":1}'), droppedBefore: 3 }),
    ),
    valid({ name: 'message-seq-max', description: 'Message with seq 2⁶⁴−1 and an empty payload', spec: ['SEQ-1'] }, env('message', { seq: U64_MAX })),
    valid(
      { name: 'message-unicode', description: 'Message whose channel and key are multi-byte UTF-8', spec: ['WIRE-1'] },
      env('message', { seq: 2n, channel: 'café/频道', key: '🔑', payload: new Uint8Array([0, 255, 128]) }),
    ),
    valid(
      { name: 'state-patch', description: 'StatePatch with digest', spec: ['SD-1', 'SD-3'], from: 'server' },
      env('statePatch', { seq: 5n, messageId: 'p-5', channel: 'demo.counter', baseVersion: 3n, version: 4n, delta: utf8('{"value":4}'), digest: 0xe3069283, droppedBefore: 0 }),
    ),
    valid(
      { name: 'state-patch-edge', description: 'StatePatch from version 2⁶⁴−2 to 2⁶⁴−1 with digest 2³²−1', spec: ['SD-1'], from: 'server' },
      env('statePatch', { seq: 1n, channel: 'c', baseVersion: U64_MAX - 1n, version: U64_MAX, digest: U32_MAX }),
    ),
    valid(
      { name: 'snapshot', description: 'Snapshot of a channel', spec: ['SD-4', 'CH-1'], from: 'server' },
      env('snapshot', { seq: 1n, channel: 'demo.counter', version: 3n, state: utf8('{"value":3}'), digest: 0x12345678, reason: SnapshotReason.SUBSCRIBED }),
    ),
    valid(
      { name: 'snapshot-session', description: 'Snapshot with an empty channel: the session re-baseline of SD-5', spec: ['SD-4', 'SD-5'], from: 'server' },
      env('snapshot', { seq: 9n, reason: SnapshotReason.DRIFT }),
    ),
    valid(
      { name: 'state-drift', description: 'StateDrift for a version gap', spec: ['SD-2'] },
      env('stateDrift', { channel: 'demo.counter', serverSeq: 10n, clientSeq: 8n, expectedVersion: 4n, actualVersion: 6n, reason: DriftReason.VERSION_GAP }),
    ),
    valid({ name: 'state-drift-session', description: 'StateDrift with an empty channel (seq gap)', spec: ['SD-2', 'SD-5'] }, env('stateDrift', { reason: DriftReason.SEQ_GAP })),
    valid(
      { name: 'drain-notice', description: 'DrainNotice with target', spec: ['DR-2', 'DR-6'], from: 'server' },
      env('drainNotice', { reason: DrainReason.REBALANCE, reconnectAfterMs: 1500, deadlineMs: 25_000, target: 'wss://b.example/ws' }),
    ),
    valid({ name: 'subscribe', description: 'Subscribe to two channels', spec: ['CH-1'], from: 'client' }, env('subscribe', { channels: ['a', 'b'] })),
    valid({ name: 'subscribe-empty', description: 'Subscribe with no channel is a no-op, still valid', spec: ['CH-1'], from: 'client' }, env('subscribe', {})),
    valid({ name: 'unsubscribe', description: 'Unsubscribe', spec: ['CH-2'], from: 'client' }, env('unsubscribe', { channels: ['a'] })),
    valid({ name: 'subscribed', description: 'Subscribed confirming two channels (a body added after v1, WIRE-10)', spec: ['CH-4'], from: 'server' }, env('subscribed', { channels: ['a', 'b'] })),
    valid(
      { name: 'payload-at-limit', description: 'a frame of exactly the receiver limit (64 B here) is accepted', spec: ['WIRE-4'], maxPayloadBytes: 64 },
      env('message', { seq: 1n, payload: new Uint8Array(58) }),
    ),
  ];
  return { file: 'bodies.json', description: 'Valid envelopes, every body, edge values (WIRE-1, WIRE-5 limits).', vectors: vs };
}

function unknowns(): VectorFile {
  // Heartbeats, so that a server can be sent every vector in any state of a session.
  const hbWithUnknown = rawEnvelope('heartbeat', [{ no: 1, varint: 7 }, { no: 15, str: 'future field' }]);
  const envWithUnknown = rawMessage([{ no: 3, msg: [{ no: 1, varint: 8 }] }, { no: 127, varint: 1 }]);
  const enumUnknown = rawEnvelope('welcome', [{ no: 1, str: 's' }, { no: 2, varint: 1 }, { no: 4, varint: 1 }, { no: 7, msg: [{ no: 1, varint: 42 }] }, { no: 10, varint: 99 }]);
  const twoBodies = rawMessage([{ no: 5, msg: [{ no: 1, varint: 2 }] }, { no: 3, msg: [{ no: 1, varint: 9 }] }]);
  const vs: Vector[] = [
    crafted({ name: 'unknown-field-in-body', description: 'Heartbeat with an unknown field 15: ignored (WIRE-6)', spec: ['WIRE-6'] }, hbWithUnknown, env('heartbeat', { id: 7 })),
    crafted({ name: 'unknown-field-in-envelope', description: 'Heartbeat body beside an unknown envelope field 127: ignored', spec: ['WIRE-6'] }, envWithUnknown, env('heartbeat', { id: 8 })),
    crafted(
      { name: 'unknown-enum-value', description: 'Welcome.policy 99 and resume.outcome 42: kept by Protobuf, treated as UNSPECIFIED (WIRE-6)', spec: ['WIRE-6'], from: 'server' },
      enumUnknown,
      env('welcome', { sessionId: 's', heartbeatIntervalMs: 1, maxPayloadBytes: 1, resume: { outcome: 42 as ResumeOutcome }, policy: 99 as BackpressurePolicy }),
    ),
    crafted(
      { name: 'two-bodies-last-wins', description: 'ack then heartbeat in one Envelope: Protobuf oneof semantics, the last body (heartbeat) wins', spec: ['WIRE-1'] },
      twoBodies,
      env('heartbeat', { id: 9 }),
    ),
  ];
  return { file: 'unknown-fields.json', description: 'Unknown fields and enum values are ignored, never an error (WIRE-6).', vectors: vs };
}

function malformed(): VectorFile {
  const full = encode(env('message', { seq: 3n, channel: 'chat', payload: utf8('hello world') }));
  const vs: Vector[] = [
    crafted({ name: 'empty-frame', description: 'zero bytes: an Envelope with no body', spec: ['WIRE-3'] }, new Uint8Array(0), create(EnvelopeSchema)),
    crafted({ name: 'unknown-body-only', description: 'only an unknown field 127: no body the receiver knows', spec: ['WIRE-3', 'WIRE-6'] }, rawMessage([{ no: 127, varint: 1 }]), create(EnvelopeSchema)),
    crafted({ name: 'garbage', description: 'bytes that are not Protobuf', spec: ['WIRE-2'] }, new Uint8Array([0xff, 0xff, 0xff, 0xff]), null),
    crafted({ name: 'truncated-body', description: 'a Message cut in the middle of its payload', spec: ['WIRE-2'] }, full.subarray(0, full.length - 4), null),
    crafted({ name: 'truncated-length', description: 'body field 6 claims 16 bytes, 2 follow', spec: ['WIRE-2'] }, new Uint8Array([0x32, 0x10, 0x08, 0x01]), null),
    crafted({ name: 'truncated-varint', description: 'a varint whose continuation bit never ends', spec: ['WIRE-2'] }, new Uint8Array([0x2a, 0x02, 0x08, 0x80]), null),
    crafted({ name: 'wrong-wire-type', description: 'body field 6 sent as a varint instead of a message', spec: ['WIRE-2'] }, rawMessage([{ no: 6, varint: 5 }]), null),
    crafted(
      { name: 'invalid-utf8', description: 'Message.channel holding the bytes ff fe (not UTF-8)', spec: ['WIRE-2'] },
      rawEnvelope('message', [{ no: 1, varint: 1 }, { no: 3, bytes: new Uint8Array([0xff, 0xfe]) }]),
      null,
    ),
    valid(
      { name: 'oversized', description: 'a 105-byte frame to a receiver whose limit is 64 B: closed before decoding', spec: ['WIRE-4'], maxPayloadBytes: 64 },
      env('message', { seq: 1n, payload: new Uint8Array(100) }),
    ),
  ];
  return { file: 'malformed.json', description: 'Frames that are not a usable Envelope: no body (1002), not Protobuf (1007), too big (1009).', vectors: vs };
}

function outOfRange(): VectorFile {
  const c = (name: string, description: string, spec: string[], body: Body, fields: RawField[], intended: object, from?: Role): Vector =>
    crafted({ name, description, spec, ...(from ? { from } : {}) }, rawEnvelope(body, fields), env(body, intended));
  const long = (n: number) => 'x'.repeat(n);
  const vs: Vector[] = [
    c('message-seq-zero', 'Message with seq 0', ['WIRE-5', 'SEQ-2'], 'message', [{ no: 5, bytes: utf8('p') }], { payload: utf8('p') }),
    c('state-patch-seq-zero', 'StatePatch with seq 0', ['WIRE-5'], 'statePatch', [{ no: 3, str: 'c' }, { no: 5, varint: 1 }], { channel: 'c', version: 1n }, 'server'),
    c('snapshot-seq-zero', 'Snapshot with seq 0', ['WIRE-5'], 'snapshot', [{ no: 2, str: 'c' }], { channel: 'c' }, 'server'),
    c('state-patch-version-equal', 'StatePatch whose version equals base_version', ['WIRE-5', 'SD-1'], 'statePatch',
      [{ no: 1, varint: 1 }, { no: 3, str: 'c' }, { no: 4, varint: 5 }, { no: 5, varint: 5 }], { seq: 1n, channel: 'c', baseVersion: 5n, version: 5n }, 'server'),
    c('state-patch-version-below', 'StatePatch whose version is below base_version', ['WIRE-5'], 'statePatch',
      [{ no: 1, varint: 1 }, { no: 3, str: 'c' }, { no: 4, varint: 5 }, { no: 5, varint: 4 }], { seq: 1n, channel: 'c', baseVersion: 5n, version: 4n }, 'server'),
    c('state-patch-no-channel', 'StatePatch with an empty channel', ['WIRE-5'], 'statePatch', [{ no: 1, varint: 1 }, { no: 5, varint: 1 }], { seq: 1n, version: 1n }, 'server'),
    c('welcome-empty-session', 'Welcome with an empty session_id', ['WIRE-5'], 'welcome', [{ no: 2, varint: 1 }, { no: 4, varint: 1 }, { no: 7, msg: [] }],
      { heartbeatIntervalMs: 1, maxPayloadBytes: 1, resume: {} }, 'server'),
    c('welcome-zero-interval', 'Welcome with heartbeat_interval_ms 0', ['WIRE-5'], 'welcome', [{ no: 1, str: 's' }, { no: 4, varint: 1 }, { no: 7, msg: [] }],
      { sessionId: 's', maxPayloadBytes: 1, resume: {} }, 'server'),
    c('welcome-zero-payload', 'Welcome with max_payload_bytes 0', ['WIRE-5'], 'welcome', [{ no: 1, str: 's' }, { no: 2, varint: 1 }, { no: 7, msg: [] }],
      { sessionId: 's', heartbeatIntervalMs: 1, resume: {} }, 'server'),
    c('welcome-no-resume', 'Welcome without a ResumeResult', ['WIRE-5', 'RS-5'], 'welcome', [{ no: 1, str: 's' }, { no: 2, varint: 1 }, { no: 4, varint: 1 }],
      { sessionId: 's', heartbeatIntervalMs: 1, maxPayloadBytes: 1 }, 'server'),
    c('hello-version-zero', 'Hello with protocol_version 0', ['WIRE-5'], 'hello', [{ no: 9, str: 'agent' }], { agent: 'agent' }, 'client'),
    c('hello-seq-without-session', 'Hello with last_server_seq 5 and no session_id', ['WIRE-5'], 'hello', [{ no: 1, varint: 1 }, { no: 3, varint: 5 }],
      { protocolVersion: 1, lastServerSeq: 5n }, 'client'),
    c('hello-session-too-long', 'Hello.session_id of 129 bytes', ['WIRE-5'], 'hello', [{ no: 1, varint: 1 }, { no: 2, str: long(129) }], { protocolVersion: 1, sessionId: long(129) }, 'client'),
    c('hello-empty-channel', 'Hello.channels with an empty entry', ['WIRE-5'], 'hello', [{ no: 1, varint: 1 }, { no: 7, str: '' }], { protocolVersion: 1, channels: [''] }, 'client'),
    c('message-channel-too-long', 'Message.channel of 257 bytes', ['WIRE-5'], 'message', [{ no: 1, varint: 1 }, { no: 3, str: long(257) }], { seq: 1n, channel: long(257) }),
    c('message-key-too-long', 'Message.key of 257 bytes', ['WIRE-5'], 'message', [{ no: 1, varint: 1 }, { no: 4, str: long(257) }], { seq: 1n, key: long(257) }),
    c('message-id-too-long', 'Message.message_id of 129 bytes', ['WIRE-5'], 'message', [{ no: 1, varint: 1 }, { no: 2, str: long(129) }], { seq: 1n, messageId: long(129) }),
    c('subscribe-too-many', 'Subscribe with 1025 channels', ['WIRE-5'], 'subscribe',
      Array.from({ length: 1025 }, (_, i) => ({ no: 1, str: `c${i}` })), { channels: Array.from({ length: 1025 }, (_, i) => `c${i}`) }, 'client'),
  ];
  return { file: 'out-of-range.json', description: 'Decodable envelopes with a value out of range: PROTOCOL_ERROR 1002 (WIRE-5).', vectors: vs };
}

function wrongRole(): VectorFile {
  const server = (b: Body, value: object) => valid({ name: `client-sends-${b}`, description: `${b} sent by a client`, spec: ['WIRE-7'], from: 'client' }, env(b, value));
  const client = (b: Body, value: object) => valid({ name: `server-sends-${b}`, description: `${b} sent by a server`, spec: ['WIRE-7'], from: 'server' }, env(b, value));
  const vs: Vector[] = [
    server('welcome', welcomeBase),
    server('statePatch', { seq: 1n, channel: 'c', baseVersion: 0n, version: 1n }),
    server('snapshot', { seq: 1n, channel: 'c' }),
    server('drainNotice', { reconnectAfterMs: 1 }),
    server('subscribed', { channels: ['a'] }),
    client('hello', { protocolVersion: 1 }),
    client('subscribe', { channels: ['a'] }),
    client('unsubscribe', { channels: ['a'] }),
  ];
  return { file: 'wrong-role.json', description: 'A body the sender\'s role may not send: PROTOCOL_ERROR 1002 (WIRE-7).', vectors: vs };
}

/** Every vector file, in a stable order. */
export function buildVectorFiles(): VectorFile[] {
  return [bodies(), unknowns(), malformed(), outOfRange(), wrongRole()];
}

/** The JSON text of a vector file exactly as stored (two-space indent, trailing newline). */
export function renderVectorFile(f: VectorFile): string {
  return `${JSON.stringify({ description: f.description, vectors: f.vectors }, null, 2)}\n`;
}
