/**
 * The connect path of the client connection machine, stepped without `transition()` (issue 16:
 * time to open 10,000 connections). XState's pure `transition()` builds an inert actor, and with it
 * the machine's initial snapshot, on every call; with the machine's own work that was 30-140 µs per
 * step on the bench machine, five steps per connect (initial, app.connect, the token, socket.opened,
 * the Welcome): about a third of the client's CPU per connection (bench/probes/client-connect.md).
 *
 * Every connect goes idle → connecting.authorizing → connecting.opening → handshaking → connected
 * (RC-1), and those steps have no guard but one (`mayProbeWebSocket`, on entering `connected`): each
 * is the same list of actions, with params and context computed by the machine's own named
 * functions (spec/machines/client-connection.machine.ts exports them; the machine uses the same).
 * Here they are written out once, as the machine's structure gives them; any other (state, event),
 * and a Welcome while the probe region would start probing (over HTTP), returns undefined and the
 * runner takes `transition()`. client/connect-steps.test.ts proves each step equal to
 * `transition()` (state value, context, actions with their params, children) over arbitrary
 * contexts and events; ClientMachineRunner's test runs the runner against a real actor.
 */
import { createActor, fromPromise, type AnyActorRef } from 'xstate';
import {
  afterWelcome,
  clientConnectionMachine,
  getTokenInputOf,
  mayProbeWebSocket,
  openSocketParamsOf,
  sendHelloParamsOf,
  welcomeFactsOf,
  type ClientConnectionContext,
  type ClientConnectionEvent,
  type GetTokenInput,
} from '../spec/machines/client-connection.machine.js';

type Machine = typeof clientConnectionMachine;
type Value = ReturnType<Machine['getInitialSnapshot']>['value'];
type Children = ReturnType<Machine['getInitialSnapshot']>['children'];

/** An action as the runner executes it: what `transition()` returns, the fields the runner reads. */
export interface StepAction {
  readonly type: string;
  readonly params: unknown;
}

/** A step: what the runner keeps of the next snapshot, and the actions to execute in order. */
export interface ConnectStep {
  readonly value: Value;
  readonly context: ClientConnectionContext;
  readonly children: Children;
  readonly actions: readonly StepAction[];
}

/** The state values of the connect path, one shared object each (the runner interns values too). */
export const AUTHORIZING: Value = Object.freeze({ connecting: 'authorizing' }) as Value;
export const OPENING: Value = Object.freeze({ connecting: 'opening' }) as Value;
export const HANDSHAKING: Value = 'handshaking';
export const CONNECTED: Value = Object.freeze({ connected: Object.freeze({ heartbeat: 'waiting', probe: 'idle', liveness: 'alive' }) }) as Value;

/** The state values above, for the runner's interning. */
export const CONNECT_VALUES: readonly Value[] = [AUTHORIZING, OPENING, HANDSHAKING, CONNECTED];

const NO_CHILDREN = Object.freeze({}) as Children;

/**
 * What stands for the invoked getToken in `children` while authorizing: an actor XState creates
 * for the invoke and never starts (the runner fetches the token itself). One shared, never started,
 * so a `transition()` that leaves `authorizing` later stops it as it would its own.
 */
let tokenChild: AnyActorRef | undefined;
function tokenChildren(): Children {
  tokenChild ??= createActor(fromPromise<string | undefined, GetTokenInput>(async () => undefined), { id: 'getToken', input: { forceRefresh: false, sessionId: '' } });
  return { getToken: tokenChild } as unknown as Children;
}

/** A delay of the machine, resolved as XState resolves an `after` delay (its implementation on the context). */
function delayOf(name: string, context: ClientConnectionContext): number {
  const impl = (clientConnectionMachine.implementations.delays as Record<string, unknown>)[name];
  if (typeof impl !== 'function') throw new Error(`client machine: no delay ${name}`);
  return (impl as (a: { context: ClientConnectionContext }) => number)({ context });
}

/** The event XState raises for an `after` delay of a state: `xstate.after.<delay>.<state id>`. */
function afterEventOf(path: readonly string[], delay: string): string {
  let node = clientConnectionMachine.root;
  for (const k of path) {
    const child = node.states[k];
    if (!child) throw new Error(`client machine: no state ${path.join('.')}`);
    node = child;
  }
  const t = node.after.find((a) => a.delay === delay);
  if (!t) throw new Error(`client machine: no after ${delay} in ${path.join('.')}`);
  return t.eventType;
}

/** Built on first use: the `after` events of the states `connected` enters (read from the machine). */
let afterEvents: { readonly heartbeat: string; readonly deadPeer: string } | undefined;

