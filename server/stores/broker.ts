/**
 * The broker seam publish goes through (issue 12, deliverable 3). A publication is plain data, so a
 * broker across nodes (issue 14: Redis Streams) can carry it; each node hands the publications it
 * receives to its own channel index (local-channels.ts), which queues them for its sessions.
 *
 * Asynchronous, and honest about failure: a broker that cannot take a publish (Redis away) rejects
 * the caller's promise; it never drops one silently. MemoryBroker, the default, delivers to this
 * node's subscribers before its promise resolves, so the order of publishes and frames is as it was
 * when publish was synchronous.
 */
import type { PublishMessage, PublishPatch } from '../types.js';
import type { Health } from './session-store.js';

export type Publication = (
  | { readonly kind: 'message'; readonly channel: string; readonly message: Omit<PublishMessage, 'channel'> }
  | { readonly kind: 'patch'; readonly channel: string; readonly patch: PublishPatch }
) & {
  /**
   * Where the broker put it in its channel's order (issue 14), set by a broker across nodes on
   * delivery: "<ms>-<n>" as a Redis Streams entry id, compared by comparePositions. Positions of
   * one channel grow in publish order; a node never delivers one at or below one it delivered.
   */
  readonly position?: string;
};

/** What Broker.since answers when publications after the position are gone (trimmed from the stream): the session must resync (Snapshot, or loss counted). */
export const TRIMMED = 'trimmed';

/** Order of two broker positions "<ms>-<n>" (Redis Streams ids): negative, 0, positive. */
export function comparePositions(a: string, b: string): number {
  const [am = '0', an = '0'] = a.split('-');
  const [bm = '0', bn = '0'] = b.split('-');
  return compareDecimal(am, bm) || compareDecimal(an, bn);
}

/** Two unsigned decimals: as numbers while exact (the hot path: a broker compares every entry's id), else as bigints. */
function compareDecimal(x: string, y: string): number {
  const nx = Number(x);
  const ny = Number(y);
  if (Number.isSafeInteger(nx) && Number.isSafeInteger(ny)) return nx === ny ? 0 : nx < ny ? -1 : 1;
  const d = BigInt(x) - BigInt(y);
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

/** How a node receives publications: queue it for its local subscribers; returns how many. */
export type DeliverLocally = (p: Publication) => number;

/**
 * A broker across nodes lost publications of `channel` this node had joined (issue 14, MN: it was
 * away from Redis while they were trimmed from the stream): `lost` of them if the broker can count
 * them. The next publication delivered for the channel follows the gap. Its local subscribers have
 * lost continuity there as if `since` had answered TRIMMED (Snapshot, or `dropped_before`).
 */
export type GapListener = (channel: string, lost: number | undefined) => void;

/** A broker that cannot take a publish or answer `since` now (Redis away): never a silent drop. */
export class BrokerUnavailableError extends Error {
  constructor(message = 'broker unavailable', options?: ErrorOptions) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}

export interface Broker {
  /**
   * Set once by the server: where this node's publications arrive, and who hears of a gap in a
   * joined channel (a broker without history never calls it).
   */
  bind(deliver: DeliverLocally, onGap?: GapListener): void;
  /**
   * Publish to every node's subscribers. Resolves with the number of sessions on this node that
   * queued it (a broker across nodes cannot count the others'); rejects when the broker cannot take it.
   */
  publish(p: Publication): Promise<number>;
  /** This node has its first local subscriber of `channel` (CH-1): start receiving it. */
  join(channel: string): void;
  /** This node's last local subscriber of `channel` left (CH-2, CC-6): stop receiving it. */
  leave(channel: string): void;
  /**
   * Publications of `channel` after `position`, in order, that the broker still holds (a session
   * continued on this node catches up on what was published while it moved, issue 14), or TRIMMED
   * when some after it are gone. Absent on a broker without history (MemoryBroker).
   */
  since?(channel: string, position: string): Promise<readonly Publication[] | typeof TRIMMED>;
  /**
   * MN-2 for a channel a session joins now (the node joined it, `join` ran): a position at or after
   * every publication this node delivered on it, at or before every one it will deliver. The session
   * records it as its last taken position, so a move before its first publication still catches up
   * from here. Absent on a broker without positions (MemoryBroker).
   */
  tail?(channel: string): string | undefined;
  /** Reachability of a broker across the network (absent: always ready). */
  readonly health?: Health;
  /** Release connections. The server never calls it: whoever built the broker closes it. */
  close?(): Promise<void>;
}

/** The single-node broker: a publish is delivered to this node's subscribers at once. */
export class MemoryBroker implements Broker {
  private deliver: DeliverLocally | undefined;

  bind(deliver: DeliverLocally): void {
    this.deliver = deliver;
  }

  publish(p: Publication): Promise<number> {
    try {
      return Promise.resolve(this.deliverNow(p));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Synchronous delivery, for a node that publishes to itself (MemoryBroker semantics). */
  deliverNow(p: Publication): number {
    if (!this.deliver) throw new Error('broker not bound to a server');
    return this.deliver(p);
  }

  join(_channel: string): void {
    // one node: its channel index is the whole membership
  }

  leave(_channel: string): void {}
}
