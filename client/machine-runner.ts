/**
 * Runs a client's connection machine without an XState actor (issue 16: the reference client's
 * footprint). An actor carries its own system, mailbox, observers, scheduler and a score of closures:
 * about 5 KB of an idle client's 14 KB once the machine itself was shared
 * (bench/probes/client-heap.md), and a large part of the CPU of a connect. The machine is pure, so
 * the client keeps its state value (one shared copy per configuration) and context, and steps it
 * with XState's public pure `initialTransition()` / `transition()`, executing the actions they
 * return in order, as the server does with its sessions (server/session-actor.ts; client/ may not
 * import it, and the client needs one thing more: the invoked `getToken` promise).
 *
 * What an actor would add is done here, only what this machine uses: the delayed events of `after`
 * and of `raise(…, { delay })` (`xstate.raise` with a delay, `xstate.cancel`), the invoked promise
 * (`xstate.spawnChild` / `xstate.stopChild`: its result comes back as XState's `xstate.done.actor.*`
 * or `xstate.error.actor.*` event, unless the invoking state was left first), a mailbox for events
 * sent while a step runs, observers told after each step, and stopping at a final state. With
 * `inspect` the client uses a real actor instead (client/connection.ts): the inspector observes actors.
 * client/machine-runner.test.ts runs both on the same event sequences and compares them.
 *
 * The connect path's steps (the initial one, then idle → … → connected) skip `transition()`: the
 * initial context comes from the machine's own context function, with one `opts` object shared by
 * every client of the same options, and the next four steps from client/connect-steps.ts (issue 16,
 * proven equal to `transition()` by its test). Only for the machine itself, not a variant of it.
 */
import { initialTransition, transition } from 'xstate';
import { systemClock, type Clock, type TimerHandle } from '../spec/protocol/clock.js';
import {
  clientConnectionMachine as specMachine,
  clientOptionsOf,
  initialClientContext,
  type ClientConnectionEvent,
  type ClientConnectionInput,
  type ClientConnectionOptions,
  type clientConnectionMachine,
  type GetTokenInput,
} from '../spec/machines/client-connection.machine.js';
import { CONNECT_VALUES, connectStep, type StepAction } from './connect-steps.js';
import { QueuedTimer, TimerQueue, type TimerTarget } from './timer-queue.js';

export type ClientMachine = typeof clientConnectionMachine;
export type ClientSnapshot = ReturnType<ClientMachine['getInitialSnapshot']>;
type Context = ClientSnapshot['context'];
type Status = ClientSnapshot['status'];

/** The part of an XState actor the client uses; a real actor satisfies it too. */
export interface ClientMachineActor {
  send(event: ClientConnectionEvent): void;
  getSnapshot(): { readonly value: ClientSnapshot['value']; readonly context: Context };
  stop(): void;
}

/** An action as `transition()` returns it (XState's ExecutableActionObject, the fields read here). */
type Executable = StepAction;

/** What the runner does for the machine's effects (its action stubs) and its one invoked actor. */
export interface RunnerEffects {
  /** An action the machine names (openSocket, sendHello, …), with its resolved params. */
  onMachineAction(type: string, params: unknown): void;
  /** The invoked getToken (RC-5). */
  fetchToken(input: GetTokenInput): Promise<string | undefined>;
  /** After every step (an actor's observers): the new state value. */
  onMachineStep(value: ClientSnapshot['value']): void;
  /** The machine threw: the runner stops, as an actor in error does. */
  onMachineError(err: unknown): void;
}

interface Delayed {
  readonly id: string;
  readonly timer: TimerHandle;
}

type Value = ClientSnapshot['value'];

function configKey(value: unknown): string {
  if (typeof value === 'string') return value;
  let key = '';
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) key += `${k}(${configKey(v)})`;
  return key;
}

/**
 * One value object per state configuration, shared by every client in it (transition() returns a
 * new one each step); the connect path's own values (connect-steps.ts) are those of theirs.
 */
const canonicalValues = new Map<string, Value>(CONNECT_VALUES.map((v) => [configKey(v), v]));
/** The shared snapshot skeleton (`_nodes`, `tags`, …) of each canonical value, built on first sight. */
const skeletons = new Map<Value, ClientSnapshot>();

/** The connect path's values: the steps of every connect return them (no key to build). */
const connectValues = new Set<Value>(CONNECT_VALUES);

function canonical(value: Value): Value {
  if (typeof value === 'string' || connectValues.has(value) || skeletons.has(value)) return value;
  const key = configKey(value);
  const v = canonicalValues.get(key);
  if (v !== undefined) return v;
  canonicalValues.set(key, value);
  return value;
}

