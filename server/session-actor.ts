/**
 * How the server runs one session machine per connection/session without an XState actor per
 * session (issue 7: memory per idle session; issue 12: only XState's public API).
 *
 * An XState actor carries its own actor system, mailbox, observers and a score of closures: about
 * 4.8 KB of heap each, a third of what an idle session cost. The machine is pure, so the server
 * keeps only each session's persisted snapshot (state value and context, as the SessionRecord
 * stores it; the rest of a snapshot is one shared copy per state configuration: 920 → 240 B
 * retained per idle session, bench/probes/session-heap.ts) and steps it with XState's public pure functions,
 * `initialTransition(machine, input)` and `transition(machine, snapshot, event)`, which return the
 * next snapshot and the actions to execute. The runner executes them itself, in order, by action
 * type, through a handler table (server/machine-host.ts): `(host, event, params) => void`. What an
 * actor would add is done here, and only what this machine uses: the delayed events of `after`
 * (`xstate.raise` with a delay, `xstate.cancel`; a timer only while a session sits in a state that
 * has one, from a Clock whose timers never keep the process alive), a mailbox for events sent while
 * a step runs, and stopping at a final status.
 *
 * A step costs about 27 µs (`transition()` builds an inert actor scope each call; rebuilding the
 * snapshot from the shared copy adds ~0.1 µs, where `resolveState` per step would add ~9): the hot
 * inbound bodies and the fixed-interval sweep stay off it (server/ingress.ts, server/liveness.ts
 * onSweepVisit), calling
 * the same rule functions as the machine's guards (spec/protocol/session-rules.ts). The Hello of a
 * new connection and a socket's close take a step precomputed once per distinct facts from a
 * context sessions share (`SessionRuntime.sharedStep`, issue 16), not a `transition()` each.
 *
 * With inspection on (`inspect`, strictly opt-in) the server uses real XState actors instead,
 * because the inspector observes actors: `inspectedSession` gives one the same handler table through
 * `.provide()`. Both satisfy `SessionActor`.
 */
import { createActor, initialTransition, transition, type InspectionEvent, type Observer } from 'xstate';
import { backgroundTimers, systemClock, type Clock, type TimerHandle } from '../spec/protocol/clock.js';
import type { ServerSessionEffects, ServerSessionEvent, ServerSessionInput, serverSessionMachine } from '../spec/machines/server-session.machine.js';

export type SessionMachine = typeof serverSessionMachine;
export type SessionSnapshot = ReturnType<SessionMachine['getInitialSnapshot']>;
export type SessionInput = ServerSessionInput;

/** The event an action ran for: a machine event, or XState's own (`xstate.after.…` of a delay). */
export type HostEvent = ServerSessionEvent | { readonly type: `xstate.${string}` };

/** One effect of the machine, done by the adapter on the session's host. */
export type ActionHandler<H, P> = (host: H, event: HostEvent, params: P) => void;

/** Every effect the machine names (its action stubs), with its params. */
export type ActionTable<H> = { readonly [K in keyof ServerSessionEffects]: ActionHandler<H, ServerSessionEffects[K]> };

/** What the server needs of a session's running machine: the part of an XState actor it uses. */
export interface SessionActor {
  send(event: ServerSessionEvent): void;
  getSnapshot(): SessionSnapshot;
  /** Stop at once: no more events, no timers (server close). */
  stop(): void;
}

/** An action as `transition()` returns it (XState's ExecutableActionObject, the fields read here). */
interface Executable {
  readonly type: string;
  readonly info: { readonly event: unknown };
  readonly params: unknown;
}

/** The params of XState's built-in `raise` (`after` schedules one with a delay) and `cancel`. */
interface RaiseParams {
  readonly event: ServerSessionEvent;
  readonly delay: number | undefined;
  readonly id: string | undefined;
}
interface CancelParams {
  readonly sendId: string;
}

/** A delayed event of `after`, pending. */
interface Delayed {
  readonly id: string;
  readonly timer: TimerHandle;
}

/**
 * What a session keeps of its machine, and what the SessionRecord persists (its `machine` field):
 * XState's persisted form of a snapshot, the state value and the context (issue 12). Everything
 * else in a snapshot (`_nodes`, `tags`, `children`, `historyValue`: ~490 B) depends only on the
 * state configuration, so the runtime keeps one copy per configuration for all its sessions.
 */
