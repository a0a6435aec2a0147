/**
 * Probe of the HTTP phase (issue 13, defect 4): how long half-finished upgrade
 * requests and a header trickle hold descriptors on a reference server started
 * with its default options. Prints one JSON line; used for the before/after
 * figures of the issue note.
 *
 *   npx tsx scripts/probe-http-phase.ts [--half 500] [--max-s 120]
 */
import { connect, type Socket } from 'node:net';
import { createServer } from '../server/server.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const HALF = arg('half', 500);
const MAX_S = arg('max-s', 120);

/** Connections the server holds (its side of each socket is one descriptor). */
const held = () => new Promise<number>((r) => srv.httpServer.getConnections((_e, n) => r(n)));
const srv = createServer({});
const addr = await srv.listen(0, '127.0.0.1');
const t0 = performance.now();
const head = `GET /lifeline HTTP/1.1\r\nHost: 127.0.0.1:${addr.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;

// Half-finished upgrades: the request line and some headers, never the blank line.
const open = new Set<Socket>();
let halfClosedAtS = -1;
for (let i = 0; i < HALF; i++) {
  const s = connect(addr.port, '127.0.0.1');
  s.on('error', () => undefined);
  s.resume(); // read the 408 so a server-side close becomes a client-side close
  s.on('connect', () => s.write(head));
  s.on('close', () => {
    open.delete(s);
    if (open.size === 0 && halfClosedAtS < 0) halfClosedAtS = (performance.now() - t0) / 1000;
  });
  open.add(s);
}

// A trickle: one byte of an upgrade request per second.
let trickleClosedAtS = -1;
// From another loopback address: the trickle measures HS-15, not the per-address cap of HS-16.
const trickle = connect({ port: addr.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
trickle.on('error', () => undefined);
trickle.resume();
const full = `${head}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: lifeline.v1\r\n${'X-Pad: ' + 'a'.repeat(400)}\r\n\r\n`;
let pos = 0;
const tick = setInterval(() => {
  if (!trickle.destroyed && pos < full.length) trickle.write(full[pos++]!);
}, 1000);
trickle.on('close', () => {
  trickleClosedAtS = (performance.now() - t0) / 1000;
  clearInterval(tick);
});

await new Promise((r) => setTimeout(r, 1000));
const heldAt1s = await held();
// The server's side is what matters: the first time it holds none of the half-finished ones.
let serverReleasedAtS = -1;
while ((performance.now() - t0) / 1000 < MAX_S && (open.size > 0 || trickleClosedAtS < 0 || serverReleasedAtS < 0)) {
  await new Promise((r) => setTimeout(r, 250));
  const n = await held();
  if (serverReleasedAtS < 0 && n <= (trickleClosedAtS < 0 ? 1 : 0)) serverReleasedAtS = (performance.now() - t0) / 1000;
}
console.log(
  JSON.stringify({
    half: HALF,
    serverConnectionsAt1s: heldAt1s,
    halfStillOpen: open.size,
    serverHeldNoneAfterS: serverReleasedAtS < 0 ? `> ${MAX_S}` : Number(serverReleasedAtS.toFixed(1)),
    halfAllClosedAfterS: halfClosedAtS < 0 ? `> ${MAX_S}` : Number(halfClosedAtS.toFixed(1)),
    trickleClosedAfterS: trickleClosedAtS < 0 ? `> ${MAX_S}` : Number(trickleClosedAtS.toFixed(1)),
    trickleBytesSent: pos,
  }),
);
for (const s of open) s.destroy();
trickle.destroy();
clearInterval(tick);
await srv.close();
process.exit(0);