function skeletonOf(machine: ClientMachine, value: Value, context: Context): ClientSnapshot {
  const v = canonical(value);
  let s = skeletons.get(v);
  if (!s) {
    // The snapshot transition() returned, minus what is the client's own: it is never mutated.
    s = machine.resolveState({ value: v, context });
    skeletons.set(v, s);
  }
  return s;
}

/**
 * The options of the last client created, without its functions: a client with equal options
 * shares their `opts` object (it is never mutated), so a thousand default clients hold one.
 */
let lastOptions: { readonly values: Readonly<Record<string, unknown>>; readonly opts: ClientConnectionOptions } | undefined;

function optionValues(input: ClientConnectionInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(input)) {
    const v = (input as unknown as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') out[k] = v;
  }
  return out;
}

function isSameOptions(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

function sharedOptions(input: ClientConnectionInput): ClientConnectionOptions {
  const values = optionValues(input);
  if (lastOptions !== undefined && isSameOptions(lastOptions.values, values)) return lastOptions.opts;
  const opts = clientOptionsOf(input);
  lastOptions = { values, opts };
  return opts;
}

const EMPTY = Object.freeze({}) as ClientSnapshot['children'];

/** No own key: a for-in, not Object.keys()'s array on every step (issue 16). */
function isEmpty(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return false;
  return true;
}

/** What a step leaves: the parts of the next snapshot the runner keeps. */
interface Next {
  readonly value: Value;
  readonly context: Context;
  readonly children: ClientSnapshot['children'];
  readonly status: Status;
}

/**
 * The delayed events of every runner on the platform clock, in one queue (client/timer-queue.ts):
 * a small entry per timer, one platform timer per duration, instead of a Node Timeout and a closure
 * per timer (issue 16: ~590 B per idle client, three timers made per connect). A runner on another
 * clock (tests' simulated ones) uses that clock's timers directly.
 */
let sharedTimers: TimerQueue<ClientConnectionEvent> | undefined;

export class ClientMachineRunner implements ClientMachineActor, TimerTarget<ClientConnectionEvent> {
  private value: ClientSnapshot['value'];
  private context: Context;
  private status: Status = 'active';
  /** The invoked getToken's child ref, only while a state that invokes it is active. */
  private children: ClientSnapshot['children'] = EMPTY;
  private mailbox: ClientConnectionEvent[] | undefined;
  private isProcessing = false;
  private delayed: Delayed[] | undefined;
  /** Bumped by every spawn and stop of getToken: a result for an older one is dropped. */
  private tokenRun = 0;

  constructor(
    private readonly machine: ClientMachine,
    input: ClientConnectionInput,
    private readonly clock: Clock,
    private readonly effects: RunnerEffects,
  ) {
    this.isProcessing = true;
    if (machine === specMachine) {
      // The initial state (idle) has no entry action: the initial step is its context alone.
      const context = initialClientContext(input, sharedOptions(input));
      this.value = 'idle';
      this.context = context;
      this.run({ value: 'idle', context, children: EMPTY, status: 'active' }, []);
    } else {
      const [snap, actions] = initialTransition(machine, input);
      this.value = canonical(snap.value);
      this.context = snap.context;
      this.run(snap, actions as readonly Executable[]);
    }
    this.drain();
  }

  /** The context as it is (getSnapshot() copies the whole snapshot around it). */
  get currentContext(): Context {
    return this.context;
  }

  getSnapshot(): ClientSnapshot {
    const s = skeletonOf(this.machine, this.value, this.context);
    return { ...s, context: this.context, status: this.status, children: this.children } as ClientSnapshot;
  }

  send(event: ClientConnectionEvent): void {
    if (this.status !== 'active') return; // stopped, done or in error: later events are dropped, as an actor's
    if (this.isProcessing) {
      (this.mailbox ??= []).push(event); // sent from an action: after this step, as an actor does
      return;
    }
    this.isProcessing = true;
    this.process(event);
    this.drain();
  }

  stop(): void {
    this.halt();
    if (this.status === 'active') this.status = 'stopped';
  }

  private process(event: ClientConnectionEvent): void {
    let next: Next;
    let actions: readonly Executable[];
    try {
      const fast = this.machine === specMachine ? connectStep(this.value, this.context, event) : undefined;
      if (fast) {
        next = { value: fast.value, context: fast.context, children: fast.children, status: 'active' };
        actions = fast.actions;
      } else {
        const step = transition(this.machine, this.getSnapshot(), event);
        next = step[0];
        actions = step[1] as readonly Executable[];
      }
    } catch (err) {
      this.crash(err);
      return;
    }
    this.run(next, actions);
  }

  /** Execute a step's actions in order, then take its snapshot and tell the observer. */
  private run(next: Next, actions: readonly Executable[]): void {
    try {
      for (const a of actions) this.execute(a);
    } catch (err) {
      this.crash(err);
      return;
    }
    this.value = next.value === this.value ? next.value : canonical(next.value);
    this.context = next.context;
    this.children = isEmpty(next.children) ? EMPTY : next.children;
    this.status = next.status;
    if (this.status !== 'active') this.halt(); // final state: no timer or token fetch outlives it
    this.effects.onMachineStep(this.value);
  }

  private execute(a: Executable): void {
    switch (a.type) {
      case 'xstate.raise': {
        const p = a.params as { event: ClientConnectionEvent; delay: number | undefined; id: string | undefined };
        // An undelayed raise is applied inside transition() itself and never reaches here.
        if (typeof p.delay === 'number') this.schedule(p.event, p.delay, p.id ?? p.event.type);
        return;
      }
      case 'xstate.cancel':
        this.cancel((a.params as { sendId: string }).sendId);
        return;
      case 'xstate.spawnChild': {
        const p = a.params as { id: string; input: GetTokenInput };
        const run = ++this.tokenRun;
        const id = p.id;
        // As fromPromise: the creator runs now, its result arrives as an event to the parent.
        let promise: Promise<string | undefined>;
        try {
          promise = this.effects.fetchToken(p.input);
        } catch (err) {
          promise = Promise.reject(err);
        }
        promise.then(
          (output) => {
            if (run === this.tokenRun) this.send({ type: `xstate.done.actor.${id}`, output, actorId: id } as unknown as ClientConnectionEvent);
          },
          (error: unknown) => {
            if (run === this.tokenRun) this.send({ type: `xstate.error.actor.${id}`, error, actorId: id } as unknown as ClientConnectionEvent);
          },
        );
        return;
      }
      case 'xstate.stopChild':
        this.tokenRun++; // the invoking state was left: its result is for nobody
        return;
      default:
        this.effects.onMachineAction(a.type, a.params);
    }
  }

  private drain(): void {
    try {
      let ev: ClientConnectionEvent | undefined;
      while (this.mailbox && (ev = this.mailbox.shift())) {
        if (this.status !== 'active') break;
        this.process(ev);
      }
    } finally {
      this.mailbox = undefined;
      this.isProcessing = false;
    }
  }

  private schedule(event: ClientConnectionEvent, delayMs: number, id: string): void {
    const timer: TimerHandle =
      this.clock === systemClock
        ? (sharedTimers ??= new TimerQueue<ClientConnectionEvent>(systemClock)).add(delayMs, this, event)
        : this.clock.setTimeout(() => {
            this.forget(timer);
            this.send(event);
          }, delayMs);
    // A new array of the exact length, not push() nor a spread: either grows the store to 17+
    // slots (168 B), held by every idle client for its two pending delays (issue 16,
    // client-heap.md). Literals for the usual one or two delays, concat() (exact) past that.
    const list = this.delayed;
    const entry = { id, timer };
    this.delayed = list === undefined || list.length === 0 ? [entry] : list.length === 1 ? [list[0]!, entry] : list.concat([entry]);
  }

  /** @internal One of this runner's delays in the shared queue is due. */
  onTimer(timer: QueuedTimer<ClientConnectionEvent>): void {
    this.forget(timer);
    this.send(timer.payload);
  }

  private clearTimer(timer: TimerHandle): void {
    if (timer instanceof QueuedTimer) sharedTimers?.cancel(timer as QueuedTimer<ClientConnectionEvent>);
    else this.clock.clearTimeout(timer);
  }

  /** A timer fired: it is no longer pending. In place, not a filtered copy (issue 16: GC per connect). */
  private forget(timer: unknown): void {
    const list = this.delayed;
    if (!list) return;
    for (let i = 0; i < list.length; i++) {
      if (list[i]?.timer !== timer) continue;
      list.splice(i, 1);
      break;
    }
    if (list.length === 0) this.delayed = undefined;
  }

  private cancel(id: string): void {
    const list = this.delayed;
    if (!list) return;
    let kept = 0;
    for (const d of list) {
      if (d.id === id) this.clearTimer(d.timer);
      else list[kept++] = d;
    }
    list.length = kept;
    if (kept === 0) this.delayed = undefined;
  }

  private halt(): void {
    for (const d of this.delayed ?? []) this.clearTimer(d.timer);
    this.delayed = undefined;
    this.tokenRun++;
  }

  private crash(err: unknown): void {
    this.halt();
    this.status = 'error';
    this.effects.onMachineError(err);
  }
}