/**
 * The delayed raises built so far, by event type, then delay: clients with the same options and
 * Welcome share them (the runner never mutates an action, and the event becomes the shared timer's
 * payload, held by every idle client: issue 16, bench/probes/client-connect.md, session 9 second
 * pass). Frozen, so a mistake elsewhere cannot change another client's. A delay comes from a
 * Welcome: at most RAISE_CACHE_DELAYS kept per type, past that each call builds its own.
 */
const raises = new Map<string, Map<number, StepAction>>();
const RAISE_CACHE_DELAYS = 64;

function raise(type: string, delay: number, id = type): StepAction {
  let byDelay = raises.get(type);
  if (byDelay === undefined) raises.set(type, (byDelay = new Map()));
  const known = byDelay.get(delay);
  // The id is fixed per type on this path; checked, so a new call site cannot get another's action.
  if (known !== undefined && (known.params as { id: string }).id === id) return known;
  const a: StepAction = Object.freeze({ type: 'xstate.raise', params: Object.freeze({ event: Object.freeze({ type }), id, delay }) });
  if (known === undefined && byDelay.size < RAISE_CACHE_DELAYS) byDelay.set(delay, a);
  return a;
}

const HANDSHAKE_DEADLINE = 'handshakeDeadline';
const DEADLINE_EVENT = 'deadline.handshake';
const DONE_TOKEN = 'xstate.done.actor.getToken';
/** The actions without params of their own, shared by every connect (the runner never mutates them). */
const STOP_TOKEN: StepAction = Object.freeze({ type: 'xstate.stopChild', params: undefined });
const CANCEL_DEADLINE: StepAction = Object.freeze({ type: 'xstate.cancel', params: Object.freeze({ sendId: HANDSHAKE_DEADLINE }) });

/**
 * The step `transition()` would take from `value` with `context` on `event`, when it is one of the
 * connect path's; otherwise undefined.
 */
export function connectStep(value: Value, context: ClientConnectionContext, event: ClientConnectionEvent): ConnectStep | undefined {
  const type = event.type as string;
  if (value === 'idle') {
    if (type !== 'app.connect') return undefined;
    // RC-1: connecting; HS-10 its one deadline, then RC-5 the token (entry of connecting, of authorizing).
    return {
      value: AUTHORIZING,
      context,
      children: tokenChildren(),
      actions: [
        raise(DEADLINE_EVENT, delayOf('handshakeTimeout', context), HANDSHAKE_DEADLINE),
        { type: 'xstate.spawnChild', params: { id: 'getToken', input: getTokenInputOf(context) } },
      ],
    };
  }
  if (value === AUTHORIZING) {
    if (type !== DONE_TOKEN) return undefined;
    // RC-5: the token is in; leave authorizing (its invoke stops), open the socket (entry of opening).
    const token = (event as unknown as { output: string | undefined }).output;
    // Unchanged (no getToken: the token stays undefined) is the same context, not a copy: contexts
    // are never mutated, and a default client's connect makes one fewer (issue 16, GC per connect).
    const next = context.token === token && context.forceRefresh === false ? context : { ...context, token, forceRefresh: false };
    return {
      value: OPENING,
      context: next,
      children: NO_CHILDREN,
      actions: [
        STOP_TOKEN,
        { type: 'openSocket', params: openSocketParamsOf(next) },
      ],
    };
  }
  if (value === OPENING) {
    if (type !== 'socket.opened') return undefined;
    return { value: HANDSHAKING, context, children: NO_CHILDREN, actions: [{ type: 'sendHello', params: sendHelloParamsOf(context) }] }; // HS-8
  }
  if (value === HANDSHAKING) {
    if (event.type !== 'frame.welcome') return undefined;
    const next: ClientConnectionContext = { ...context, ...afterWelcome(event) };
    // HT-23: over HTTP the probe region moves on at once (an `always`): not this path.
    if (mayProbeWebSocket(next)) return undefined;
    afterEvents ??= {
      heartbeat: afterEventOf(['connected', 'heartbeat', 'waiting'], 'heartbeatInterval'),
      deadPeer: afterEventOf(['connected', 'liveness', 'alive'], 'deadPeer'),
    };
    // RC-4: cancel the handshake deadline, take the Welcome; HB-5 and HB-4 arm in `connected`.
    return {
      value: CONNECTED,
      context: next,
      children: NO_CHILDREN,
      actions: [
        CANCEL_DEADLINE,
        { type: 'acceptWelcome', params: welcomeFactsOf(event) },
        raise(afterEvents.heartbeat, delayOf('heartbeatInterval', next)),
        raise(afterEvents.deadPeer, delayOf('deadPeer', next)),
      ],
    };
  }
  return undefined;
}
