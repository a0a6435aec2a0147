/**
 * The baselines of every transport scenario: raw `ws` and Socket.IO 4 (websocket transport only,
 * compression off on both ends, issue 7), and in the echo and fan-out scenarios raw `ws` with
 * Lifeline's write batching (`wsb`, ws-batched.ts, issue 16). The HTTP rows (issue 15) run Socket.IO
 * with the polling transport only, on both ends (`carrier: 'polling'`).
 */
import { Agent, createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as IoServer, type Socket as IoServerSocket } from 'socket.io';
import { io as ioConnect, type Socket as IoClientSocket } from 'socket.io-client';
import { WebSocket, WebSocketServer } from 'ws';

/** `wsb` = raw ws, batched (ws-batched.ts): only the scenarios that list it run it. */
export type Kind = 'ws' | 'wsb' | 'socketio' | 'lifeline';

export function listenHttp(server: HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------
// raw ws
// ---------------------------------------------------------------------------

export interface WsBench {
  readonly http: HttpServer;
  readonly wss: WebSocketServer;
  readonly port: number;
  close(): Promise<void>;
}

export async function startWsServer(onConnection: (ws: WebSocket) => void): Promise<WsBench> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  wss.on('connection', onConnection);
  const port = await listenHttp(http);
  return {
    http,
    wss,
    port,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await closeHttp(http);
    },
  };
}

export function connectWs(port: number, opts: { autoPong?: boolean } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, autoPong: opts.autoPong ?? true });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// ---------------------------------------------------------------------------
// Socket.IO 4
// ---------------------------------------------------------------------------

export interface IoBench {
  readonly http: HttpServer;
  readonly io: IoServer;
  readonly port: number;
  close(): Promise<void>;
}

export interface IoServerOptions {
  /** Socket.IO's connection state recovery (for the resume scenario). */
  readonly recoveryMs?: number;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** 'polling': Engine.IO long-polling only, never upgraded (issue 15's HTTP rows); default websocket only. */
  readonly carrier?: IoCarrier;
}

/** Which Engine.IO transport a Socket.IO row uses, the only one on both ends. */
export type IoCarrier = 'websocket' | 'polling';

export async function startIoServer(onConnection: (s: IoServerSocket) => void, o: IoServerOptions = {}): Promise<IoBench> {
  const http = createServer();
  const io = new IoServer(http, {
    transports: [o.carrier ?? 'websocket'],
    ...(o.carrier === 'polling' ? { allowUpgrades: false } : {}),
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    maxHttpBufferSize: 1024 * 1024,
    ...(o.pingIntervalMs ? { pingInterval: o.pingIntervalMs } : {}),
    ...(o.pingTimeoutMs ? { pingTimeout: o.pingTimeoutMs } : {}),
    ...(o.recoveryMs ? { connectionStateRecovery: { maxDisconnectionDuration: o.recoveryMs, skipMiddlewares: true } } : {}),
  });
  io.on('connection', onConnection);
  const port = await listenHttp(http);
  return {
    http,
    io,
    port,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise<void>((r) => void io.close(() => r()));
      await closeHttp(http).catch(() => undefined);
    },
  };
}

/**
 * The polling client's HTTP agent: keep-alive, as every browser does. Engine.IO's Node polling
 * transport (xmlhttprequest-ssl) otherwise opens a new TCP connection for every poll and every send
 * (its `agent` defaults to false), which would measure connection setup instead of Socket.IO.
 */
const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

export function connectIo(port: number, opts: { reconnection?: boolean; carrier?: IoCarrier } = {}): Promise<IoClientSocket> {
  const carrier = opts.carrier ?? 'websocket';
  return new Promise((resolve, reject) => {
    const s = ioConnect(`http://127.0.0.1:${port}`, {
      transports: [carrier],
      ...(carrier === 'polling' ? { upgrade: false, agent: keepAliveAgent } : {}),
      forceNew: true,
      reconnection: opts.reconnection ?? false,
      perMessageDeflate: false,
      timeout: 60_000,
    } as unknown as Parameters<typeof ioConnect>[1]);
    s.once('connect', () => resolve(s));
    s.once('connect_error', (e) => reject(e));
  });
}
