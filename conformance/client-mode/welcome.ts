/** The Welcome the fake server sends unless a case overrides fields (over a WebSocket or the HTTP carrier). */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { BackpressurePolicy, ResumeOutcome, ResumeReason, type Envelope, type WelcomeSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { envelope } from '../server-mode/peer.js';

/** Welcome fields a case overrides. */
export type WelcomeInit = Omit<MessageInitShape<typeof WelcomeSchema>, '$typeName'>;

export function welcomeEnvelope(fields: WelcomeInit = {}): Envelope {
  return envelope('welcome', {
    sessionId: 'sess-1',
    heartbeatIntervalMs: 1000,
    heartbeatMissedMax: 2,
    maxPayloadBytes: 1024 * 1024,
    resumeTtlMs: 120_000,
    replayWindowMessages: 1024,
    receiveWindow: 256,
    policy: BackpressurePolicy.DROP_OLDEST,
    queueLimitMessages: 1024,
    resume: { outcome: ResumeOutcome.NEW, reason: ResumeReason.NOT_REQUESTED, fromSeq: 1n, replayed: 0 },
    ...fields,
  });
}
