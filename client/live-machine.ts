/**
 * The client connection machine as a real XState actor, for a client with `inspect` only: the
 * inspector observes actors. Without it ClientMachineRunner (machine-runner.ts) steps the bare
 * machine on the same effects (RunnerEffects), so both drive one implementation of each effect.
 */
import { createActor, fromPromise } from 'xstate';
import { clientConnectionMachine, type ClientConnectionInput, type GetTokenInput } from '../spec/machines/client-connection.machine.js';
import type { ClientClock } from './clock.js';
import type { RunnerEffects } from './machine-runner.js';
import type { ClientOptions } from './options.js';

/**
 * The machine with the client's effects, built once for every client: a `.provide()` per client
 * cost a StateMachine with its StateNodes and XState's caches per connection (~35 KB of the 53 KB an
 * idle client held, bench/probes/client-heap.md). The effects find their client through the
 * actor's system, one per client.
 */
const effectsOf = new WeakMap<object, RunnerEffects>();

function effectsFor(system: object): RunnerEffects {
  const e = effectsOf.get(system);
  if (e === undefined) throw new Error('lifeline client: an actor without its connection');
  return e;
}

const liveMachine = clientConnectionMachine.provide({
  actors: {
    getToken: fromPromise<string | undefined, GetTokenInput>(({ input, system }) => effectsFor(system).fetchToken(input)),
  },
  actions: {
    openSocket: ({ system }, p) => effectsFor(system).onMachineAction('openSocket', p),
    sendHello: ({ system }, p) => effectsFor(system).onMachineAction('sendHello', p),
    acceptWelcome: ({ system }, p) => effectsFor(system).onMachineAction('acceptWelcome', p),
    sendHeartbeat: ({ system }) => effectsFor(system).onMachineAction('sendHeartbeat', undefined),
    closeSocket: ({ system }, p) => effectsFor(system).onMachineAction('closeSocket', p),
    openProbe: ({ system }, p) => effectsFor(system).onMachineAction('openProbe', p),
    closeProbe: ({ system }) => effectsFor(system).onMachineAction('closeProbe', undefined),
  },
});

/**
 * An inspected actor of the machine on `effects`, observed by them, not yet started: the caller
 * holds it before start() runs the first effects (they may reach the actor through their owner).
 */
export function inspectedActor(
  effects: RunnerEffects,
  input: ClientConnectionInput,
  clock: ClientClock,
  inspect: NonNullable<ClientOptions<unknown>['inspect']>,
) {
  const actor = createActor(liveMachine, { clock, inspect, input });
  effectsOf.set(actor.system, effects);
  actor.subscribe({
    next: (snap) => effects.onMachineStep(snap.value),
    error: (err) => effects.onMachineError(err),
  });
  return actor;
}
