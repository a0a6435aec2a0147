/**
 * The application every node of the multi-node e2e test runs (issue 14, deliverable 7), beside the
 * real `lifeline serve` command (node.ts):
 *
 * - onMessage writes one line `R <payload> <messageId>` to stdout synchronously (writeSync, waiting
 *   out a full pipe), so what the application processed is known to the test even when the node is
 *   SIGKILLed right after.
 * - `GET /e2e/stats`: the node's live sessions and connections (loopback).
 * - `POST /e2e/publish?channel=<c>&n=<n>` publishes the text `<n>` to the channel through the node's
 *   broker (Redis Streams with --redis) and answers 200 once the broker took it, or 503 with the
 *   error's name when it refused (Redis away: BrokerUnavailableError). Loopback callers only.
 */
import { writeSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServeApp } from '../../server/cli.js';
import type { LifelineServer } from '../../server/index.js';

const dec = new TextDecoder();
const enc = new TextEncoder();

/** The prefix of the application's record lines on stdout. */
export const RECEIVED_LINE = 'R ';
/** The admin path the publisher posts to. */
export const PUBLISH_PATH = '/e2e/publish';
/** GET: the node's live sessions and connections. */
export const STATS_PATH = '/e2e/stats';

function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';
}

function answer(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write a record line to stdout before onMessage returns, whole, even when the pipe is full: the
 * stdout pipe is non-blocking, so a slow reader (the test process on a loaded machine) makes a
 * write fail with EAGAIN or take part of the line. The handler then waits, as an application
 * waits for a slow database: the message is processed only once its record is out.
 */
function record(line: string): void {
  let buf = Buffer.from(line);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

export function e2eNodeApp(): ServeApp {
  let server: LifelineServer | undefined;
  return {
    hooks: {
      onMessage: (m) => {
        record(`${RECEIVED_LINE}${dec.decode(m.payload)} ${m.messageId}\n`);
      },
      onRequest: (req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (url.pathname === STATS_PATH && isLoopback(req) && server) {
          const { sessions, connections } = server.stats();
          answer(res, 200, { sessions, connections });
          return;
        }
        if (url.pathname !== PUBLISH_PATH || req.method !== 'POST' || !isLoopback(req) || !server) {
          answer(res, 404, { error: 'not found' });
          return;
        }
        const channel = url.searchParams.get('channel') ?? 'feed';
        const n = url.searchParams.get('n') ?? '';
        server.publish(channel, { payload: enc.encode(n), messageId: `p-${n}` }).then(
          (queued) => answer(res, 200, { queued }),
          (err: unknown) => answer(res, 503, { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
        );
      },
    },
    start: (s) => {
      server = s;
    },
    stop: () => {
      server = undefined;
    },
  };
}
