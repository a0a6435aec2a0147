/**
 * fast-check arbitraries for every Envelope body, valid by construction (WIRE-5).
 * Shared by the codec properties, the conformance vectors and the fuzz cases.
 */
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  EnvelopeSchema,
  type Envelope,
  BackpressurePolicy,
  DrainReason,
  DriftReason,
  ResumeOutcome,
  ResumeReason,
  SnapshotReason,
} from '../../gen/lifeline/v1/envelope_pb.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const seq = fc.bigInt({ min: 1n, max: (1n << 63n) - 1n });
const name = fc.string({ minLength: 1, maxLength: 24 });
const str = (max: number) => fc.string({ maxLength: max });
const bytes = fc.uint8Array({ maxLength: 256 });
const enumOf = (e: object) => fc.constantFrom(...Object.values(e).filter((v): v is number => typeof v === 'number'));

const bodies = {
  hello: fc.record({
    protocolVersion: fc.integer({ min: 1, max: 3 }),
    sessionId: str(32),
    lastServerSeq: u64,
    receiveWindow: u32,
    token: str(64),
    capabilities: fc.array(name, { maxLength: 4 }),
    channels: fc.array(name, { maxLength: 4 }),
    preferredPolicy: enumOf(BackpressurePolicy),
    agent: str(24),
  }).map((h) => (h.sessionId === '' ? { ...h, lastServerSeq: 0n } : h)),
  welcome: fc.record({
    sessionId: name,
    heartbeatIntervalMs: fc.integer({ min: 1, max: 0xffffffff }),
    heartbeatMissedMax: u32,
    maxPayloadBytes: fc.integer({ min: 1, max: 0xffffffff }),
    resumeTtlMs: u32,
    replayWindowMessages: u32,
    resume: fc.record({ outcome: enumOf(ResumeOutcome), reason: enumOf(ResumeReason), fromSeq: u64, replayed: u32 }),
    lastClientSeq: u64,
    receiveWindow: u32,
    policy: enumOf(BackpressurePolicy),
    queueLimitMessages: u32,
    serverTimeMs: u64,
    heartbeatIntervalMaxMs: u32,
  }),
  heartbeat: fc.record({ id: u32, sentAtMs: u64, rttMs: u32 }),
  heartbeatAck: fc.record({ id: u32, echoSentAtMs: u64, intervalMs: u32 }),
  ack: fc.record({ seq: u64 }),
  message: fc.record({ seq, messageId: str(32), channel: str(24), key: str(24), payload: bytes, droppedBefore: u32 }),
  statePatch: fc
    .record({ seq, messageId: str(32), channel: name, baseVersion: fc.bigInt({ min: 0n, max: (1n << 64n) - 1001n }), step: fc.bigInt({ min: 1n, max: 1000n }), delta: bytes, digest: u32, droppedBefore: u32 })
    .map(({ step, ...p }) => ({ ...p, version: p.baseVersion + step })),
  snapshot: fc.record({ seq, channel: str(24), version: u64, state: bytes, digest: u32, reason: enumOf(SnapshotReason) }),
  stateDrift: fc.record({ channel: str(24), serverSeq: u64, clientSeq: u64, expectedVersion: u64, actualVersion: u64, reason: enumOf(DriftReason) }),
  drainNotice: fc.record({ reason: enumOf(DrainReason), reconnectAfterMs: u32, deadlineMs: u32, target: str(40) }),
  subscribe: fc.record({ channels: fc.array(name, { maxLength: 5 }) }),
  unsubscribe: fc.record({ channels: fc.array(name, { maxLength: 5 }) }),
  subscribed: fc.record({ channels: fc.array(name, { maxLength: 5 }) }),
} as const;

export type BodyName = keyof typeof bodies;
export const bodyNames = Object.keys(bodies) as BodyName[];

/** A valid Envelope with the given body (or any body). */
export function arbEnvelope(only?: readonly BodyName[]): fc.Arbitrary<Envelope> {
  const names = only ?? bodyNames;
  return fc.oneof(
    ...names.map((n) =>
      (bodies[n] as fc.Arbitrary<object>).map((value) =>
        create(EnvelopeSchema, { body: { case: n, value } as Envelope['body'] } as never),
      ),
    ),
  );
}
