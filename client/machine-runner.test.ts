/**
 * ClientMachineRunner is a fast path for an XState actor (issue 16): every client steps its machine
 * with transition() instead of owning an actor. Property: over arbitrary sequences of the machine's
 * events, clock advances and getToken outcomes, the runner and a real actor of the same machine
 * execute the same effects with the same params in the same order, and pass through the same state
 * values and contexts.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  clientConnectionMachine,
  clientStateName,
  type ClientConnectionEvent,
  type ClientConnectionInput,
  type GetTokenInput,
} from '../spec/machines/client-connection.machine.js';
import { codeOf } from '../spec/protocol/close-codes.js';
import { ClientMachineRunner, type ClientMachineActor } from './machine-runner.js';

type Cmd =
  | { readonly kind: 'event'; readonly ev: ClientConnectionEvent }
  | { readonly kind: 'tick'; readonly ms: number }
  | { readonly kind: 'token'; readonly isOk: boolean };

const events: ClientConnectionEvent[] = [
  { type: 'app.connect' },
  { type: 'app.close' },
  { type: 'app.reconnect' },
  { type: 'network.online' },
  { type: 'socket.opened' },
  { type: 'socket.closed', code: codeOf('NORMAL'), reason: '' },
  { type: 'socket.closed', code: codeOf('ABNORMAL'), reason: '' },
  { type: 'socket.closed', code: codeOf('TOKEN_EXPIRED'), reason: '' },
  { type: 'socket.closed', code: codeOf('SERVICE_RESTART'), reason: '' },
  { type: 'socket.closed', code: codeOf('PROTOCOL_ERROR'), reason: '' },
  { type: 'socket.refused', status: 503, retryAfterMs: 300 },
  { type: 'socket.refused', status: 403 },
  { type: 'socket.refused', status: 426 },
  { type: 'frame.invalid', code: codeOf('PROTOCOL_ERROR'), reason: 'WIRE-7' },
  { type: 'frame.welcome', sessionId: 's1', heartbeatIntervalMs: 50, heartbeatMissedMax: 2 },
  { type: 'frame.heartbeatAck', intervalMs: 40 },
  { type: 'frame.heartbeatAck', intervalMs: 0 },
  { type: 'frame.drainNotice', reconnectAfterMs: 120, target: 'ws://other/' },
  { type: 'frame.any' },
  { type: 'probe.opened' },
  { type: 'probe.failed' },
];

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...events).map((ev): Cmd => ({ kind: 'event', ev })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 400 }).map((ms): Cmd => ({ kind: 'tick', ms })) },
  { weight: 2, arbitrary: fc.boolean().map((isOk): Cmd => ({ kind: 'token', isOk })) },
);

/** One side: its effects in order, and the state after each command. */
interface Side {
  readonly log: unknown[];
  readonly clock: SimulatedClock;
  readonly actor: ClientMachineActor;
  /** Pending getToken calls, settled by a `token` command (oldest first). */
  readonly tokens: { resolve(t: string): void; reject(e: Error): void }[];
}

function input(clock: SimulatedClock, randoms: readonly number[], silence: () => number): ClientConnectionInput {
  let i = 0;
  return {
    random: () => randoms[i++ % randoms.length] as number,
    silenceMs: silence,
    reconnectBaseMs: 50,
    reconnectCapMs: 500,
    reconnectMaxAttempts: 3,
    suspendedRetryMs: 700,
    handshakeTimeoutMs: 300,
    heartbeatIntervalMs: 60,
    heartbeatMissedMax: 1,
    // Both carriers: the fallback, the probe region and its `always` transition (HT-20 … HT-25).
    transports: ['ws', 'http'],
    httpFallbackAfter: 2,
    wsRetryMs: 90,
    wsRetryCapMs: 400,
  };
}

function makeSide(kind: 'actor' | 'runner', randoms: readonly number[]): Side {
  const clock = new SimulatedClock();
  const log: unknown[] = [];
  const tokens: Side['tokens'] = [];
  let lastFrameAt = 0;
  const fetchToken = (i: GetTokenInput) => {
    log.push(['getToken', i]);
    return new Promise<string | undefined>((resolve, reject) => tokens.push({ resolve, reject }));
  };
  const inp = input(clock, randoms, () => clock.now() - lastFrameAt);
  const effect = (type: string, params: unknown) => log.push([type, params]);
  if (kind === 'runner') {
    const runner = new ClientMachineRunner(clientConnectionMachine, inp, clock, {
      onMachineAction: effect,
      fetchToken,
      onMachineStep: (v) => log.push(['step', v]),
      onMachineError: (e) => log.push(['error', String(e)]),
    });
    return { log, clock, actor: runner, tokens };
  }
  const machine = clientConnectionMachine.provide({
    actors: { getToken: fromPromise<string | undefined, GetTokenInput>(({ input: i }) => fetchToken(i)) },
    actions: {
      openSocket: (_, p) => effect('openSocket', p),
      sendHello: (_, p) => effect('sendHello', p),
      acceptWelcome: (_, p) => effect('acceptWelcome', p),
      sendHeartbeat: () => effect('sendHeartbeat', undefined),
      closeSocket: (_, p) => effect('closeSocket', p),
      openProbe: (_, p) => effect('openProbe', p),
      closeProbe: () => effect('closeProbe', undefined),
    },
  });
  const actor = createActor(machine, { clock, input: inp });
  actor.subscribe({ next: (s) => log.push(['step', s.value]), error: (e) => log.push(['error', String(e)]) });
  actor.start();
  return { log, clock, actor, tokens };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** The client logs a step after every event, the actor only when its snapshot changed: compare without repeats. */
function dedupeSteps(log: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  let last: string | undefined;
  for (const e of log) {
    const isStep = Array.isArray(e) && e[0] === 'step';
    const key = JSON.stringify(e);
    if (isStep && key === last) continue;
    out.push(e);
    last = isStep ? key : undefined;
  }
  return out;
}

describe('ClientMachineRunner equals an XState actor of the same machine', () => {
  test('RC-1 same effects, params, order, states and contexts over arbitrary event sequences, delays and token outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(cmdArb, { maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 8 }),
        async (cmds, randoms) => {
          const sides = [makeSide('actor', randoms), makeSide('runner', randoms)] as const;
          for (const c of cmds) {
            for (const s of sides) {
              if (c.kind === 'event') s.actor.send(c.ev);
              else if (c.kind === 'tick') s.clock.increment(c.ms);
              else {
                const t = s.tokens.shift();
                if (c.isOk) t?.resolve('tok');
                else t?.reject(new Error('no token'));
              }
            }
            await flush();
            const [a, r] = sides.map((s) => s.actor.getSnapshot());
            expect(r?.value).toEqual(a?.value);
            const { random: _ra, silenceMs: _sa, ...ca } = a?.context ?? ({} as Record<string, unknown>);
            const { random: _rr, silenceMs: _sr, ...cr } = r?.context ?? ({} as Record<string, unknown>);
            expect(cr).toEqual(ca);
            if (clientStateName(a?.value) === 'closed') break; // final: an actor warns about later events
          }
          expect(dedupeSteps(sides[1].log)).toEqual(dedupeSteps(sides[0].log));
          for (const s of sides) s.actor.stop();
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);
});
