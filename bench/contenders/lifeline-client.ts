/**
 * The Lifeline contender's client side through the reference client's public
 * API (`createNodeClient` from client/node.ts), imported lazily like the server.
 */
import type { LifelineClient } from '../../client/create-client.js';

export type { LifelineClient };

/** A connected reference client; resolves on its first Welcome. */
export async function connectReference(url: string, opts: { channels?: readonly string[] } = {}): Promise<LifelineClient<Uint8Array>> {
  const { createNodeClient } = await import('../../client/node.js');
  const c = createNodeClient<Uint8Array>({ url, ...(opts.channels ? { channels: opts.channels } : {}) });
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