export interface PersistedSession {
  readonly value: SessionSnapshot['value'];
  readonly context: SessionSnapshot['context'];
}

type SessionContext = SessionSnapshot['context'];
/** A step as `transition()` returns it: the next snapshot and the actions to execute. */
type Step = readonly [SessionSnapshot, readonly Executable[]];

/** Steps kept at most (a safety bound: the machine's configurations × the facts seen are far fewer). */
const MAX_SHARED_STEPS = 512;

/**
 * What the machine reads of an event whose step may be shared (SessionRuntime.sharedStep), as a
 * number; undefined for any other event. `frame.hello`: the six facts its guards read (its body only
 * reaches the actions, which get the session's own event). `socket.closed`: its code
 * (`isPeerCloseResetting`), a 16-bit value, above bit 6.
 */
function factsKey(e: ServerSessionEvent): number | undefined {
  switch (e.type) {
    case 'frame.hello':
      return (
        (e.isVersionSupported ? 1 : 0) |
        (e.isAuthorized ? 2 : 0) |
        (e.isResume ? 4 : 0) |
        (e.isOverCapacity ? 8 : 0) |
        (e.isForbidden ? 16 : 0) |
        (e.isOverChannelLimit ? 32 : 0)
      );
    case 'socket.closed':
      return Number.isInteger(e.code) && e.code >= 0 && e.code <= 0xffff ? 64 + e.code * 128 : undefined;
    default:
      return undefined;
  }
}
type Status = SessionSnapshot['status'];
type DelayImpl = number | ((args: { readonly context: SessionContext }) => number);

/** A stable key for a state value (the configuration it names): `attached(phase:active,…)`. */
function configKey(value: unknown): string {
  if (typeof value === 'string') return value;
  let key = '';
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) key += `${k}(${configKey(v)})`;
  return key;
}

/** What every session of one server shares: the machine, the handler table, the clock, the crash sink. */
export class SessionRuntime<H> {
  /**
   * One full snapshot per state configuration, from XState's public `resolveState`: a session's
   * step spreads its own context (and status) over it. Sound because this machine spawns no
   * children and has no history states: `children` and `historyValue` are always `{}`
   * (session-actor.test.ts checks the machine for both).
   */
  private readonly skeletons = new Map<string, SessionSnapshot>();
  /**
   * The same skeletons by value object: each skeleton's own (interned) value, and the value of each
   * shared step kept (a stable object, at most MAX_SHARED_STEPS of them), so a step to it finds its
   * skeleton by identity instead of building a key (issue 16: ~700 B of garbage per new session).
   */
  private readonly byValue = new Map<unknown, SessionSnapshot>();
  /**
   * The initial step for the server's input, computed once: `initialTransition` is pure, so every
   * new session shares its snapshot (the context, with `opts`, is never mutated: `assign` copies
   * it shallowly, so every session keeps pointing at this one `opts`) and its actions.
   */
  private initial: { readonly input: SessionInput; readonly step: Step } | undefined;

  constructor(
    readonly machine: SessionMachine,
    readonly actions: ActionTable<H>,
    /** The machine or an unwrapped handler threw: the session is broken (its actor is in error). */
    readonly onCrash: (actor: SessionRunner<H>, err: unknown) => void,
    readonly clock: Clock = backgroundTimers(systemClock),
  ) {}

  /**
   * Precomputed steps (issue 16: XState's `transition()` builds an inert actor, and with it the
   * machine's initial snapshot, on every call: 30-45 µs, twice per new connection, again on every
   * close and resume). A step is a pure function of (snapshot, event). Contexts are never mutated
   * (`assign` copies), so sessions that went through the same steps from the initial snapshot share
   * one context object; from such a shared context and state value, an event whose only inputs to
   * the machine are a few facts takes the same step every time: computed once with `transition()`
   * and reused, each action then run with the session's own event. Two events qualify, by what the
   * machine reads of them: `frame.hello` (its six facts: the handshaking guards; its body is read by
   * the actions only) and `socket.closed` (its code: `isPeerCloseResetting`). Only a step whose every
   * action ran for the event itself is kept. session-actor.test.ts proves the reused steps equal to
   * an XState actor on random event sequences. Bounded: only contexts this cache produced are
   * shared, and the chain ends (no cached event leads back to one).
   */
  private readonly sharedSteps = new Map<SessionContext, Map<SessionSnapshot['value'], Map<number, Step>>>();
  private sharedStepCount = 0;

