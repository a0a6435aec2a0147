/**
 * The Lifeline contender's client side through the reference client's public
 * API (`createNodeClient` from client/node.ts), imported lazily like the server.
 * Over HTTP (issue 15) the same client runs over the carrier (lifeline-http.ts).
 */
import type { LifelineClient } from '../../client/create-client.js';

export type { LifelineClient };

/** What carries the reference client's frames: a WebSocket, or the HTTP carrier (spec §22, issue 15). */
export type LifelineCarrier = 'ws' | 'http';

let nodeClient: typeof import('../../client/node.js').createNodeClient | undefined;

/** A connected reference client; resolves on its first Welcome. */
export async function connectReference(
  url: string,
  opts: { channels?: readonly string[]; carrier?: LifelineCarrier } = {},
): Promise<LifelineClient<Uint8Array>> {
  const channels = opts.channels ? { channels: opts.channels } : {};
  let c: LifelineClient<Uint8Array>;
  if (opts.carrier === 'http' && process.env['BENCH_HTTP_CLIENT'] === 'bench') {
    const { createClient } = await import('../../client/create-client.js');
    const { benchHttpTransport } = await import('./lifeline-http.js');
    c = createClient<Uint8Array>({ url, ...channels, transport: benchHttpTransport() });
  } else if (opts.carrier === 'http') {
    const { createNodeClient } = await import('../../client/node.js');
    c = createNodeClient<Uint8Array>({ url, ...channels, transports: ['http'] });
  } else {
    // Loaded once, not per connect: an import() per call cost the 10,000-connection opening ~2 %
    // of the load generator's CPU, charged to the client (issue 16).
    nodeClient ??= (await import('../../client/node.js')).createNodeClient;
    c = nodeClient<Uint8Array>({ url, ...channels });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no Welcome within 30 s')), 30_000);
  });
  try {
    await Promise.race([c.ready(), timeout]);
  } catch (err) {
    c.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return c;
}

/** True when the reference client can be loaded in this tree. */
export async function isClientAvailable(): Promise<boolean> {
  try {
    const m = await import('../../client/node.js');
    return typeof m.createNodeClient === 'function';
  } catch {
    return false;
  }
}
