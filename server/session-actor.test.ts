import fc from 'fast-check';
import { create } from '@bufbuild/protobuf';
import { createActor, SimulatedClock } from 'xstate';
import { HelloSchema } from '../gen/lifeline/v1/envelope_pb.js';
import { describe, expect, test } from 'vitest';
import { serverSessionMachine, type ServerSessionEffects, type ServerSessionEvent, type ServerSessionInput } from '../spec/machines/server-session.machine.js';
import { helloEvent, serverModelEvents } from '../spec/machines/server-session.events.js';
import { advanceClock } from '../spec/machines/simulated-time.js';
import { bindActions, SessionRuntime, stateValueOf, type ActionTable, type SessionActor } from './session-actor.js';

const input: ServerSessionInput = { handshakeTimeoutMs: 50, resumeTtlMs: 500, replayWindowMs: 200, heartbeatMissedMax: 1 };
const adaptive: ServerSessionInput = { ...input, heartbeatIntervalStepsMax: 2, heartbeatStableBeats: 2 };

/** Every effect the machine names (ServerSessionEffects); the runner's table must have each. */
const ACTIONS: readonly (keyof ServerSessionEffects)[] = [
  'createSession', 'handOverSocket', 'attachSocket', 'sendWelcome', 'closeSocket', 'terminateSocket', 'forgetSocket',
  'sendPing', 'sendHeartbeatAck', 'deliverMessage', 'ackDuplicate', 'applyAck', 'answerDrift', 'subscribe',
  'confirmSubscribe', 'unsubscribe', 'sendDrainNotice', 'loseContinuity', 'releaseReplay', 'markDetached', 'unmarkDetached',
  'leaveChannels', 'deleteSession',
];

/** What the recording handlers act on: the log and the actor (to send to it from inside a step). */
interface RecHost {
  readonly log: unknown[];
  actor?: SessionActor;
}

/**
 * A handler table that records. Two are not plain recorders, to exercise what an actor adds to the
 * pure machine: createSession sends the actor an event from inside a step (the mailbox), and
 * answerDrift throws (the actor fails).
 */
const recording = Object.fromEntries(
  ACTIONS.map((name) => [
    name,
    (host: RecHost, _event: unknown, params: unknown) => {
      host.log.push(params === undefined ? name : [name, params]);
      if (name === 'createSession') host.actor?.send({ type: 'sweep.tick' });
      if (name === 'answerDrift') throw new Error('boom');
    },
  ]),
) as unknown as ActionTable<RecHost>;

/** The same machine run twice on one simulated clock: as an XState actor (the table through .provide()) and on the runner. */
function pair(inp: ServerSessionInput) {
  const clock = new SimulatedClock();
  const real = { log: [] as unknown[], crashes: 0, actor: undefined as unknown as SessionActor };
  const lean = { log: [] as unknown[], crashes: 0, actor: undefined as unknown as SessionActor };
  const realHost: RecHost = { log: real.log };
  const actor = createActor(serverSessionMachine.provide({ actions: bindActions(recording, realHost) }), { clock, input: inp });
  realHost.actor = actor;
  actor.subscribe({ error: () => real.crashes++ });
  actor.start();
  real.actor = actor;
  const leanHost: RecHost = { log: lean.log };
  lean.actor = leanHost.actor = new SessionRuntime(serverSessionMachine, recording, () => lean.crashes++, clock).create(inp, leanHost);
  return { clock, real, lean };
}

