/**
 * An HTTP proxy between the runner and a correct server that rewrites the HTTP carrier (spec §22):
 * the seam for the HT-* mutants, as frame-proxy.ts is for WebSocket frames. It forwards every
 * request (carrier or not) and tunnels WebSocket upgrades untouched, so a case that switches
 * transports goes through it both ways; only the carrier requests and answers its rules name change.
 * A cut on either side is passed on as a cut.
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { closeRecord, frameRecord, KEEPALIVE_RECORD, RecordDecoder, RecordKind, type CarrierRecord } from '../../spec/protocol/http-carrier.js';

/** What the proxy knows of one carrier connection (by its Lifeline-Connection). */
export interface CarrierConn {
  /** FRAME records the server accepted upstream (sends answered 204), by carrier index. */
  framesUp: number;
  /** FRAME records the proxy passed downstream to the runner, over every receive. */
  framesDown: number;
}

export interface CarrierRequest {
  readonly op: string;
  /** Lower-case names; a rule may change or delete them. */
  readonly headers: Record<string, string>;
  body: Uint8Array;
  readonly conn: CarrierConn | undefined;
}

export interface CarrierHead {
  readonly op: string;
  status: number;
  readonly headers: IncomingHttpHeaders;
  readonly conn: CarrierConn | undefined;
}

export interface CarrierRules {
  /** A carrier request before the server sees it (change headers or body); a number answers it with that status instead. */
  readonly request?: (r: CarrierRequest) => number | undefined;
  /** The head of the server's answer to any request on the path (change the status or headers; op '' for a preflight). */
  readonly head?: (h: CarrierHead) => void;
  /** Each record of a receive response: the records to pass on instead (none = drop). */
  readonly record?: (r: CarrierRecord, conn: CarrierConn | undefined) => CarrierRecord[];
  /**
   * Request bodies are piped to the server as they arrive instead of read whole first (a stalled or
   * growing body, HT-13, HT-14): each chunk passes through this (what to forward; empty = swallow it),
   * with the bytes forwarded so far. `request` then sees the headers (Content-Length as sent) and an
   * empty body; a deleted content-length makes the forwarded body chunked.
   */
  readonly streamBody?: (chunk: Uint8Array, forwarded: number) => Uint8Array;
  /** A receive response the server ended or cut stays open towards the runner (a server that never ends it, HT-11). */
  readonly keepReceivesOpen?: boolean;
}

export interface CarrierProxy {
  /** The WebSocket URL of the proxied endpoint (the carrier posts to it as http://). */
  readonly url: string;
  stop(): Promise<void>;
}

function encodeRecord(r: CarrierRecord): Uint8Array {
  if (r.kind === RecordKind.FRAME) return frameRecord(r.envelope);
  if (r.kind === RecordKind.CLOSE) return closeRecord(r.code, r.reason);
  return KEEPALIVE_RECORD;
}

/** FRAME records of a whole body (a send). */
export function framesIn(body: Uint8Array): number {
  try {
    return new RecordDecoder(Number.MAX_SAFE_INTEGER).push(body).filter((r) => r.kind === RecordKind.FRAME).length;
  } catch {
    return 0;
  }
}

