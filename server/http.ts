/**
 * The plain-HTTP side of the server: health and readiness (DR-1), 426 on the
 * Lifeline path (HS-1), and a small static file handler for the demo.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

export interface HealthState {
  readonly path: string;
  /** The process serves (always true while it runs). */
  readonly isLive: boolean;
  /** Accepting new sessions: false while draining or before ready (DR-1). */
  readonly isReady: boolean;
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(`${body}\n`);
}

/** Answer /healthz, /readyz and plain requests on the Lifeline path; false for anything else. */
export function handleHealth(req: IncomingMessage, res: ServerResponse, s: HealthState): boolean {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/healthz') {
    text(res, s.isLive ? 200 : 503, s.isLive ? 'ok' : 'down');
    return true;
  }
  if (path === '/readyz') {
    text(res, s.isReady ? 200 : 503, s.isReady ? 'ready' : 'draining'); // DR-1
    return true;
  }
  if (path === s.path) {
    text(res, 426, 'Upgrade Required: this is a Lifeline WebSocket endpoint', { Upgrade: 'websocket', Connection: 'Upgrade' }); // HS-1
    return true;
  }
  return false;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** A mount: URL prefix → directory. */
export interface StaticMount {
  readonly prefix: string;
  readonly dir: string;
}

/**
 * Serve files from the mounts (longest prefix first); 404 for what does not
 * exist. GET and HEAD only; no path escapes its directory.
 */
export function staticHandler(mounts: readonly StaticMount[]): (req: IncomingMessage, res: ServerResponse) => void {
  const sorted = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length).map((m) => ({ ...m, dir: resolve(m.dir) }));
  return (req, res) => {
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
      let path: string;
      try {
        path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      } catch {
        return text(res, 400, 'Bad Request');
      }
      for (const m of sorted) {
        if (!path.startsWith(m.prefix)) continue;
        let rel = path.slice(m.prefix.length);
        if (rel === '' || rel.endsWith('/')) rel += 'index.html';
        const file = normalize(join(m.dir, rel));
        if (file !== m.dir && !file.startsWith(m.dir + sep)) return text(res, 403, 'Forbidden');
        try {
          const st = await stat(file);
          if (!st.isFile()) continue;
          res.writeHead(200, {
            'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
            'Content-Length': String(st.size),
            'Cache-Control': 'no-cache',
          });
          if (req.method === 'HEAD') return res.end();
          createReadStream(file).on('error', () => res.destroy()).pipe(res);
          return;
        } catch {
          continue;
        }
      }
      text(res, 404, 'Not Found');
    })();
  };
}
