/**
 * How the server runs one session machine per connection/session without an XState actor per
 * session (issue 7: memory per idle session; issue 12: only XState's public API).
 *
 * An XState actor carries its own actor system, mailbox, observers and a score of closures: about
 * 4.8 KB of heap each, a third of what an idle session cost. The machine is pure, so the server
 * keeps only each session's snapshot and steps it with XState's public pure functions,
 * `initialTransition(machine, input)` and `transition(machine, snapshot, event)`, which return the
 * next snapshot and the actions to execute. The runner executes them itself, in order, by action
 * type, through a handler table (server/machine-host.ts): `(host, event, params) => void`. What an
 * actor would add is done here, and only what this machine uses: the delayed events of `after`
 * (`xstate.raise` with a delay, `xstate.cancel`; a timer only while a session sits in a state that
 * has one, from a Clock whose timers never keep the process alive), a mailbox for events sent while
 * a step runs, and stopping at a final status.
 *
 * A step costs about 27 µs (`transition()` builds an inert actor scope each call): the hot inbound
 * bodies and the fixed-interval sweep stay off it (server/ingress.ts, server/liveness.ts onSweepVisit), calling
 * the same rule functions as the machine's guards (spec/protocol/session-rules.ts).
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

/** What every session of one server shares: the machine, the handler table, the clock, the crash sink. */
export class SessionRuntime<H> {
  constructor(
    readonly machine: SessionMachine,
    readonly actions: ActionTable<H>,
    /** The machine or an unwrapped handler threw: the session is broken (its actor is in error). */
    readonly onCrash: (actor: SessionRunner<H>, err: unknown) => void,
    readonly clock: Clock = backgroundTimers(systemClock),
  ) {}

  /** A session machine in its initial state, its initial actions executed on `host`. */
  create(input: SessionInput, host: H): SessionRunner<H> {
    return new SessionRunner(this, host, input);
  }
}

export class SessionRunner<H> implements SessionActor {
  private snapshot!: SessionSnapshot;
  private mailbox: ServerSessionEvent[] | undefined;
  private isProcessing = false;
  private delayed: Delayed[] | undefined;

  constructor(
    private readonly runtime: SessionRuntime<H>,
    readonly host: H,
    input: SessionInput,
  ) {
    this.isProcessing = true;
    this.step(() => initialTransition(runtime.machine, input));
    this.drainMailbox();
  }

  getSnapshot(): SessionSnapshot {
    return this.snapshot;
  }

  send(event: ServerSessionEvent): void {
    if (this.snapshot.status !== 'active') return; // stopped, like an actor: later events are dropped
    if (this.isProcessing) {
      (this.mailbox ??= []).push(event); // sent from an action: after this step, as an actor does
      return;
    }
    this.isProcessing = true;
    this.process(event);
    this.drainMailbox();
  }

  stop(): void {
    this.cancelAll();
    if (this.snapshot.status === 'active') this.snapshot = { ...this.snapshot, status: 'stopped' } as SessionSnapshot;
  }

  private process(event: ServerSessionEvent): void {
    this.step(() => transition(this.runtime.machine, this.snapshot, event));
    if (this.snapshot.status !== 'active') this.cancelAll(); // final state: no timer outlives it
  }

  /**
   * Compute a step, execute its actions in order, then take its snapshot: as in an actor, an action
   * that reads the session's state still sees the state the event found.
   */
  private step(compute: () => readonly [SessionSnapshot, readonly Executable[]]): void {
    try {
      const [next, actions] = compute();
      for (const a of actions) this.execute(a);
      this.snapshot = next;
    } catch (err) {
      this.crash(err);
      this.runtime.onCrash(this, err);
    }
  }

  private execute(a: Executable): void {
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
        handler(this.host, a.info.event as HostEvent, a.params);
      }
    }
  }

  private drainMailbox(): void {
    try {
      let ev: ServerSessionEvent | undefined;
      while (this.mailbox && (ev = this.mailbox.shift())) {
        if (this.snapshot.status !== 'active') break;
        this.process(ev);
      }
    } finally {
      this.mailbox = undefined;
      this.isProcessing = false;
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
    this.snapshot = { ...this.snapshot, status: 'error', error: err } as SessionSnapshot;
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
