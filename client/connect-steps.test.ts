/**
 * The connect path without `transition()` (client/connect-steps.ts, issue 16) is a fast path: each
 * step it takes must be the one XState's `transition()` takes from the same snapshot on the same
 * event. Property: over arbitrary contexts (options, carriers, tokens, sessions, drain targets,
 * failures) and arbitrary events, whenever connectStep() answers, its state value, context,
 * children and actions (type and the params the runner reads) equal transition()'s; and it answers
 * for every step of a connect over WebSocket, so the property is not vacuous. The initial step
 * (the runner's context without `initialTransition()`, `opts` shared) is checked the same way.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { initialTransition, SimulatedClock, transition } from 'xstate';
import {
  clientConnectionMachine as machine,
  type ClientConnectionContext,
  type ClientConnectionEvent,
  type ClientConnectionInput,
  type TransportKind,
} from '../spec/machines/client-connection.machine.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { AUTHORIZING, connectStep, HANDSHAKING, OPENING, type StepAction } from './connect-steps.js';
import { ClientMachineRunner } from './machine-runner.js';

type Snapshot = ReturnType<typeof machine.getInitialSnapshot>;

const random = () => 0.5;
const silenceMs = () => 0;

const transportsArb = fc.constantFrom<readonly TransportKind[]>(['ws'], ['http'], ['ws', 'http'], ['http', 'ws']);

const contextArb: fc.Arbitrary<ClientConnectionContext> = fc
  .record({
    reconnectBaseMs: fc.integer({ min: 1, max: 10_000 }),
    reconnectCapMs: fc.integer({ min: 1, max: 60_000 }),
    reconnectMaxAttempts: fc.integer({ min: 0, max: 20 }),
    suspendedRetryMs: fc.integer({ min: 1, max: 60_000 }),
    handshakeTimeoutMs: fc.integer({ min: 1, max: 60_000 }),
    heartbeatIntervalMs: fc.integer({ min: 1, max: 60_000 }),
    heartbeatMissedMax: fc.integer({ min: 0, max: 10 }),
    transports: transportsArb,
    httpFallbackAfter: fc.integer({ min: 0, max: 5 }),
    wsRetryMs: fc.integer({ min: 1, max: 60_000 }),
    wsRetryCapMs: fc.integer({ min: 1, max: 60_000 }),
  })
  .chain((opts) =>
    fc.record({
      opts: fc.constant(opts),
      random: fc.constant(random),
      silenceMs: fc.constantFrom(silenceMs, undefined),
      deadPeerWaitMs: fc.integer({ min: 0, max: 90_000 }),
      failures: fc.integer({ min: 0, max: 20 }),
      retries: fc.integer({ min: 0, max: 20 }),
      sessionId: fc.constantFrom('', 's-1', 'another session'),
      token: fc.constantFrom(undefined, 'token', ''),
      forceRefresh: fc.boolean(),
      heartbeatIntervalMs: fc.integer({ min: 1, max: 60_000 }),
      heartbeatMissedMax: fc.integer({ min: 0, max: 10 }),
      reconnectDelayMs: fc.integer({ min: 0, max: 60_000 }),
      target: fc.constantFrom('', 'ws://other.example/lifeline'),
      isDrainPending: fc.boolean(),
      drainDelayMs: fc.integer({ min: 0, max: 60_000 }),
      lastEnd: fc.constantFrom(undefined, { code: codeOf('ABNORMAL'), reason: 'gone', advice: { retry: 'backoff', resetSession: false, minDelayMs: 0 } }),
      transport: fc.constantFrom<TransportKind>('ws', 'http'),
      wsFailures: fc.integer({ min: 0, max: 5 }),
      wsRetryDelayMs: fc.integer({ min: 1, max: 60_000 }),
    }),
  ) as fc.Arbitrary<ClientConnectionContext>;

const eventArb: fc.Arbitrary<ClientConnectionEvent> = fc.oneof(
  fc.constant<ClientConnectionEvent>({ type: 'app.connect' }),
  fc.option(fc.constantFrom('tok', ''), { nil: undefined }).map((output) => ({ type: 'xstate.done.actor.getToken', output, actorId: 'getToken' }) as unknown as ClientConnectionEvent),
  fc.constant<ClientConnectionEvent>({ type: 'socket.opened' }),
  fc
    .record({ sessionId: fc.string({ maxLength: 12 }), heartbeatIntervalMs: fc.integer({ min: 1, max: 60_000 }), heartbeatMissedMax: fc.integer({ min: 0, max: 10 }) })
    .map((w): ClientConnectionEvent => ({ type: 'frame.welcome', ...w })),
  fc.constantFrom<ClientConnectionEvent>(
    { type: 'app.close' },
    { type: 'app.reconnect' },
    { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' },
    { type: 'socket.refused', status: 503, retryAfterMs: 100 },
    { type: 'deadline.handshake' },
    { type: 'frame.invalid', code: codeOf('PROTOCOL_ERROR'), reason: 'WIRE-7' },
    { type: 'frame.any' },
  ),
);

/** The snapshot XState steps from: the state `value` with `context`, as the machine reaches it. */
function xstateSnapshot(value: 'idle' | 'authorizing' | 'opening' | 'handshaking', context: ClientConnectionContext): Snapshot {
  if (value === 'authorizing') {
    // Reached by app.connect (no assign): the same context, and the invoked getToken in children.
    return transition(machine, machine.resolveState({ value: 'idle', context }), { type: 'app.connect' })[0];
  }
  return machine.resolveState({ value: value === 'opening' ? { connecting: 'opening' } : value, context });
}

