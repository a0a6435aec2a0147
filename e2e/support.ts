/**
 * End-to-end support: the reference server and the reference client together over loopback, with
 * millisecond timings, an application that records what it receives, and numbered traffic both ways.
 */
import type { AddressInfo } from 'node:net';
import { stateDigest } from '../spec/protocol/digest.js';
import { createServer, type LifelineServer, type LifelineServerOptions } from '../server/index.js';
import type { ClientEvent, LifelineClient } from '../client/index.js';
import { createNodeClient, type NodeClientOptions } from '../client/node.js';

export const serverTimings: LifelineServerOptions = {
  heartbeatIntervalMs: 50,
  heartbeatMissedMax: 2,
  handshakeTimeoutMs: 1000,
  resumeTtlMs: 20_000,
  ackDelayMs: 5,
  drainDeadlineMs: 2000,
  drainSpreadMs: 300,
  // Every client of an e2e test connects from 127.0.0.1, over and over (restarts, drains).
  upgradeRatePerSecond: Number.POSITIVE_INFINITY,
};

export const clientTimings = {
  reconnectBaseMs: 20,
  reconnectCapMs: 200,
  reconnectMaxAttempts: 1000,
  handshakeTimeoutMs: 500,
  ackDelayMs: 5,
} as const;

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Received {
  readonly server: number;
  readonly sessionId: string;
  readonly seq: bigint;
  readonly messageId: string;
  readonly payload: string;
}

/**
 * The application behind every server instance of a test: it outlives restarts (like a database),
 * records each client message the handler gets (SEQ-10), and owns a counter state channel.
 */
export class App {
  readonly received: Received[] = [];
  version = 0n;
  value = 0;

  options(serverIndex: number): LifelineServerOptions {
    return {
      onMessage: (m, session) => {
        this.received.push({ server: serverIndex, sessionId: session.id, seq: m.seq, messageId: m.messageId, payload: dec.decode(m.payload) });
      },
      snapshot: (channel) =>
        channel === 'counter' ? { version: this.version, state: this.counterBytes(), digest: stateDigest(this.counterBytes()) } : undefined,
    };
  }

  counterBytes(): Uint8Array {
    return enc.encode(JSON.stringify({ value: this.value }));
  }

  /** Increment the counter and publish the patch (delta = the new state, SD-1, SD-3). */
  bump(server: LifelineServer): Promise<number> {
    const baseVersion = this.version;
    this.version += 1n;
    this.value += 1;
    return server.publishPatch('counter', { baseVersion, version: this.version, delta: this.counterBytes(), digest: stateDigest(this.counterBytes()) });
  }

  /** Client payloads in the order the application received them, deduped by message id (SEQ-8). */
  deliveredOnce(): { payloads: string[]; duplicates: number } {
    const seen = new Set<string>();
    const payloads: string[] = [];
    let duplicates = 0;
    for (const r of this.received) {
      if (seen.has(r.messageId)) {
        duplicates++;
        continue;
      }
      seen.add(r.messageId);
      payloads.push(r.payload);
    }
    return { payloads, duplicates };
  }
}

export class Rig {
  readonly servers: LifelineServer[] = [];
  readonly clients: LifelineClient[] = [];
  readonly app = new App();

  async server(opts: LifelineServerOptions = {}, port = 0): Promise<LifelineServer> {
    const s = createServer({ ...serverTimings, ...this.app.options(this.servers.length), ...opts });
    this.servers.push(s);
    // A port just released by a closed server can take a moment to be free again.
    for (let i = 0; ; i++) {
      try {
        await s.listen(port, '127.0.0.1');
        return s;
      } catch (err) {
        if (i > 50 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        await sleep(20);
      }
    }
  }

  client(url: string, opts: Partial<NodeClientOptions<Uint8Array>> = {}): { client: LifelineClient; log: ClientLog } {
    const client = createNodeClient({ url, ...clientTimings, autoConnect: false, ...opts });
    const log = new ClientLog(client);
    this.clients.push(client);
    client.connect();
    return { client, log };
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await Promise.all(this.servers.splice(0).map((s) => s.close()));
  }
}

/** Everything a client reported, with arrival times. */
export class ClientLog {
  readonly events: { at: number; e: ClientEvent<Uint8Array> }[] = [];

  constructor(client: LifelineClient) {
    client.onEvent((e) => this.events.push({ at: performance.now(), e }));
  }

  of<T extends ClientEvent<Uint8Array>['type']>(t: T): Extract<ClientEvent<Uint8Array>, { type: T }>[] {
    return this.events.map((x) => x.e).filter((e): e is Extract<ClientEvent<Uint8Array>, { type: T }> => e.type === t);
  }
  messages(channel = 'e2e'): string[] {
    return this.of('message').filter((m) => m.channel === channel).map((m) => dec.decode(m.payload));
  }
  states(): string[] {
    return this.of('state').map((s) => s.state);
  }
}

export function port(server: LifelineServer): number {
  return (server.httpServer.address() as AddressInfo).port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** "S1", "S2", … */
export function numbered(prefix: string, from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
}

/** Publish S<from>…S<to> in order; resolves once all are queued (the default broker queues each at once). */
export async function publishNumbered(server: LifelineServer, from: number, to: number): Promise<void> {
  for (const p of numbered('S', from, to)) await server.publish('e2e', { payload: enc.encode(p), messageId: p });
}

export function decodeJson(b: Uint8Array | undefined): unknown {
  return b === undefined ? undefined : JSON.parse(dec.decode(b));
}
