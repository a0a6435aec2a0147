/**
 * What the server sends, built before it is sent: queued items (pre-seq, spec §7.2) and the
 * envelopes the session writes. Pure construction, no socket: server.ts and session.ts decide
 * when.
 */
import { create } from '@bufbuild/protobuf';
import {
  EnvelopeSchema,
  ResumeResultSchema,
  StatePatchSchema,
  WelcomeSchema,
  type BackpressurePolicy,
  type Envelope,
  type ResumeOutcome,
  type ResumeReason,
} from '../gen/lifeline/v1/envelope_pb.js';
import type { QueueItem } from '../spec/protocol/backpressure-queue.js';
import { messageEnvelope } from '../spec/protocol/fast-codec.js';
import type { ResolvedOptions } from './options.js';
import type { PublishMessage, PublishPatch } from './types.js';
import type { FanOutShare } from './shared-frame.js';

/** A queued Message or StatePatch, before it has a seq. */
export interface OutItem extends QueueItem {
  readonly messageId: string;
  /** Message payload or StatePatch delta. */
  readonly payload: Uint8Array;
  readonly baseVersion: bigint;
  readonly version: bigint;
  readonly digest: number;
  /** Clock ms when published: delivery latency is measured from here to the socket write. */
  readonly enqueuedAt: number;
  /** Set on published items: their deliveries share one encoding (server/shared-frame.ts). */
  readonly share?: FanOutShare | undefined;
  /**
   * The broker position of a published item (Publication.position, MN-2): one value shared by every
   * session the publication reaches; the commit that sequences the item stores it as the channel's.
   */
  readonly position?: string | undefined;
}

/** A Message item; `isPublished` items share one encoding among their subscribers. */
export function messageItem(channel: string, m: Omit<PublishMessage, 'channel'>, nowMs: number, isPublished: boolean, position?: string): OutItem {
  return {
    kind: 'message',
    channel,
    key: m.key ?? '',
    messageId: m.messageId ?? '',
    payload: m.payload,
    bytes: m.payload.byteLength,
    baseVersion: 0n,
    version: 0n,
    digest: 0,
    enqueuedAt: nowMs,
    // One object shape for every item: a conditional spread built a dictionary-mode object per send.
    share: isPublished ? { writes: 0, frame: undefined } : undefined, // shared-frame.ts
    position,
  };
}

/** A StatePatch item (always published to a channel). */
export function patchItem(channel: string, p: PublishPatch, nowMs: number, position?: string): OutItem {
  if (p.version <= p.baseVersion) throw new RangeError('StatePatch.version must exceed base_version (SD-1)');
  return {
    kind: 'patch',
    channel,
    key: '', // StatePatch has no key on the wire: patches never coalesce (spec §11.6)
    messageId: p.messageId ?? '',
    payload: p.delta,
    bytes: p.delta.byteLength,
    baseVersion: p.baseVersion,
    version: p.version,
    digest: p.digest ?? 0,
    enqueuedAt: nowMs,
    share: { writes: 0, frame: undefined },
    position,
  };
}

/** The Message or StatePatch envelope of a queued item, seq to be set. */
export function envelopeOf(it: OutItem, droppedBefore: number): Envelope & { body: { case: 'message' | 'statePatch' } } {
  // The Message envelope as create() builds it, without its per-call schema walk (issue 7).
  if (it.kind === 'message') return messageEnvelope(0n, it.messageId, it.channel, it.key, it.payload, droppedBefore);
  const p = create(StatePatchSchema, {
    messageId: it.messageId,
    channel: it.channel,
    baseVersion: it.baseVersion,
    version: it.version,
    delta: it.payload,
    digest: it.digest,
    droppedBefore,
  });
  return create(EnvelopeSchema, { body: { case: 'statePatch', value: p } }) as Envelope & { body: { case: 'statePatch' } };
}

/** What a Welcome says of its session besides the server's options (HS-9, RS-5, SEQ-9). */
export interface WelcomeFacts {
  readonly sessionId: string;
  readonly policy: BackpressurePolicy;
  /** Welcome.last_client_seq (SEQ-9). */
  readonly lastClientSeq: bigint;
  /** Welcome.capabilities: what this server uses of the client's announced capabilities (CH-4). */
  readonly capabilities?: readonly string[];
}

/** The Welcome of a session: the negotiated parameters (§6.6) and the resume result (RS-5). */
export function welcomeEnvelope(o: ResolvedOptions, s: WelcomeFacts, outcome: ResumeOutcome, reason: ResumeReason, fromSeq: bigint, replayed: number): Envelope {
  return create(EnvelopeSchema, {
    body: {
      case: 'welcome',
      value: create(WelcomeSchema, {
        sessionId: s.sessionId,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        heartbeatMissedMax: o.heartbeatMissedMax,
        maxPayloadBytes: o.maxPayloadBytes,
        resumeTtlMs: o.resumeTtlMs,
        replayWindowMessages: o.replayWindowMessages,
        resume: create(ResumeResultSchema, { outcome, reason, fromSeq, replayed }),
        lastClientSeq: s.lastClientSeq,
        receiveWindow: o.receiveWindow,
        policy: s.policy,
        queueLimitMessages: o.queueLimitMessages,
        serverTimeMs: BigInt(Date.now()),
        heartbeatIntervalMaxMs: o.heartbeatIntervalMaxMs, // HB-11: the base itself when adaptation is off
        clientAckDelayMs: o.clientAckDelayMs, // SEQ-12: 0 = the client's own
        capabilities: [...(s.capabilities ?? [])],
      }),
    },
  });
}
