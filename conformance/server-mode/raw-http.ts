/**
 * One HTTP exchange over a raw TCP socket: the runner writes the request bytes
 * exactly as given (any HTTP version, any header, any case) and reads the status
 * line and headers of the answer. `ws` and `node:http` clients always send a
 * well-formed HTTP/1.1 upgrade, so they cannot test HS-17 or HS-18.
 */
import { connect } from 'node:net';

export interface RawHttpAnswer {
  /** HTTP status; 0 when the connection closed before a status line. */
  readonly status: number;
  /** HTTP version of the status line, e.g. '1.1'. */
  readonly version: string;
  /** Header names lower-cased; repeated headers joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** The server closed (or reset) the connection before the timeout. */
  readonly closed: boolean;
  /** Milliseconds from connect to the status line or the close. */
  readonly ms: number;
}

export interface RawHttpOptions {
  readonly timeoutMs?: number;
  /** Local address to connect from (another loopback address is another client address). */
  readonly localAddress?: string;
}

/**
 * Send `request` (CRLFs included) to host:port and resolve with the answer's
 * head. A 101 is answered by destroying the socket at once (no WebSocket is run).
 */
export function rawHttp(host: string, port: number, request: string, opts: RawHttpOptions = {}): Promise<RawHttpAnswer> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect({ port, host, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    let buf = '';
    let done = false;
    const finish = (status: number, version: string, headers: Record<string, string>, closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ status, version, headers, closed, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(0, '', {}, false), timeoutMs);
    s.setNoDelay(true);
    s.on('connect', () => s.write(request, 'latin1'));
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine = '', ...lines] = buf.slice(0, end).split('\r\n');
      const m = /^HTTP\/(\d\.\d) (\d{3})/.exec(statusLine);
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i <= 0) continue;
        const k = l.slice(0, i).trim().toLowerCase();
        const v = l.slice(i + 1).trim();
        headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
      }
      finish(m ? Number(m[2]) : 0, m?.[1] ?? '', headers, false);
    });
    s.on('error', () => finish(0, '', {}, true));
    s.on('close', () => finish(0, '', {}, true));
  });
}

/** A well-formed HTTP/1.1 upgrade request to `path` with `lifeline.v1`; `over` replaces or drops headers (undefined drops). */
export function upgradeRequest(path: string, host: string, over: Readonly<Record<string, string | undefined>> = {}, httpVersion = '1.1'): string {
  const base: Record<string, string | undefined> = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Protocol': 'lifeline.v1',
  };
  const merged: Record<string, string | undefined> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const existing = Object.keys(merged).find((b) => b.toLowerCase() === k.toLowerCase());
    if (existing) delete merged[existing];
    merged[k] = v;
  }
  const lines = Object.entries(merged)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}: ${v}`);
  return `GET ${path} HTTP/${httpVersion}\r\n${lines.join('\r\n')}\r\n\r\n`;
}
