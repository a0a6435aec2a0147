/**
 * Liveness at the server (spec §5): what one visit of the shared sweep does to a connection, and
 * what a protocol-level pong means. The sweep (sweep.ts) decides when a connection is visited;
 * the session machine decides what a missed beat means; this module counts and reports, with the
 * machine's own rule functions (issue 12: one implementation of each rule).
 */
import { fixedIntervalTick } from '../spec/protocol/session-rules.js';
import type { ServerSessionEvent } from '../spec/machines/server-session.machine.js';
import type { Connection } from './connection.js';
import type { SweepMembers } from './sweep.js';
import type { Host } from './host.js';
import type { ResolvedOptions } from './options.js';
import type { LifelineMetrics } from './observability/metrics.js';

/** What liveness reads and calls (the registry, registry.ts, provides it). */
export interface LivenessDeps {
  readonly opts: Pick<ResolvedOptions, 'heartbeatIntervalStepsMax' | 'heartbeatMissedMax' | 'heartbeatRttToleranceMs'>;
  readonly metrics: LifelineMetrics | undefined;
  hostOfConn(conn: Connection): Host | undefined;
  forward(conn: Connection, ev: ServerSessionEvent): void;
}

/**
 * The sweep's members: the connections of attached sessions (added when a session takes its socket,
 * removed when it lets go of it or the socket closes). Marked by a bit of each Connection over the
 * registry's set of every open connection, not kept in a second Set (issue 16: ~33 B per idle
 * session); a cycle walks every open connection and visits the marked ones.
 */
export class SweptConnections implements SweepMembers<Connection> {
  private count = 0;

  constructor(private readonly open: ReadonlySet<Connection>) {}

  add(conn: Connection): void {
    if (conn.isSwept) return;
    conn.isSwept = true;
    this.count++;
  }
  delete(conn: Connection): void {
    if (!conn.isSwept) return;
    conn.isSwept = false;
    this.count--;
  }
  has(conn: Connection): boolean {
    return conn.isSwept;
  }
  get size(): number {
    return this.count;
  }
  values(): Iterable<Connection> {
    return this.open.values();
  }
}

/** One visit of the shared sweep: the liveness tick, and a sample of the session's queue (BP-3). */
export function onSweepVisit(d: LivenessDeps, conn: Connection): void {
  if (d.metrics) {
    const s = d.hostOfConn(conn)?.session;
    if (s) d.metrics.queueDepth(s.queue.length);
  }
  if (d.opts.heartbeatIntervalStepsMax > 1) {
    d.forward(conn, { type: 'sweep.tick' }); // HB-11: the machine counts ticks of an adapting interval
    return;
  }
  // Fixed interval: count here and tell the machine only when a threshold is crossed (issue 7), by
  // the rules its sweep.tick guards call, in their order (server/hot-path.test.ts holds them together).
  const rule = fixedIntervalTick(conn.missedPings, conn.silentTicks, d.opts.heartbeatMissedMax);
  if (rule !== 'ping') {
    d.forward(conn, { type: 'liveness.expired', rule }); // HB-3: pings unanswered past missed_max; HB-7: no frame for I × (M + 1)
    return;
  }
  conn.missedPings++;
  conn.silentTicks++;
  conn.ping(); // HB-1
}

/** A pong from the peer (HB-2): proof of the path, and an RTT sample when it answers our ping. */
export function onPong(d: LivenessDeps, conn: Connection): void {
  conn.missedPings = 0; // HB-2
  const rtt = conn.measurePong(d.opts.heartbeatRttToleranceMs);
  if (rtt) d.metrics?.heartbeatRtt(rtt.sampleMs / 1000, 'ping');
  // Fixed interval: the count above is the one the sweep reads (onSweepVisit); the machine's
  // socket.pong transition only clears its own `missed`, which nothing reads at a fixed interval
  // (server/hot-path.test.ts holds that). Stepping the machine per pong cost ~45 µs each, 2+ s of
  // CPU per interval at 50,000 sessions (issue 12 bench, liveness).
  if (d.opts.heartbeatIntervalStepsMax <= 1) return;
  d.forward(conn, { type: 'socket.pong', isRttSpike: rtt?.isSpike ?? false }); // HB-2, HB-11 (RTT spike)
}