/** The records of a whole body, rewritten one by one. */
export function rewriteBody(body: Uint8Array, f: (r: CarrierRecord) => CarrierRecord[]): Uint8Array {
  const rs = new RecordDecoder(Number.MAX_SAFE_INTEGER).push(body);
  return new Uint8Array(Buffer.concat(rs.flatMap(f).map(encodeRecord)));
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

export async function startCarrierProxy(target: string, rules: CarrierRules): Promise<CarrierProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const conns = new Map<string, CarrierConn>();
  const sockets = new Set<Socket>();

  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const streamed = rules.streamBody;
    if (!streamed) for await (const c of req) chunks.push(c as Buffer);
    const op = String(req.headers['lifeline-http'] ?? '');
    const id = String(req.headers['lifeline-connection'] ?? '');
    const conn = id ? conns.get(id) : undefined;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const r: CarrierRequest = { op, headers, body: new Uint8Array(Buffer.concat(chunks)), conn };
    if (streamed && req.headers['content-length'] !== undefined) r.headers['content-length'] = req.headers['content-length'];
    const refused = op ? rules.request?.(r) : undefined;
    if (refused !== undefined) return void res.writeHead(refused).end();
    const body = Buffer.from(r.body);
    if (!streamed && (body.byteLength > 0 || req.method === 'POST')) r.headers['content-length'] = String(body.byteLength);
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: r.headers, agent });
    // the runner cut its request: so does the proxy (a streamed request's own 'close' comes when its body ends)
    (streamed ? res : req).on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('error', () => res.destroy());
    up.on('response', (ur) => {
      const h: CarrierHead = { op, status: ur.statusCode ?? 502, headers: { ...ur.headers }, conn };
      rules.head?.(h); // every request on the path: a preflight has no Lifeline-Http (op '')
      const opened = h.headers['lifeline-connection'];
      if (op === 'open' && h.status === 200 && typeof opened === 'string') conns.set(opened, { framesUp: 0, framesDown: 0 });
      const seq = Number(r.headers['lifeline-seq']);
      if (op === 'send' && conn && h.status === 204) conn.framesUp = Math.max(conn.framesUp, seq + framesIn(r.body));
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(h.headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
      if (h.status !== (ur.statusCode ?? 502)) {
        ur.resume();
        res.writeHead(h.status, out).end();
        return;
      }
      if (op !== 'receive' || h.status !== 200) {
        if (ur.headers['content-length'] !== undefined) out['content-length'] = ur.headers['content-length'];
        res.writeHead(h.status, out);
        ur.pipe(res);
        return;
      }
      // a receive: record by record, counting the frames passed on
      res.writeHead(h.status, out);
      res.flushHeaders();
      const decoder = new RecordDecoder(Number.MAX_SAFE_INTEGER);
      ur.on('data', (chunk: Buffer) => {
        let rs: CarrierRecord[];
        try {
          rs = decoder.push(new Uint8Array(chunk)).flatMap((x) => rules.record?.(x, conn) ?? [x]);
        } catch {
          res.destroy();
          ur.destroy();
          return;
        }
        if (conn) conn.framesDown += rs.filter((x) => x.kind === RecordKind.FRAME).length;
        if (rs.length > 0) res.write(Buffer.concat(rs.map(encodeRecord)));
      });
      ur.on('end', () => {
        if (!rules.keepReceivesOpen) res.end();
      });
      ur.on('close', () => {
        if (!ur.complete && !rules.keepReceivesOpen) res.destroy(); // the server cut the response: a cut for the runner too (HT-11)
      });
      res.on('close', () => {
        if (!ur.complete) ur.destroy();
      });
    });
    if (!streamed) return void up.end(body);
    up.flushHeaders(); // the server sees the head now, as it would without the proxy (a withheld body, HT-13)
    let forwarded = 0;
    req.on('data', (c: Buffer) => {
      const out = streamed(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), forwarded);
      forwarded += out.byteLength;
      if (out.byteLength > 0) up.write(out);
    });
    req.on('end', () => up.end());
  };

  const http: Server = createServer((req, res) => {
    forward(req, res).catch(() => res.destroy());
  });
  // WebSocket upgrades: a raw tunnel, untouched
  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const s = connect({ host: upstream.hostname, port: Number(upstream.port) });
    sockets.add(s).add(socket);
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    s.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.byteLength) s.write(head);
    s.pipe(socket).pipe(s);
    const end = () => {
      s.destroy();
      socket.destroy();
    };
    s.on('error', end).on('close', end);
    socket.on('error', end).on('close', end);
  });
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}${upstream.pathname}${upstream.search}`,
    async stop() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
