/**
 * A WebSocket proxy between the runner and a correct server that rewrites
 * frames: the seam for mutants whose broken rule the reference server has no
 * option for (reuse a seq, replay twice, drop a DrainNotice, a wrong close
 * code…). It forwards upgrades (HTTP refusals included), frames, pings and
 * pongs, and closes, so everything else the server does reaches the runner
 * unchanged.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Envelope } from '../../gen/lifeline/v1/envelope_pb.js';
import { decode, encode } from '../../spec/protocol/codec.js';

/** What a rewrite returns: envelopes to send instead (none = drop), or 'pass' to forward the bytes unchanged. */
export type Rewrite = (env: Envelope, conn: ProxyConn) => Envelope[] | 'pass';

export interface ProxyRules {
  /** Server → runner frames. */
  readonly down?: Rewrite;
  /** Runner → server frames. */
  readonly up?: Rewrite;
  /** Runner → server text frames: false drops them. */
  readonly forwardText?: boolean;
  /** Close code the server sent → code the runner sees. */
  readonly closeCode?: (code: number) => number;
  /** Close reason the server sent → reason the runner sees (with the code the server sent). */
  readonly closeReason?: (code: number, reason: string, conn: ProxyConn) => string;
  /** Upgrade headers of the runner → headers the server sees (lower-case names). */
  readonly upgradeHeaders?: (headers: Record<string, string>) => Record<string, string>;
}

/** Per-connection state a rewrite may keep, and a way to write to either side unasked. */
export interface ProxyConn {
  readonly state: Record<string, unknown>;
  /** Write bytes to the runner as if the server sent them. */
  sendDown(bytes: Uint8Array): void;
  /** Write bytes to the server as if the runner sent them. */
  sendUp(bytes: Uint8Array): void;
}

const canSend = (code: number) => (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

export interface FrameProxy {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startFrameProxy(target: string, rules: ProxyRules): Promise<FrameProxy> {
  const upstream = new URL(target);
  const http: Server = createServer((req, res) => {
    // Plain HTTP (HS-1): forward as it is.
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  const wss = new WebSocketServer({ noServer: true, autoPong: false, maxPayload: 256 * 1024 * 1024, handleProtocols: (p) => [...p][0] ?? false });
  const live = new Set<WebSocket>();

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && !/^(sec-websocket-|connection|upgrade|host)/i.test(k)) headers[k] = v;
    }
    const sentHeaders = rules.upgradeHeaders ? rules.upgradeHeaders(headers) : headers;
    const up = new WebSocket(`${upstream.origin.replace(/^http/, 'ws')}${req.url ?? ''}`, protocols, { headers: sentHeaders, autoPong: false, maxPayload: 256 * 1024 * 1024 });
    up.once('unexpected-response', (_r, res) => {
      const extra = Object.entries(res.headers).filter(([k]) => /^(retry-after|upgrade|www-authenticate)$/i.test(k)).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('');
      socket.end(`HTTP/1.1 ${res.statusCode} Refused\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`);
      res.resume();
      up.terminate();
    });
    up.once('error', () => socket.destroy());
    up.once('open', () => {
      wss.handleUpgrade(req, socket, head, (down) => {
        live.add(up).add(down);
        const conn: ProxyConn = {
          state: {},
          sendDown: (bytes) => down.readyState === WebSocket.OPEN && down.send(bytes, { binary: true }),
          sendUp: (bytes) => up.readyState === WebSocket.OPEN && up.send(bytes, { binary: true }),
        };
        const relay = (from: WebSocket, to: WebSocket, rewrite: Rewrite | undefined, isDown: boolean) => {
          from.on('message', (data, isBinary) => {
            if (to.readyState !== WebSocket.OPEN) return;
            const bytes = new Uint8Array(data as Buffer);
            if (!isBinary) {
              if (isDown || rules.forwardText !== false) to.send(bytes, { binary: false });
              return;
            }
            if (!rewrite) return to.send(bytes, { binary: true });
            const r = decode(bytes, { maxPayloadBytes: Number.MAX_SAFE_INTEGER });
            if (!r.ok) return to.send(bytes, { binary: true });
            const out = rewrite(r.envelope, conn);
            if (out === 'pass') return to.send(bytes, { binary: true });
            for (const e of out) to.send(encode(e), { binary: true });
          });
          from.on('ping', (d) => to.readyState === WebSocket.OPEN && to.ping(d));
          from.on('pong', (d) => to.readyState === WebSocket.OPEN && to.pong(d));
          from.on('close', (code, reason) => {
            live.delete(from);
            const mapped = isDown && rules.closeCode ? rules.closeCode(code) : code;
            const text = isDown && rules.closeReason ? rules.closeReason(code, reason.toString(), conn) : reason;
            if (to.readyState === WebSocket.OPEN && canSend(mapped)) to.close(mapped, text);
            else to.terminate();
          });
          from.on('error', () => undefined);
        };
        relay(up, down, rules.down, true);
        relay(down, up, rules.up, false);
      });
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}${upstream.pathname}`,
    async stop() {
      for (const ws of live) ws.terminate();
      wss.close();
      await new Promise<void>((r) => {
        http.close(() => r());
        http.closeAllConnections();
      });
    },
  };
}
