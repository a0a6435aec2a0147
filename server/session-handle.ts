/**
 * What the application holds of a session (issue 12): the LifelineSession API and nothing else.
 * The server's own session object also carries its queue, replay log, socket and machine; handing
 * that out let an application reach around the protocol (write to the socket, drop from the
 * replay). The handle keeps the session in a private field and forwards the public calls.
 *
 * It names only the public types, never the session module, so the session can create its handle
 * without an import cycle. One handle per session, made when first asked for; a handle is one
 * object with two fields, and the subscriptions view is made only if read.
 */
import type { LifelineSession, PublishMessage, SessionStats } from './types.js';

/**
 * A live, read-only view of a session's channels: reads go to the session's own set, writes do not
 * exist. It asks the session for its set on every read: a session makes its set on the first
 * subscribe (memory per idle session, issue 12), so the set a view saw first may be replaced.
 */
class ReadonlySetView<T> implements ReadonlySet<T> {
  readonly #source: { readonly subscriptions: ReadonlySet<T> };

  constructor(source: { readonly subscriptions: ReadonlySet<T> }) {
    this.#source = source;
  }

  get #set(): ReadonlySet<T> {
    return this.#source.subscriptions;
  }

  get size(): number {
    return this.#set.size;
  }

  has(value: T): boolean {
    return this.#set.has(value);
  }

  forEach(fn: (value: T, value2: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    for (const v of this.#set) fn.call(thisArg, v, v, this);
  }

  entries(): SetIterator<[T, T]> {
    return this.#set.entries();
  }

  keys(): SetIterator<T> {
    return this.#set.keys();
  }

  values(): SetIterator<T> {
    return this.#set.values();
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.#set.values();
  }

  get [Symbol.toStringTag](): string {
    return 'ReadonlySet';
  }
}

class SessionHandle implements LifelineSession {
  readonly #session: LifelineSession;
  #subscriptions: ReadonlySet<string> | undefined;

  constructor(session: LifelineSession) {
    this.#session = session;
  }

  get id(): string {
    return this.#session.id;
  }

  get principal(): string {
    return this.#session.principal;
  }

  /** The channels now subscribed, kept current; a view, so `as Set` cannot change them. */
  get subscriptions(): ReadonlySet<string> {
    return (this.#subscriptions ??= new ReadonlySetView<string>(this.#session));
  }

  get state(): string {
    return this.#session.state;
  }

  send(message: PublishMessage): void {
    this.#session.send(message);
  }

  end(): void {
    this.#session.end();
  }

  stats(): SessionStats {
    return this.#session.stats();
  }

  /** The session behind a handle, for the server's own code and tests; not exported from index.ts. */
  static sessionOf(handle: LifelineSession): LifelineSession | undefined {
    return #session in handle ? handle.#session : undefined;
  }
}

/** The narrow handle of a session; the session keeps the one it got (session.ts `get handle()`). */
export function sessionHandle(session: LifelineSession): LifelineSession {
  return new SessionHandle(session);
}

/**
 * The server's session behind a handle the server gave out, or undefined for anything else. For
 * code inside the package (tests that look at a session's internals); index.ts does not export it,
 * and the package's exports map keeps applications from importing this module.
 */
export function sessionBehind(handle: LifelineSession): LifelineSession | undefined {
  return SessionHandle.sessionOf(handle);
}
