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
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no Welcome within 30 s')), 30_000);
    const off = c.subscribe((e) => {
      if (e.type !== 'welcome') return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
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
