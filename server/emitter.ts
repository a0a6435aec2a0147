/** A small typed event emitter: the application's events carry typed arguments, no `any`. */
export type Listener<A extends unknown[]> = (...args: A) => void;

export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly listeners: { [K in keyof E]?: Set<Listener<E[K]>> } = {};

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    let set = this.listeners[event];
    if (!set) this.listeners[event] = set = new Set();
    set.add(fn);
    return () => this.off(event, fn);
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): void {
    this.listeners[event]?.delete(fn);
  }

  /** Someone listens to `event`: an emitter can skip building its arguments otherwise. */
  protected hasListeners<K extends keyof E>(event: K): boolean {
    return (this.listeners[event]?.size ?? 0) > 0;
  }

  /** Listener exceptions are reported to `onError`, never to the emitter's caller. */
  protected emit<K extends keyof E>(event: K, onError: (err: unknown) => void, ...args: E[K]): void {
    const set = this.listeners[event];
    if (!set) return;
    for (const fn of set) {
      try {
        fn(...args);
      } catch (err) {
        onError(err);
      }
    }
  }
}
