/**
 * One decision path (issue 12): the hot paths that skip the machine for speed (server/ingress.ts for
 * an attached session's Message, Ack and HeartbeatAck at a fixed interval; the sweep's count in
 * server/liveness.ts onSweepVisit) decide with the rule functions of spec/protocol/session-rules.ts. Here the
 * machine is stepped with XState's transition() on the same inputs, and the transition it takes
 * (its spec id, target and actions) must be what the hot path decided, for random inputs.
 */
import { create } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { HeartbeatSchema, MessageSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { serverSessionMachine, type ServerSessionContext, type ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import { decideClientMessage, fixedIntervalTick, isAckBeyondSent } from '../spec/protocol/session-rules.js';

type Snap = ReturnType<typeof serverSessionMachine.resolveState>;

const ATTACHED = { attached: { phase: 'active', liveness: 'alive', flow: 'flowing' } };

/** An attached session at a fixed interval (the hot paths' condition), its liveness counts as given. */
function attached(over: Partial<ServerSessionContext> = {}, missedMax = 2): Snap {
  const [initial] = initialTransition(serverSessionMachine, { heartbeatMissedMax: missedMax, heartbeatIntervalStepsMax: 1 });
  return serverSessionMachine.resolveState({ value: ATTACHED, context: { ...initial.context, welcomed: true, ...over } });
}

/** The transition the machine takes on `event`: its spec id, the state after, the actions it executes. */
function step(snap: Snap, event: ServerSessionEvent) {
  const specs = serverSessionMachine.getTransitionData(snap, event).map((t) => (t.meta as { spec?: string } | undefined)?.spec);
  const [next, actions] = transition(serverSessionMachine, snap, event);
  return {
    spec: specs.join(' '),
    value: next.value,
    context: next.context,
    actions: actions.filter((a) => !a.type.startsWith('xstate.')).map((a) => (a.params === undefined ? a.type : [a.type, a.params])),
  };
}

const seq = fc.bigInt({ min: 0n, max: 40n });

describe('hot path = machine (one decision path)', () => {
  test('BP-14 BP-17 SEQ-4 SEQ-3 SEQ-10 a client Message: decideClientMessage names the transition the machine takes', () => {
    fc.assert(
      fc.property(seq, fc.boolean(), seq, seq, fc.integer({ min: 0, max: 16 }), (s, isOverRate, lastAccepted, lastAckSent, receiveWindow) => {
        const rule = decideClientMessage(s, isOverRate, lastAccepted, lastAckSent, receiveWindow);
        const message = create(MessageSchema, { seq: s, channel: 'c' });
        const got = step(attached({ missed: 1, silentTicks: 1 }), { type: 'frame.message', message, isOverRate, inbound: { lastAccepted, lastAckSent, receiveWindow } });
        expect(got.spec).toBe(rule);
        // What ingress.ts does itself for these two: the session call the machine's action makes, and
        // the liveness reset (HB-8) it makes for every valid frame.
        if (rule === 'SEQ-10' || rule === 'SEQ-3') {
          expect(got.actions).toEqual([rule === 'SEQ-10' ? 'deliverMessage' : 'ackDuplicate']);
          expect(got.value).toEqual(ATTACHED);
          expect(got.context).toMatchObject({ missed: 0, silentTicks: 0 });
        } else {
          expect(got.value).toBe(rule === 'BP-14' ? 'detached' : 'closed');
        }
      }),
      { numRuns: 300 },
    );
  });

  test('SEQ-6 SEQ-7 an Ack: the hot path applies exactly the acks the machine applies', () => {
    fc.assert(
      fc.property(seq, seq, (ackSeq, lastSent) => {
        const got = step(attached({ missed: 1 }), { type: 'frame.ack', seq: ackSeq, lastSent });
        if (isAckBeyondSent(ackSeq, lastSent)) {
          expect(got.spec).toBe('SEQ-6');
          expect(got.value).toBe('closed');
        } else {
          expect(got.spec).toBe('SEQ-7');
          expect(got.actions).toEqual(['applyAck']);
          expect(got.context).toMatchObject({ missed: 0, silentTicks: 0 });
        }
      }),
    );
  });

  test('HB-2 a pong at a fixed interval changes nothing the fixed interval reads: liveness.ts does not step the machine for it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (missed, silentTicks, isRttSpike) => {
        const got = step(attached({ missed, silentTicks }), { type: 'socket.pong', isRttSpike });
        expect(got.spec).toBe('HB-2'); // not the HB-11 spike reset: that needs an adapted interval
        expect(got.value).toEqual(ATTACHED);
        expect(got.actions).toEqual([]);
        // Only `missed` moves; at a fixed interval the machine's counts are not read (the sweep keeps its own).
        expect({ ...got.context, missed }).toEqual(attached({ missed, silentTicks }).context);
      }),
      { numRuns: 100 },
    );
  });

  test('HB-6 a Heartbeat at a fixed interval: the machine answers with nothing to announce and keeps its counts, as ingress.ts does without it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (missed, silentTicks, isRttStable) => {
        const heartbeat = create(HeartbeatSchema, { id: 7, sentAtMs: 1n, rttMs: 3 });
        const before = attached({ missed, silentTicks });
        const got = step(before, { type: 'frame.heartbeat', heartbeat, isRttStable });
        expect(got.spec).toBe('HB-6'); // never HB-11's growth: the ceiling is the base
        expect(got.value).toEqual(ATTACHED);
        // session.heartbeatAck(id, sentAt, rtt) with its defaults: interval_ms 0, the client's interval the base.
        expect(got.actions).toEqual([['sendHeartbeatAck', { intervalSteps: 0, clientSteps: 1 }]]);
        // The counts the fixed interval keeps on the connection are reset by ingress for every frame (HB-8).
        expect(got.context).toEqual({ ...before.context, missed: 0, silentTicks: 0 });
      }),
      { numRuns: 100 },
    );
  });

  test('HB-8 a HeartbeatAck is proof of life and nothing more', () => {
    const got = step(attached({ missed: 2, silentTicks: 2 }), { type: 'frame.heartbeatAck' });
    expect(got).toMatchObject({ spec: 'HB-8', value: ATTACHED, actions: [], context: { missed: 0, silentTicks: 0 } });
  });

  test('HB-1 HB-3 HB-7 a fixed-interval sweep tick: fixedIntervalTick is the machine sweep.tick, and liveness.expired does what sweep.tick does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 4 }), (missed, silentTicks, missedMax) => {
        const snap = attached({ missed, silentTicks }, missedMax);
        const rule = fixedIntervalTick(missed, silentTicks, missedMax);
        const tick = step(snap, { type: 'sweep.tick' });
        if (rule === 'ping') {
          // The sweep pings and counts (conn.missedPings++, conn.silentTicks++), as the machine's visit.
          expect(tick.spec).toBe('HB-1');
          expect(tick.actions).toEqual(['sendPing']);
          expect(tick.context).toMatchObject({ missed: missed + 1, silentTicks: silentTicks + 1 });
        } else {
          expect(tick.spec).toBe(rule);
          const expired = step(snap, { type: 'liveness.expired', rule });
          expect(expired.spec).toBe(rule);
          expect({ value: expired.value, actions: expired.actions }).toEqual({ value: tick.value, actions: tick.actions });
          expect(tick.actions[0]).toEqual([rule === 'HB-3' ? 'terminateSocket' : 'closeSocket', { name: 'HEARTBEAT_TIMEOUT' }]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
