/**
 * A Health (session-store.ts) backed by one boolean: what a store or broker across the network sets
 * when its connection fails or answers again. Listeners hear changes only, never a repeat.
 */
import type { Health } from './session-store.js';

export class HealthFlag implements Health {
  private ready: boolean;
  private readonly listeners = new Set<(ready: boolean) => void>();

  constructor(initial = true) {
    this.ready = initial;
  }

  isReady(): boolean {
    return this.ready;
  }

  onHealth(listener: (ready: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Returns whether it changed. */
  set(ready: boolean): boolean {
    if (ready === this.ready) return false;
    this.ready = ready;
    for (const l of [...this.listeners]) l(ready);
    return true;
  }
}
