/**
 * Test support: the server session machine's events, one of each kind and each flag, for the
 * model walk (server-session.machine.test.ts) and the runner's equivalence property
 * (server/session-actor.test.ts). Each carries the facts its guards read, as the adapter sends them.
 */
import { create } from '@bufbuild/protobuf';
import { HeartbeatSchema, HelloSchema, MessageSchema, StateDriftSchema } from '../../gen/lifeline/v1/envelope_pb.js';
import { codeOf } from '../protocol/close-codes.js';
import type { Arrival } from '../protocol/session-rules.js';
import type { ServerSessionEvent } from './server-session.machine.js';

export const helloEvent = (over: Partial<Extract<ServerSessionEvent, { type: 'frame.hello' }>> = {}): ServerSessionEvent => ({
  type: 'frame.hello', hello: create(HelloSchema, { protocolVersion: 1 }), isVersionSupported: true, isAuthorized: true, isResume: false, isOverCapacity: false, isForbidden: false, isOverChannelLimit: false, ...over,
});
export const heartbeatEvent = (isRttStable?: boolean): ServerSessionEvent => ({
  type: 'frame.heartbeat', heartbeat: create(HeartbeatSchema, { id: 1, sentAtMs: 1n }), ...(isRttStable === undefined ? {} : { isRttStable }),
});
/** A client Message that arrives as `arrival` after seq 5 (SEQ-3, SEQ-4), within the window of 64 unless `isBeyondWindow` (BP-17). */
export const messageEvent = (arrival: Arrival, o: { isOverRate?: boolean; isBeyondWindow?: boolean } = {}): ServerSessionEvent => ({
  type: 'frame.message',
  message: create(MessageSchema, { seq: arrival === 'next' ? 6n : arrival === 'duplicate' ? 5n : 8n, channel: 'c' }),
  isOverRate: o.isOverRate ?? false,
  inbound: o.isBeyondWindow ? { lastAccepted: 5n, lastAckSent: 0n, receiveWindow: 1 } : { lastAccepted: 5n, lastAckSent: 5n, receiveWindow: 64 },
});
/** An Ack within what was sent, or beyond it (SEQ-6). */
export const ackEvent = (isBeyondSent: boolean): ServerSessionEvent => ({ type: 'frame.ack', seq: isBeyondSent ? 6n : 5n, lastSent: 5n });
export const driftEvent: ServerSessionEvent = { type: 'frame.stateDrift', drift: create(StateDriftSchema, { channel: 'c' }) };
export const subscribeEvent = (o: { isForbidden?: boolean; isOverChannelLimit?: boolean; isConfirmAsked?: boolean } = {}): ServerSessionEvent => ({
  type: 'frame.subscribe', channels: ['c'], isForbidden: o.isForbidden ?? false, isOverChannelLimit: o.isOverChannelLimit ?? false, ...(o.isConfirmAsked === undefined ? {} : { isConfirmAsked: o.isConfirmAsked }),
});
export const unsubscribeEvent: ServerSessionEvent = { type: 'frame.unsubscribe', channels: ['c'] };
/** One of each kind of event the server session machine takes, with each guard's flag set both ways. */
export const serverModelEvents: readonly ServerSessionEvent[] = [
  helloEvent(),
  helloEvent({ isVersionSupported: false }),
  helloEvent({ isAuthorized: false }),
  helloEvent({ isResume: true }),
  helloEvent({ isOverCapacity: true }),
  helloEvent({ isForbidden: true }),
  helloEvent({ isOverChannelLimit: true }),
  heartbeatEvent(true),
  heartbeatEvent(false),
  { type: 'frame.heartbeatAck' },
  ackEvent(false),
  ackEvent(true),
  messageEvent('next'),
  messageEvent('duplicate'),
  messageEvent('gap'),
  messageEvent('next', { isOverRate: true }),
  messageEvent('next', { isBeyondWindow: true }),
  { type: 'frame.controlOverRate' },
  driftEvent,
  subscribeEvent(),
  subscribeEvent({ isConfirmAsked: true }),
  subscribeEvent({ isForbidden: true }),
  subscribeEvent({ isOverChannelLimit: true }),
  unsubscribeEvent,
  { type: 'frame.invalid', closeName: 'INVALID_PAYLOAD', reason: 'WIRE-2' },
  { type: 'socket.pong', isRttSpike: false },
  { type: 'socket.pong', isRttSpike: true },
  { type: 'socket.closed', code: codeOf('NORMAL') },
  { type: 'socket.closed', code: codeOf('ABNORMAL') },
  { type: 'socket.attached', socketId: 2 },
  { type: 'sweep.tick' },
  { type: 'liveness.expired', rule: 'HB-3' },
  { type: 'liveness.expired', rule: 'HB-7' },
  { type: 'queue.blocked' },
  { type: 'queue.flowing' },
  { type: 'queue.overflow' },
  { type: 'app.drain', reconnectAfterMs: 5, deadlineMs: 30 },
  { type: 'app.drain', reconnectAfterMs: 5, deadlineMs: 30, isRebalance: true },
  { type: 'app.revoke' },
  { type: 'app.credentialExpired' },
  { type: 'app.end' },
  { type: 'app.evict' },
  { type: 'app.fail', reason: 'boom' },
];
