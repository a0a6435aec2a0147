/**
 * How the server runs one session machine per connection/session without an
 * XState actor per session (issue 7, memory per idle session).
 *
 * An XState actor carries its own actor system, mailbox, observers and a score
 * of closures: about 4.8 KB of heap each, a third of what an idle session cost.
 * The machine itself is pure, so the server keeps only each session's snapshot
 * (about 0.7 KB) and steps it with the machine's own `transition()`, through
 * one actor scope shared by every session of the server. What an actor would
 * add is done here, and only what this machine uses: a mailbox for events sent
 * while a transition runs, the delayed events of `after` (a timer only while a
 * session sits in a state that has one), and stopping at a final state.
 *
 * The machine's semantics stay XState's: transitions, guards, assign and the
 * order of actions are computed by XState; the actions run at once, in order,
 * as an actor runs them. With inspection on (`inspect`, strictly opt-in) the
 * server uses real XState actors instead, because the inspector observes
 * actors; both satisfy `SessionActor`.
 */
import type { AnyActorRef, AnyActorScope, EventObject } from 'xstate';
import type { ServerSessionEvent, serverSessionMachine } from '../spec/machines/server-session.machine.js';

export type SessionMachine = typeof serverSessionMachine;
export type SessionSnapshot = ReturnType<SessionMachine['getInitialSnapshot']>;
export type SessionInput = Parameters<SessionMachine['getInitialSnapshot']>[1];

/** What the server needs of a session's running machine: the part of an XState actor it uses. */
export interface SessionActor {
  send(event: ServerSessionEvent): void;
  getSnapshot(): SessionSnapshot;
  /** Stop at once: no more events, no timers (server close). */
  stop(): void;
}

/** Timers for the delayed events of `after`: the real ones, or XState's SimulatedClock in tests. */
export interface TimerClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

const realTimers: TimerClock = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // like the sweep: a pending handshake or resume timeout never keeps the process alive
    return t;
  },
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** A delayed event of `after`, scheduled by XState's built-in raise action. */
interface Delayed {
  readonly id: string;
  readonly timer: unknown;
}

/**
 * Runs every lean actor of one server: the shared actor scope and the error
 * sink. `self` in the scope is set to the actor whose transition is running;
 * transitions never interleave (an event sent during one waits in the mailbox).
 */
export class LeanSessionRuntime {
  private current: LeanSessionActor | undefined;
  private readonly deferred: (() => void)[] = [];
  readonly scope: AnyActorScope;

  constructor(
    readonly machine: SessionMachine,
    /** The machine threw (not an action: those are wrapped by the host); the session is broken. */
    readonly onCrash: (actor: LeanSessionActor, err: unknown) => void,
    readonly clock: TimerClock = realTimers,
  ) {
    const runtime = this;
    const scheduler = {
      schedule: (_source: AnyActorRef, _target: AnyActorRef, event: EventObject, delay: number, id: string | undefined) =>
        runtime.running().schedule(event as ServerSessionEvent, delay, id ?? ''),
      cancel: (_source: AnyActorRef, id: string) => runtime.running().cancel(id),
      cancelAll: () => runtime.running().cancelAll(),
    };
    // Only what `transition()` of this machine touches: the built-in raise/cancel of `after`
    // go through defer + system.scheduler, and actions receive `self`.
    this.scope = {
      get self() {
        return runtime.running() as unknown as AnyActorRef; // actions find their Host by this object
      },
      id: '',
      sessionId: '',
      logger: () => {},
      defer: (fn: () => void) => void runtime.deferred.push(fn),
      emit: () => {},
      stopChild: () => {},
      actionExecutor: (action: { exec?: ((info: unknown, params: unknown) => void) | undefined; info: unknown; params: unknown }) => action.exec?.(action.info, action.params),
      // No inspector sees lean actors (inspection uses real actors) and this machine has no children.
      system: { scheduler, _sendInspectionEvent: () => {}, _unregister: () => {}, _relay: () => {} } as unknown as AnyActorScope['system'],
    } as unknown as AnyActorScope;
  }

  private running(): LeanSessionActor {
    if (!this.current) throw new Error('no session transition is running');
    return this.current;
  }

  /** A session machine in its initial state; `register` runs first, so its actions can find their host. */
  create(input: SessionInput, register: (actor: LeanSessionActor) => void): LeanSessionActor {
    return new LeanSessionActor(this, input, register);
  }

  /** Step `actor` with `event` (or compute its initial snapshot), then run what XState deferred. */
  step(actor: LeanSessionActor, compute: () => SessionSnapshot): SessionSnapshot | undefined {
    const outer = this.current;
    this.current = actor;
    try {
      const next = compute();
      actor.snapshot = next;
      let fn: (() => void) | undefined;
      while ((fn = this.deferred.shift())) fn();
      return next;
    } catch (err) {
      this.deferred.length = 0;
      actor.crash(err);
      this.onCrash(actor, err);
      return undefined;
    } finally {
      this.current = outer;
    }
  }
}

export class LeanSessionActor implements SessionActor {
  /** Set by the runtime after each step. */
  snapshot!: SessionSnapshot;
  private mailbox: ServerSessionEvent[] | undefined;
  private isProcessing = false;
  private delayed: Delayed[] | undefined;

  constructor(
    private readonly runtime: LeanSessionRuntime,
    input: SessionInput,
    register: (actor: LeanSessionActor) => void,
  ) {
    register(this);
    this.isProcessing = true;
    runtime.step(this, () => runtime.machine.getInitialSnapshot(runtime.scope, input));
    this.drainMailbox();
  }

  getSnapshot(): SessionSnapshot {
    return this.snapshot;
  }

  send(event: ServerSessionEvent): void {
    if (this.snapshot.status !== 'active') return; // stopped, like an actor: later events are dropped
    if (this.isProcessing) {
      (this.mailbox ??= []).push(event); // sent from an action: after this transition, as an actor does
      return;
    }
    this.isProcessing = true;
    this.process(event);
    this.drainMailbox();
  }

  private process(event: ServerSessionEvent): void {
    const { machine, scope } = this.runtime;
    const next = this.runtime.step(this, () => machine.transition(this.snapshot, event, scope));
    if (next && next.status !== 'active') this.cancelAll(); // final state: no timer outlives it
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

  stop(): void {
    this.cancelAll();
    if (this.snapshot.status === 'active') this.snapshot = { ...this.snapshot, status: 'stopped' } as SessionSnapshot;
  }

  /** @internal the runtime's scheduler: a delayed event of `after`. */
  schedule(event: ServerSessionEvent, delayMs: number, id: string): void {
    const clock = this.runtime.clock;
    const timer = clock.setTimeout(() => {
      this.delayed = this.delayed?.filter((d) => d.timer !== timer);
      if (this.delayed?.length === 0) this.delayed = undefined;
      this.send(event);
    }, delayMs);
    (this.delayed ??= []).push({ id, timer });
  }

  /** @internal */
  cancel(id: string): void {
    if (!this.delayed) return;
    for (const d of this.delayed) if (d.id === id) this.runtime.clock.clearTimeout(d.timer);
    this.delayed = this.delayed.filter((d) => d.id !== id);
    if (this.delayed.length === 0) this.delayed = undefined;
  }

  /** @internal */
  cancelAll(): void {
    for (const d of this.delayed ?? []) this.runtime.clock.clearTimeout(d.timer);
    this.delayed = undefined;
  }

  /** @internal the machine threw: like an actor in error, it takes no more events. */
  crash(err: unknown): void {
    this.cancelAll();
    this.snapshot = { ...this.snapshot, status: 'error', error: err } as SessionSnapshot;
  }
}