  /** A session machine in its initial state, its initial actions executed on `host`. */
  create(input: SessionInput, host: H): SessionRunner<H> {
    const step = this.initialStep(input);
    const runner = new SessionRunner(this, host, step[0].value, step[0].context);
    runner.start(step);
    return runner;
  }

  /**
   * A session machine continued from its persisted snapshot (issue 12: a record revived on this
   * node). No entry action runs again (the state was entered on the node that wrote the record);
   * the delays of the state it is in are armed for what is left of them: each less `elapsedMs`,
   * the time already spent in the state (detached: RS-1's resume TTL, RS-3's replay window).
   * A context with this server's options shares its `opts` with the sessions created here.
   */
  restore(persisted: PersistedSession, host: H, elapsedMs: number): SessionRunner<H> {
    const shared = this.initial?.step[0].context.opts;
    const context = shared && shallowEqual(persisted.context.opts, shared) ? { ...persisted.context, opts: shared } : persisted.context;
    const skeleton = this.skeletonOf(persisted.value, context);
    const runner = new SessionRunner(this, host, skeleton.value, context, skeleton.status);
    runner.armDelays(this.delaysOf(skeleton.value, context), elapsedMs);
    return runner;
  }

  /** The shared snapshot for the configuration `value` names (built on first sight). */
  skeletonOf(value: SessionSnapshot['value'], context: SessionContext): SessionSnapshot {
    const interned = this.byValue.get(value); // a session's own value: the interned one, found by identity
    if (interned) return interned;
    const key = configKey(value);
    let skeleton = this.skeletons.get(key);
    if (!skeleton) {
      skeleton = this.machine.resolveState({ value, context });
      this.skeletons.set(key, skeleton);
      this.byValue.set(skeleton.value, skeleton);
    }
    return skeleton;
  }

  /** The snapshot of `value` with this context and status: what transition() takes (a few fields copied). */
  snapshotOf(value: SessionSnapshot['value'], context: SessionContext, status: Status, error?: unknown): SessionSnapshot {
    const skeleton = this.skeletonOf(value, context);
    if (status === skeleton.status) return { ...skeleton, context };
    return { ...skeleton, context, status, error } as SessionSnapshot;
  }

  /** The initial state's persisted form for `input` (a record written before its first snapshot). */
  initialSnapshot(input: SessionInput): PersistedSession {
    const [snap] = this.initialStep(input);
    return { value: snap.value, context: snap.context };
  }

  private initialStep(input: SessionInput): Step {
    if (this.initial?.input !== input) {
      this.initial = { input, step: initialTransition(this.machine, input) };
      this.sharedSteps.clear(); // a new input: a new initial context, and every step from it
      this.sharedStepCount = 0;
      this.sharedSteps.set(this.initial.step[0].context, new Map());
    }
    return this.initial.step;
  }

  /**
   * The precomputed step (above) for this event from this value and context, or undefined when
   * there is none: the context is not a shared one, or the event is not one whose step is a
   * function of its facts.
   */
  sharedStep(value: SessionSnapshot['value'], context: SessionContext, event: ServerSessionEvent): Step | undefined {
    const byValue = this.sharedSteps.get(context);
    if (byValue === undefined) return undefined;
    const key = factsKey(event);
    if (key === undefined) return undefined;
    let byKey = byValue.get(value);
    const cached = byKey?.get(key);
    if (cached) return cached;
    const step = transition(this.machine, this.snapshotOf(value, context, 'active'), event);
    // Reusable only when nothing in it came from the event but the facts: every action ran for the
    // event itself (no raised event in between), so the session's own event can stand in for it.
    if (this.sharedStepCount < MAX_SHARED_STEPS && step[1].every((a) => a.type.startsWith('xstate.') || a.info.event === event)) {
      if (byKey === undefined) byValue.set(value, (byKey = new Map()));
      byKey.set(key, step);
      this.sharedStepCount++;
      this.byValue.set(step[0].value, this.skeletonOf(step[0].value, step[0].context));
      if (!this.sharedSteps.has(step[0].context)) this.sharedSteps.set(step[0].context, new Map());
    }
    return step;
  }