const runnerValue = { idle: 'idle', authorizing: AUTHORIZING, opening: OPENING, handshaking: HANDSHAKING } as const;

/** What the runner reads of an action (ClientMachineRunner.execute). */
function readByRunner(a: StepAction): unknown {
  const p = a.params as Record<string, unknown> | undefined;
  switch (a.type) {
    case 'xstate.raise':
      return [a.type, p?.['event'], p?.['delay'], p?.['id']];
    case 'xstate.cancel':
      return [a.type, p?.['sendId']];
    case 'xstate.spawnChild':
      return [a.type, p?.['id'], p?.['input']];
    case 'xstate.stopChild':
      return [a.type];
    default:
      return [a.type, a.params];
  }
}

describe('the connect path without transition()', () => {
  test('RC-1 RC-4 RC-5 HS-8 HS-10 each step equals transition(): state, context, children, actions and params', () => {
    const answered = new Set<string>();
    fc.assert(
      fc.property(fc.constantFrom('idle', 'authorizing', 'opening', 'handshaking' as const), contextArb, eventArb, (from, context, event) => {
        const fast = connectStep(runnerValue[from], context, event);
        if (fast === undefined) return;
        answered.add(`${from} ${event.type}`);
        const [next, actions] = transition(machine, xstateSnapshot(from, context), event);
        expect(fast.value).toEqual(next.value);
        expect(fast.context).toEqual(next.context);
        if (next.context === context) expect(fast.context).toBe(context); // no assign: the same object, as XState keeps it
        expect(Object.keys(fast.children)).toEqual(Object.keys(next.children));
        expect(fast.actions.map(readByRunner)).toEqual(actions.map(readByRunner));
      }),
      { numRuns: 2000 },
    );
    // Every step of a connect over WebSocket was taken by the fast path at least once.
    expect([...answered].sort()).toEqual(['authorizing xstate.done.actor.getToken', 'handshaking frame.welcome', 'idle app.connect', 'opening socket.opened']);
  });

  test('HT-23 a Welcome over HTTP with WebSocket allowed (the probe region moves on at once) is left to transition()', () => {
    fc.assert(
      fc.property(contextArb, (c) => {
        const context = { ...c, transport: 'http' as const, opts: { ...c.opts, transports: ['http', 'ws'] as const } };
        expect(connectStep(HANDSHAKING, context, { type: 'frame.welcome', sessionId: 's', heartbeatIntervalMs: 10, heartbeatMissedMax: 1 })).toBeUndefined();
      }),
      { numRuns: 50 },
    );
  });

  test('RC-1 the runner\'s initial step equals initialTransition(), and clients with equal options share one opts', () => {
    const inputArb: fc.Arbitrary<ClientConnectionInput> = fc.record(
      {
        reconnectBaseMs: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
        reconnectMaxAttempts: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
        handshakeTimeoutMs: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined }),
        heartbeatIntervalMs: fc.integer({ min: 1, max: 60_000 }),
        transports: transportsArb,
        wsRetryMs: fc.integer({ min: 1, max: 60_000 }),
      },
      { requiredKeys: [] },
    ).map((o) => ({ ...o, random, silenceMs }));
    const effects = { onMachineAction: () => {}, fetchToken: async () => undefined, onMachineStep: () => {}, onMachineError: (e: unknown) => { throw e; } };
    fc.assert(
      fc.property(inputArb, (input) => {
        const [snap, actions] = initialTransition(machine, input);
        const a = new ClientMachineRunner(machine, input, new SimulatedClock(), effects);
        const b = new ClientMachineRunner(machine, { ...input, random: () => 0.1 }, new SimulatedClock(), effects);
        expect(actions).toEqual([]);
        expect(a.getSnapshot().value).toEqual(snap.value);
        expect(a.getSnapshot().context).toEqual(snap.context);
        expect(b.getSnapshot().context.opts).toBe(a.getSnapshot().context.opts);
      }),
      { numRuns: 300 },
    );
  });
});
