/**
 * The Lifeline contender's server side, through the reference server's public
 * API (`createServer` from server/). Imported lazily so the bench still runs
 * its baselines in a tree where server/ is missing or broken.
 */
import type { LifelineServer } from '../../server/server.js';
import type { LifelineServerOptions } from '../../server/options.js';

export type { LifelineServer };

const unlimited = Number.POSITIVE_INFINITY;
/** Every rate and cap off (issue 13 made them default): a bench opens thousands of sockets from 127.0.0.1. */
const benchUnlimited: LifelineServerOptions = {
  upgradeRatePerSecond: unlimited,
  messageRatePerSecond: unlimited,
  controlRatePerSecond: unlimited,
  maxSessions: unlimited,
  maxDetachedSessions: unlimited,
  detachedBudgetBytes: unlimited,
  // Thousands of clients at once from one loopback address (storms, resume): the per-address
  // pending-upgrade cap (HS-16, default 64) is for hostile peers, not for this.
  maxPendingUpgradesPerIp: unlimited,
  maxPendingUpgrades: unlimited,
};

export async function startLifeline(options: LifelineServerOptions): Promise<{ srv: LifelineServer; port: number; url: string }> {
  const { createServer } = await import('../../server/server.js');
  // A bench measures throughput from one address: the limits of issue 13 would measure themselves.
  const srv = createServer({ ...benchUnlimited, ...options });
  const addr = await srv.listen(0, '127.0.0.1');
  return { srv, port: addr.port, url: srv.url() };
}

/** True when the reference server can be loaded in this tree. */
export async function isLifelineAvailable(): Promise<boolean> {
  try {
    const m = await import('../../server/server.js');
    return typeof m.createServer === 'function';
  } catch {
    return false;
  }
}