/** The runner alone, on a clock of its own (so its timers can be counted). */
function leanAlone(inp: ServerSessionInput) {
  const clock = new SimulatedClock();
  const log: unknown[] = [];
  const host: RecHost = { log };
  const actor = (host.actor = new SessionRuntime(serverSessionMachine, recording, () => {}, clock).create(inp, host));
  const timers = (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts;
  return { clock, lean: { actor, log }, timers };
}

function view(a: SessionActor) {
  const s = a.getSnapshot();
  return { value: s.value, status: s.status, context: s.context };
}

describe('session runner on transition() (issue 7: no XState actor per session; issue 12: only public XState)', () => {
  const step = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...serverModelEvents) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 600 }).map((ms) => ({ type: 'advance' as const, ms })) },
  );

  test.each([
    ['', input],
    ['HB-11 (adaptive heartbeat on) ', adaptive],
  ])('HS-9 %sruns the machine exactly as an XState actor: same states, context, actions in order, timers and failures', (_, inp) => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { clock, real, lean } = pair(inp);
        expect(view(lean.actor)).toEqual(view(real.actor));
        for (const s of steps) {
          if (s.type === 'advance') advanceClock(clock, s.ms);
          else {
            // An actor ignores events once stopped (and warns); the runner must ignore them silently.
            if (real.actor.getSnapshot().status === 'active') real.actor.send(s);
            lean.actor.send(s);
          }
          expect(view(lean.actor)).toEqual(view(real.actor));
          expect(lean.log).toEqual(real.log);
          expect(lean.crashes).toBe(real.crashes);
        }
      }),
      { numRuns: 150 },
    );
  });

  test('RC-1 the handler table names every effect the machine has: each action stub but its own context updates (assign)', () => {
    const stubs = Object.entries(serverSessionMachine.implementations.actions)
      .filter(([, impl]) => (impl as { type?: string }).type !== 'xstate.assign')
      .map(([name]) => name);
    expect(stubs.sort()).toEqual([...ACTIONS].sort());
  });

  test('HS-10 the handshake timeout fires on the lean runtime, and a final state leaves no timer behind', () => {
    const { clock, lean, timers } = leanAlone(input);
    expect(timers.size).toBe(1); // handshakeTimeout
    advanceClock(clock, 49);
    expect(lean.actor.getSnapshot().value).toBe('handshaking');
    advanceClock(clock, 1);
    expect(lean.actor.getSnapshot().value).toBe('closed');
    expect(lean.log).toContainEqual(['closeSocket', { name: 'HANDSHAKE_TIMEOUT' }]);
    expect(timers.size).toBe(0);
  });

  test('RS-1 a detached session holds its timers only while detached; a resume cancels them', () => {
    const { clock, lean, timers } = leanAlone(input);
    lean.actor.send(helloEvent());
    expect(timers.size).toBe(0); // attached and idle: no timer at all
    lean.actor.send({ type: 'socket.closed', code: 1006 });
    expect(lean.actor.getSnapshot().value).toBe('detached');
    expect(timers.size).toBe(2); // resumeTtl, replayWindow
    lean.actor.send({ type: 'socket.attached', socketId: 2 });
    expect(timers.size).toBe(0);
    advanceClock(clock, 1000);
    expect(lean.actor.getSnapshot().status).toBe('active');
  });

  test('stop() ends the session machine: no timer, later events ignored', () => {
    const { clock, lean, timers } = leanAlone(input);
    lean.actor.stop();
    expect(timers.size).toBe(0);
    lean.actor.send(helloEvent());
    expect(lean.log).toEqual([]);
    expect(lean.actor.getSnapshot().status).toBe('stopped');
  });

  test('issue 12 the shared snapshot per configuration is sound: the machine has no history state and invokes nothing', () => {
    const visit = (node: typeof serverSessionMachine.root): number => {
      expect(node.type).not.toBe('history'); // historyValue is always {}
      expect(node.invoke).toEqual([]); // children is always {}
      return 1 + Object.values(node.states).reduce((n, child) => n + visit(child), 0);
    };
    expect(visit(serverSessionMachine.root)).toBeGreaterThan(5);
  });

  test('issue 12 sessions in one configuration share their state value and their options; each keeps its own context', () => {
    const clock = new SimulatedClock();
    const runtime = new SessionRuntime(serverSessionMachine, recording, () => {}, clock);
    const [a, b] = [runtime.create(input, { log: [] }), runtime.create(input, { log: [] })];
    a.send(helloEvent());
    b.send(helloEvent());
    a.send({ type: 'socket.pong', isRttSpike: false });
    expect(stateValueOf(a)).toBe(stateValueOf(b));
    expect(stateValueOf(a)).toEqual({ attached: { phase: 'active', liveness: 'alive', flow: 'flowing' } });
    expect(a.getSnapshot().context.opts).toBe(b.getSnapshot().context.opts);
    expect(a.getSnapshot().matches({ attached: { phase: 'active' } })).toBe(true); // a full XState snapshot
  });

  test('RS-1 RS-3 restore: a session continued from its persisted snapshot runs the state\'s delays less the time spent in it', () => {
    // One session runs live; a second is restored from its persisted form 150 ms into the detach.
    const { clock, lean, timers } = leanAlone(input);
    lean.actor.send(helloEvent());
    lean.actor.send({ type: 'socket.closed', code: 1006 });
    const { value, context } = lean.actor.getSnapshot();
    advanceClock(clock, 150);
    const log: unknown[] = [];
    const restored = new SessionRuntime(serverSessionMachine, recording, () => {}, clock).restore({ value, context }, { log }, 150);
    expect(log).toEqual([]); // no entry action again: it ran where the state was entered
    expect(timers.size).toBe(4); // resumeTtl and replayWindow, for each
    lean.log.length = 0;
    advanceClock(clock, 49);
    expect(log).toEqual([]);
    advanceClock(clock, 1); // RS-3: replayWindowMs 200 after the detach, for both
    expect(log).toEqual(['releaseReplay']);
    expect(lean.log).toEqual(['releaseReplay']);
    advanceClock(clock, 300); // RS-1: resumeTtlMs 500 after the detach, for both
    expect(log).toEqual(lean.log);
    expect(log).toContain('deleteSession');
    expect(restored.getSnapshot()).toMatchObject({ value: 'expired', status: 'done' });
    expect(timers.size).toBe(0);
  });

  test('RS-2 restore: a resume of a restored session cancels its delays', () => {
    const { clock, lean, timers } = leanAlone(input);
    lean.actor.send(helloEvent());
    lean.actor.send({ type: 'socket.closed', code: 1006 });
    const { value, context } = lean.actor.getSnapshot();
    lean.actor.stop();
    const log: unknown[] = [];
    const restored = new SessionRuntime(serverSessionMachine, recording, () => {}, clock).restore({ value, context }, { log }, 0);
    expect(timers.size).toBe(2);
    restored.send({ type: 'socket.attached', socketId: 2 });
    expect(timers.size).toBe(0);
    expect(log).toContain('sendWelcome');
    advanceClock(clock, 1000);
    expect(restored.getSnapshot().status).toBe('active');
  });

  test('HS-7 RS-1 issue 16 the precomputed steps (Hello, socket close) equal an XState actor: one runtime, many sessions, same states, context, actions, events and timers', () => {
    const hello = fc
      .record({
        isVersionSupported: fc.boolean(),
        isAuthorized: fc.boolean(),
        isResume: fc.boolean(),
        isOverCapacity: fc.boolean(),
        isForbidden: fc.boolean(),
        isOverChannelLimit: fc.boolean(),
        sessionId: fc.string({ maxLength: 8 }),
        channels: fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      })
      .map(({ sessionId, channels, ...facts }) => helloEvent({ ...facts, hello: create(HelloSchema, { protocolVersion: 1, sessionId, channels }) }));
    const closed = fc.constantFrom(1000, 1001, 1002, 1005, 1006, 1011, 4001, 4002, 4500).map((code): ServerSessionEvent => ({ type: 'socket.closed', code }));
    const event = fc.oneof({ weight: 3, arbitrary: hello }, { weight: 3, arbitrary: closed }, { weight: 2, arbitrary: fc.constantFrom(...serverModelEvents) });
    // What each handler saw: the action, the very event it ran for, its params.
    const seen = Object.fromEntries(
      ACTIONS.map((name) => [name, (host: RecHost, ev: unknown, params: unknown) => host.log.push([name, ev, params])]),
    ) as unknown as ActionTable<RecHost>;
    const clock = new SimulatedClock();
    const timers = (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts;
    const runtime = new SessionRuntime(serverSessionMachine, seen, () => {}, clock); // one for every run: steps cached by earlier sessions are reused
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 8 }), (events) => {
        const realClock = new SimulatedClock();
        const realTimers = (realClock as unknown as { timeouts: Map<unknown, unknown> }).timeouts;
        const real: RecHost = { log: [] };
        const actor = createActor(serverSessionMachine.provide({ actions: bindActions(seen, real) }), { clock: realClock, input });
        actor.start();
        const lean: RecHost = { log: [] };
        const before = timers.size;
        const runner = runtime.create(input, lean);
        for (const ev of events) {
          if (actor.getSnapshot().status === 'active') actor.send(ev);
          runner.send(ev);
          expect(view(runner)).toEqual(view(actor));
          expect(lean.log).toEqual(real.log);
          expect(timers.size - before).toBe(realTimers.size);
        }
        for (const entry of lean.log as [string, unknown, unknown][]) expect(events).toContain(entry[1]); // each action ran for the session's own event
        actor.stop();
        runner.stop();
      }),
      { numRuns: 400 },
    );
  });
});
