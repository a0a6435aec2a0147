/**
 * MN-18: this node's liveness lease in a shared store. Renewed every `renewMs` with a TTL of
 * `ttlMs` (three renewals per TTL: two may fail or come late before it runs out), so a node
 * resuming a session this node holds attached can tell a live owner, worth waiting for (it releases
 * on request, MN-17), from a dead one, which never will (MN-7): that one's sessions are claimed at once.
 *
 * A renewal that fails (the store away) is not retried early: the next one comes on schedule. A node
 * cut off from the store that long loses its lease, and its sessions are claimed without a wait;
 * under MN-1 it can write nothing of them then anyway. Timers from the server's clock (a test's
 * SimulatedClock drives them).
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from './clock.js';
import type { SessionStore } from './stores/session-store.js';

export interface NodeLeaseDeps {
  readonly store: Pick<SessionStore, 'renewLease' | 'endLease'>;
  readonly nodeId: string;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly log: Logger;
}

export class NodeLease {
  private timer: TimerHandle | undefined;
  private isStopped = false;

  constructor(private readonly d: NodeLeaseDeps) {}

  /** Take the lease now and keep renewing it; nothing when the store keeps no leases. */
  start(): void {
    if (!this.d.store.renewLease) return;
    this.renew();
  }

  /** Stop renewing and drop the lease (a close, after its sessions were written): resolves when the store has it. */
  end(): Promise<void> {
    this.isStopped = true;
    if (this.timer !== undefined) this.d.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const ended = this.d.store.endLease?.(this.d.nodeId);
    return ended ? ended.catch(() => undefined) : Promise.resolve(); // the store away: the lease runs out by itself
  }

  private renew(): void {
    const d = this.d;
    d.store.renewLease?.(d.nodeId, d.ttlMs).catch((err: unknown) => d.log.debug({ err }, 'node lease renewal failed (MN-18): the next one is due on schedule'));
    if (this.isStopped) return;
    this.timer = d.clock.setTimeout(() => this.renew(), d.renewMs);
  }
}
