/**
 * The control envelopes the client sends (Hello, Heartbeat, HeartbeatAck) and the RTT its
 * heartbeats measure: what goes in them, apart from when the connection sends them.
 */
import { create } from '@bufbuild/protobuf';
import {
  BackpressurePolicy,
  EnvelopeSchema,
  HeartbeatAckSchema,
  HeartbeatSchema,
  HelloSchema,
  type Envelope,
  type Heartbeat,
} from '../gen/lifeline/v1/envelope_pb.js';
import { PROTOCOL_VERSION, SUBSCRIBED_CAPABILITY } from '../spec/protocol/defaults.js';
import type { ClientOptions } from './options.js';

/** Hello.capabilities by default: what this client implements (one shared list, the Hello copies it). */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze(['state', 'drain', SUBSCRIBED_CAPABILITY]);

/**
 * HS-8: the Hello of an attempt; a resume (`sessionId` set) carries `lastSeq`, the highest seq
 * processed contiguously (RS-10), and `channels` (RS-9).
 */
export function helloEnvelope(
  options: Pick<ClientOptions<unknown>, 'preferredPolicy' | 'agent'>,
  sessionId: string,
  token: string | undefined,
  lastSeq: bigint,
  receiveWindow: number,
  capabilities: readonly string[],
  channels: string[],
): Envelope {
  const hello = create(HelloSchema, {
    protocolVersion: PROTOCOL_VERSION,
    sessionId,
    lastServerSeq: sessionId ? lastSeq : 0n, // RS-10
    receiveWindow,
    token: token ?? '',
    capabilities: [...capabilities], // WIRE-10: what the server may send beyond v1
    channels, // RS-9
    preferredPolicy: options.preferredPolicy ?? BackpressurePolicy.UNSPECIFIED,
    agent: options.agent ?? 'lifeline-js/0.1',
  });
  return create(EnvelopeSchema, { body: { case: 'hello', value: hello } });
}

/** HB-5: a Heartbeat with its id, when it was sent and the smoothed RTT so far (HB-9). */
export function heartbeatEnvelope(id: number, nowMs: number, smoothedRttMs: number | undefined): Envelope {
  const hb = create(HeartbeatSchema, {
    id,
    sentAtMs: BigInt(Math.floor(nowMs)),
    rttMs: Math.round(smoothedRttMs ?? 0), // HB-9
  });
  return create(EnvelopeSchema, { body: { case: 'heartbeat', value: hb } });
}

/** HB-6: the answer to the server's Heartbeat `hb`. */
export function heartbeatAckEnvelope(hb: Heartbeat): Envelope {
  const ack = create(HeartbeatAckSchema, { id: hb.id, echoSentAtMs: hb.sentAtMs });
  return create(EnvelopeSchema, { body: { case: 'heartbeatAck', value: ack } });
}

/** HB-9: the smoothed RTT after the sample `rttMs`, like TCP's SRTT (RFC 6298, α = 1/8). */
export function smoothedRttAfter(smoothedRttMs: number | undefined, rttMs: number): number {
  return smoothedRttMs === undefined ? rttMs : smoothedRttMs + (rttMs - smoothedRttMs) / 8;
}