  /**
   * The `after` delays of every state node in the configuration `value` names, resolved on the
   * context as XState resolves them, with the event XState raises for each (its id is the type).
   */
  private delaysOf(value: SessionSnapshot['value'], context: SessionContext): { readonly type: string; readonly ms: number }[] {
    const out: { type: string; ms: number }[] = [];
    const impls = this.machine.implementations.delays as Readonly<Record<string, DelayImpl | undefined>>;
    const visit = (node: SessionMachine['root'], v: unknown): void => {
      for (const t of node.after) {
        const d = typeof t.delay === 'string' ? impls[t.delay] : (t.delay as DelayImpl);
        const ms = typeof d === 'function' ? d({ context }) : d;
        if (typeof ms !== 'number') throw new Error(`the machine's delay ${String(t.delay)} has no value`);
        out.push({ type: t.eventType, ms });
      }
      if (typeof v === 'string') {
        const child = node.states[v];
        if (child) visit(child, undefined);
      } else if (v !== undefined) {
        for (const [k, sub] of Object.entries(v as Record<string, unknown>)) {
          const child = node.states[k];
          if (child) visit(child, sub);
        }
      }
    };
    visit(this.machine.root, value);
    return out;
  }
}

function shallowEqual(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
}

/**
 * The state value of a session's machine, without building its snapshot: the runner keeps the
 * value itself (the hot path reads it once per frame, server/ingress.ts).
 */
export function stateValueOf(actor: SessionActor): SessionSnapshot['value'] {
  return actor instanceof SessionRunner ? actor.value : actor.getSnapshot().value;
}

/** The mailbox of a runner whose step runs with nothing sent to it yet (shared, never written). */
const RUNNING: ServerSessionEvent[] = Object.freeze([]) as unknown as ServerSessionEvent[];

/**
 * The errors of crashed runners (status 'error'), for their snapshots: a crash is rare, so not a
 * field of every runner (issue 16, memory per idle session).
 */
const crashes = new WeakMap<object, unknown>();

export class SessionRunner<H> implements SessionActor {
  /**
   * Events sent while a step runs, executed after it, as an actor's mailbox does. Undefined: no step
   * is running; RUNNING: one is, nothing waits (one field for both: memory per idle session).
   */
  private mailbox: ServerSessionEvent[] | undefined = undefined;
  private delayed: Delayed[] | undefined;

  /** Use SessionRuntime.create or .restore. */
  constructor(
    private readonly runtime: SessionRuntime<H>,
    readonly host: H,
    /** The state value, shared by every session in this configuration. */
    private stateValue: SessionSnapshot['value'],
    private context: SessionContext,
    private status: Status = 'active',
  ) {}

  /** The machine's state value (the shared one of its configuration), without building a snapshot. */
  get value(): SessionSnapshot['value'] {
    return this.stateValue;
  }

  /** Execute the initial step (create). */
  start(step: Step): void {
    this.mailbox = RUNNING;
    this.step(() => step);
    this.drainMailbox();
  }

  /** Arm each delay for what is left of it (restore); one already past fires on the next timer turn. */
  armDelays(delays: readonly { readonly type: string; readonly ms: number }[], elapsedMs: number): void {
    for (const d of delays) this.schedule({ type: d.type } as unknown as ServerSessionEvent, Math.max(0, d.ms - elapsedMs), d.type);
  }

  /** The full XState snapshot, rebuilt from the value, the context and the shared configuration. */
  getSnapshot(): SessionSnapshot {
    return this.runtime.snapshotOf(this.stateValue, this.context, this.status, this.status === 'error' ? crashes.get(this) : undefined);
  }

  send(event: ServerSessionEvent): void {
    if (this.status !== 'active') return; // stopped, like an actor: later events are dropped
    const box = this.mailbox;
    if (box !== undefined) {
      // Sent from an action: after this step, as an actor does.
      if (box === RUNNING) this.mailbox = [event];
      else box.push(event);
      return;
    }
    this.mailbox = RUNNING;
    this.process(event);
    this.drainMailbox();
  }

  stop(): void {
    this.cancelAll();
    if (this.status === 'active') this.status = 'stopped';
  }

  private process(event: ServerSessionEvent): void {
    const shared = this.runtime.sharedStep(this.stateValue, this.context, event);
    if (shared) this.step(() => shared, event); // the precomputed step, run for this session's event (issue 16)
    else this.step(() => transition(this.runtime.machine, this.getSnapshot(), event));
    if (this.status !== 'active') this.cancelAll(); // final state: no timer outlives it
  }

