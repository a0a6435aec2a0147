/**
 * The Lifeline contender's server side, through the reference server's public
 * API (`createServer` from server/). Imported lazily so the bench still runs
 * its baselines in a tree where server/ is missing or broken.
 */
import type { LifelineServer } from '../../server/server.js';
import type { LifelineServerOptions } from '../../server/options.js';

export type { LifelineServer };

export async function startLifeline(options: LifelineServerOptions): Promise<{ srv: LifelineServer; port: number; url: string }> {
  const { createServer } = await import('../../server/server.js');
  // Every bench client comes from one loopback address, thousands at once (storms, resume):
  // the per-address pending-upgrade cap (HS-16, default 64) is for hostile peers, not for this.
  const srv = createServer({ maxPendingUpgradesPerIp: 1_000_000, maxPendingUpgrades: 1_000_000, ...options });
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
