/**
 * Test support: the server session machine's events, one of each kind and each flag, for the
 * model walk (server-session.machine.test.ts) and the lean runtime's equivalence property
 * (server/session-actor.test.ts).
 */
import { codeOf } from '../protocol/close-codes.js';
import type { ServerSessionEvent } from './server-session.machine.js';

export const helloEvent = (over: Partial<Extract<ServerSessionEvent, { type: 'frame.hello' }>> = {}): ServerSessionEvent => ({
  type: 'frame.hello', isVersionSupported: true, isAuthorized: true, isResume: false, isOverCapacity: false, isForbidden: false, isOverChannelLimit: false, ...over,
});
/** One of each kind of event the server session machine takes, with each guard's flag set both ways. */
export const serverModelEvents: readonly ServerSessionEvent[] = [
  helloEvent(),
  helloEvent({ isVersionSupported: false }),
  helloEvent({ isAuthorized: false }),
  helloEvent({ isResume: true }),
  helloEvent({ isOverCapacity: true }),
  helloEvent({ isForbidden: true }),
  helloEvent({ isOverChannelLimit: true }),
  { type: 'frame.heartbeat', isRttStable: true },
  { type: 'frame.heartbeat', isRttStable: false },
  { type: 'frame.heartbeatAck' },
  { type: 'frame.ack', isBeyondSent: false },
  { type: 'frame.ack', isBeyondSent: true },
  { type: 'frame.message', arrival: 'next', isOverRate: false },
  { type: 'frame.message', arrival: 'duplicate', isOverRate: false },
  { type: 'frame.message', arrival: 'gap', isOverRate: false },
  { type: 'frame.message', arrival: 'next', isOverRate: true },
  { type: 'frame.message', arrival: 'next', isOverRate: false, isBeyondWindow: true },
  { type: 'frame.controlOverRate' },
  { type: 'frame.stateDrift' },
  { type: 'frame.subscribe', isForbidden: false, isOverChannelLimit: false },
  { type: 'frame.subscribe', isForbidden: false, isOverChannelLimit: false, isConfirmAsked: true },
  { type: 'frame.subscribe', isForbidden: true, isOverChannelLimit: false },
  { type: 'frame.subscribe', isForbidden: false, isOverChannelLimit: true },
  { type: 'frame.unsubscribe' },
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
