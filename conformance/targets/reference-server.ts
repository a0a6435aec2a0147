/**
 * The reference server as a conformance target: `createServer` from server/
 * with the values of a ServerConfig, a small application (message channels,
 * state channels with the conformance reducer, an inbox per session), and the
 * HTTP test hooks of spec/conformance-control.md §3 on a second loopback port.
 * `reset` replaces the server with a fresh one on the same port.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer, type LifelineServer } from '../../server/server.js';
import type { LifelineServerOptions } from '../../server/options.js';
import { createTicketIssuer } from '../../server/tickets.js';
import { stateDigest } from '../../spec/protocol/digest.js';
import type { ServerConfig } from '../config.js';
import { HttpHooks, type Hooks, type ResetLimits } from '../server-mode/hooks.js';

/** The one principal of the target: revoke closes every session of it. */
const PRINCIPAL = 'conformance';
const TICKET_PARAM = 'ticket';
/** A client Message with this payload makes the application's handler throw (spec/conformance-control.md §3.3). */
export const THROW_PAYLOAD = 'lifeline-conformance:throw';
/** A client Message with this payload is held by the application's handler for 10 s (spec/conformance-control.md §3.4). */
export const HOLD_PAYLOAD = 'lifeline-conformance:hold';

export interface ReferenceServerTarget {
  readonly url: string;
  readonly hooksUrl: string;
  readonly config: ServerConfig;
  readonly hooks: Hooks;
  /** The live server (replaced by reset). */
  current(): LifelineServer;
  stop(): Promise<void>;
}

/** Changes to the options a mutant makes (conformance/mutants/). */
export type ServerOverride = (opts: LifelineServerOptions) => LifelineServerOptions;
/** Changes to the server object a mutant makes after creation (wrapping sends, say). */
export type ServerPatch = (server: LifelineServer) => void;

/** The application's state channels: one map for every node of a multi-node target (spec §21), as one database would be. */
export type AppChannels = Map<string, { version: bigint; state: Uint8Array }>;

interface AppState {
  readonly channels: AppChannels;
  readonly inbox: Map<string, Uint8Array[]>;
}

function optionsFor(config: ServerConfig, app: AppState, tickets: ReturnType<typeof createTicketIssuer>): LifelineServerOptions {
  const auth = config.auth ?? {};
  const wanted = Object.entries(auth.upgradeHeaders ?? {});
  const features = config.features;
  return {
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatMissedMax: config.heartbeatMissedMax,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    // HS-15: the declared bound includes the check interval, a quarter of the timeout (server/http-phase.ts).
    ...(features.includes('http-timeouts') && config.headersTimeoutMs ? { headersTimeoutMs: Math.floor(config.headersTimeoutMs * 0.8) } : {}),
    maxPayloadBytes: config.maxPayloadBytes,
    resumeTtlMs: config.resumeTtlMs,
    replayWindowMessages: config.replayWindowMessages,
    queueLimitMessages: config.queueLimitMessages,
    receiveWindow: config.receiveWindow,
    ackDelayMs: config.ackDelayMs,
    ...(config.replayWindowBytes ? { replayWindowBytes: config.replayWindowBytes } : {}),
    ...(config.bufferedAmountHighWaterBytes ? { bufferedAmountHighWaterBytes: config.bufferedAmountHighWaterBytes } : {}),
    policy: config.defaultPolicy.toLowerCase().replace(/_/g, '-') as 'drop-oldest',
    acceptPreferredPolicy: true,
    ...(config.drain ? { drainDeadlineMs: config.drain.deadlineMs, drainSpreadMs: config.drain.spreadMs } : {}),
    ...(features.includes('origin-allowlist') && auth.allowedOrigin ? { allowedOrigins: [auth.allowedOrigin] } : {}),
    // The runner opens many sockets from 127.0.0.1 and drives sessions hard: limits it does not
    // test are off (Infinity), the ones it tests are the declared values (issue 13: on by default).
    upgradeRatePerSecond: Number.POSITIVE_INFINITY,
    maxSessions: Number.POSITIVE_INFINITY,
    messageRatePerSecond: features.includes('message-rate-limit') && config.messageRatePerSecond ? config.messageRatePerSecond : Number.POSITIVE_INFINITY,
    ...(features.includes('control-rate-limit') && config.controlRatePerSecond
      ? { controlRatePerSecond: config.controlRatePerSecond, ...(config.controlBurst ? { controlBurst: config.controlBurst } : {}) }
      : { controlRatePerSecond: Number.POSITIVE_INFINITY }),
    ...(features.includes('channel-limit') && config.maxChannelsPerSession ? { maxChannelsPerSession: config.maxChannelsPerSession } : {}),
    // spec §22: the HTTP carrier is on by default; the declared values are the ones it runs with
    httpTransport: features.includes('http-transport'),
    ...(config.httpPollHoldMs !== undefined ? { httpPollHoldMs: config.httpPollHoldMs } : {}),
    ...(config.httpReceiveGapMs !== undefined ? { httpReceiveGapMs: config.httpReceiveGapMs } : {}),
    ...(config.httpMaxSendBytes !== undefined ? { httpMaxSendBytes: config.httpMaxSendBytes } : {}),
    authenticate: (req: IncomingMessage) => {
      if (features.includes('tickets')) {
        const ticket = new URL(req.url ?? '/', 'http://localhost').searchParams.get(TICKET_PARAM);
        if (ticket) return tickets.redeem(ticket);
      }
      if (!features.includes('upgrade-auth')) return PRINCIPAL;
      return wanted.every(([k, v]) => req.headers[k.toLowerCase()] === v) ? PRINCIPAL : undefined;
    },
    ...(features.includes('hello-auth') && auth.helloToken
      ? { authenticateHello: (token: string) => (token === auth.helloToken ? PRINCIPAL : undefined) }
      : {}),
    snapshot: (channel: string) => {
      const c = app.channels.get(channel);
      return c ? { version: c.version, state: c.state, digest: stateDigest(c.state) } : undefined;
    },
    onMessage: (m, session) => {
      // CC-5 fixture: the application fails on this payload (feature 'throw')
      const text = new TextDecoder().decode(m.payload);
      if (features.includes('throw') && text === THROW_PAYLOAD) throw new Error('conformance: the application failed on purpose');
      // BP-17 fixture: the handler does not finish, so the message cannot be acknowledged (feature 'hold')
      if (features.includes('hold') && text === HOLD_PAYLOAD) return new Promise<void>((r) => setTimeout(r, 10_000).unref());
      const list = app.inbox.get(session.id) ?? [];
      list.push(m.payload);
      app.inbox.set(session.id, list);
    },
  };
}