  /**
   * Compute a step, execute its actions in order, then take its snapshot: as in an actor, an action
   * that reads the session's state still sees the state the event found. Only the persisted form
   * is kept (value interned per configuration, context, status).
   */
  private step(compute: () => Step, event?: ServerSessionEvent): void {
    try {
      const [next, actions] = compute();
      for (const a of actions) this.execute(a, event);
      this.stateValue = next.value === this.stateValue ? next.value : this.runtime.skeletonOf(next.value, next.context).value;
      this.context = next.context;
      this.status = next.status;
    } catch (err) {
      this.crash(err);
      this.runtime.onCrash(this, err);
    }
  }
  /** Run one action; `event`, when given, is the event it ran for (a precomputed step's actions name another one). */
  private execute(a: Executable, event?: ServerSessionEvent): void {
    switch (a.type) {
      case 'xstate.raise': {
        const p = a.params as RaiseParams;
        // Only `after` raises in this machine, always with a delay; an undelayed raise is applied
        // inside transition() itself and never reaches here.
        if (typeof p.delay === 'number') this.schedule(p.event, p.delay, p.id ?? p.event.type);
        return;
      }
      case 'xstate.cancel':
        this.cancel((a.params as CancelParams).sendId);
        return;
      default: {
        const handler = (this.runtime.actions as Readonly<Record<string, ActionHandler<H, unknown> | undefined>>)[a.type];
        if (!handler) throw new Error(`no handler for the machine's action ${a.type}`);
        handler(this.host, (event ?? a.info.event) as HostEvent, a.params);
      }
    }
  }

  private drainMailbox(): void {
    try {
      let ev: ServerSessionEvent | undefined;
      while (this.mailbox !== undefined && this.mailbox.length > 0 && (ev = this.mailbox.shift())) {
        if (this.status !== 'active') break;
        this.process(ev);
      }
    } finally {
      this.mailbox = undefined;
    }
  }

  private schedule(event: ServerSessionEvent, delayMs: number, id: string): void {
    const clock = this.runtime.clock;
    const timer = clock.setTimeout(() => {
      this.delayed = this.delayed?.filter((d) => d.timer !== timer);
      if (this.delayed?.length === 0) this.delayed = undefined;
      this.send(event);
    }, delayMs);
    (this.delayed ??= []).push({ id, timer });
  }

  private cancel(id: string): void {
    if (!this.delayed) return;
    for (const d of this.delayed) if (d.id === id) this.runtime.clock.clearTimeout(d.timer);
    this.delayed = this.delayed.filter((d) => d.id !== id);
    if (this.delayed.length === 0) this.delayed = undefined;
  }

  private cancelAll(): void {
    for (const d of this.delayed ?? []) this.runtime.clock.clearTimeout(d.timer);
    this.delayed = undefined;
  }

  /** Like an actor in error: it takes no more events and holds no timer. */
  private crash(err: unknown): void {
    this.cancelAll();
    this.status = 'error';
    crashes.set(this, err);
  }
}

/**
 * The machine's action implementations for `.provide()`, bound to one host: the same handler table
 * the runner uses, for a real XState actor (inspection).
 */
export function bindActions<H>(table: ActionTable<H>, host: H): Record<string, (args: { event: HostEvent }, params: unknown) => void> {
  const out: Record<string, (args: { event: HostEvent }, params: unknown) => void> = {};
  for (const [name, handler] of Object.entries(table) as [string, ActionHandler<H, unknown>][]) {
    out[name] = ({ event }, params) => handler(host, event, params);
  }
  return out;
}

/**
 * A real XState actor (inspection is opt-in: the inspector observes actors) on the same handler
 * table, not started yet: the caller registers it first, as its initial step may need that.
 */
export function inspectedSession<H>(
  machine: SessionMachine,
  table: ActionTable<H>,
  host: H,
  input: SessionInput,
  inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void),
  onCrash: (actor: SessionActor, err: unknown) => void,
): SessionActor & { start(): unknown } {
  const actor = createActor(machine.provide({ actions: bindActions(table, host) }), { input, inspect });
  actor.subscribe({ error: (err) => onCrash(actor, err) });
  return actor;
}