/** A hook answer for an unknown session (spec/conformance-control.md §3.2). */
const NOT_FOUND = Symbol('not found');
const BAD_REQUEST = Symbol('bad request');

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const unb64 = (s: unknown) => new Uint8Array(Buffer.from(String(s ?? ''), 'base64'));

export async function startReferenceServerTarget(config: ServerConfig, override: ServerOverride = (o) => o, patch?: ServerPatch, sharedChannels?: AppChannels): Promise<ReferenceServerTarget> {
  let app: AppState = { channels: sharedChannels ?? new Map(), inbox: new Map() };
  const tickets = createTicketIssuer({ ttlMs: 30_000 });
  let server = createServer(override(optionsFor(config, app, tickets)));
  patch?.(server);
  const addr = await server.listen(0, '127.0.0.1');
  const port = addr.port;

  const reset = async (limits: ResetLimits = {}) => {
    await server.close().catch(() => undefined);
    app = { channels: sharedChannels ?? new Map(), inbox: new Map() };
    const withLimits = {
      ...optionsFor(config, app, tickets),
      ...(limits.upgradeRatePerSecond ? { upgradeRatePerSecond: limits.upgradeRatePerSecond, upgradeBurst: Math.max(1, Math.ceil(limits.upgradeRatePerSecond)) } : {}),
      ...(limits.maxSessions ? { maxSessions: limits.maxSessions } : {}),
      ...(limits.maxDetachedSessions ? { maxDetachedSessions: limits.maxDetachedSessions } : {}),
    };
    server = createServer(override(withLimits));
    patch?.(server);
    for (let i = 0; ; i++) {
      try {
        await server.listen(port, '127.0.0.1');
        return;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  const handle = async (body: Record<string, unknown>): Promise<unknown> => {
    switch (body.action) {
      case 'publish': {
        if (String(body.channel ?? '') === '') return BAD_REQUEST; // conformance-control §3.2
        const items = (body.items as { payload: string; key?: string; messageId?: string }[]) ?? [];
        for (const it of items) {
          // In order: each publish is queued before the next starts (MemoryBroker resolves after delivering).
          await server.publish(String(body.channel), { payload: unb64(it.payload), ...(it.key ? { key: it.key } : {}), ...(it.messageId ? { messageId: it.messageId } : {}) });
        }
        return {};
      }
      case 'patch': {
        const channel = String(body.channel);
        const state = unb64(body.state);
        const old = app.channels.get(channel)?.version ?? 0n;
        const version = old + 1n;
        app.channels.set(channel, { version, state });
        await server.publishPatch(channel, { baseVersion: old, version, delta: state, digest: stateDigest(state), ...(body.key ? { key: String(body.key) } : {}) });
        return { version: String(version) };
      }
      case 'drain':
        void server.drain({ deadlineMs: Number(body.deadlineMs), spreadMs: Number(body.spreadMs) });
        return {};
      case 'reset':
        await reset((body.limits as ResetLimits | undefined) ?? {});
        return {};
      case 'revoke': {
        const s = server.session(String(body.sessionId));
        if (!s) return NOT_FOUND; // conformance-control §3.2: an unknown session is 404, not "everyone"
        server.revoke(s.principal);
        return {};
      }
      case 'expire': {
        const s = server.session(String(body.sessionId));
        if (!s) return NOT_FOUND;
        server.expireCredential(s.principal);
        return {};
      }
      case 'inbox':
        return { payloads: (app.inbox.get(String(body.sessionId)) ?? []).map((p) => Buffer.from(p).toString('base64')) };
      case 'ticket':
        return { param: TICKET_PARAM, ticket: tickets.issue(PRINCIPAL) };
      default:
        return undefined;
    }
  };

  const hooksHttp: Server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        const out = await handle(await readJson(req));
        if (out === undefined) res.writeHead(501).end();
        else if (out === NOT_FOUND) res.writeHead(404).end('unknown session');
        else if (out === BAD_REQUEST) res.writeHead(400).end('publish needs a channel');
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (err) {
        res.writeHead(500).end(err instanceof Error ? err.message : String(err));
      }
    })();
  });
  await new Promise<void>((r) => hooksHttp.listen(0, '127.0.0.1', r));
  const hooksUrl = `http://127.0.0.1:${(hooksHttp.address() as AddressInfo).port}/hooks`;
  return {
    url: `ws://127.0.0.1:${port}/lifeline`,
    hooksUrl,
    config: { ...config, hooks: { url: hooksUrl } },
    hooks: new HttpHooks(hooksUrl),
    current: () => server,
    async stop() {
      await server.close().catch(() => undefined);
      await new Promise<void>((r) => {
        hooksHttp.close(() => r());
        hooksHttp.closeAllConnections();
      });
    },
  };
}
