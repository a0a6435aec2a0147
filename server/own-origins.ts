/**
 * The origins a page served by this server has (SEC-1): what the demo allows by
 * default. A page's origin is the scheme, host and port its address bar shows,
 * so a server listening on loopback is reached as 127.0.0.1, localhost or [::1];
 * one listening on every interface also by each interface's address and the
 * machine's name. Anything else (a proxy's public name) is passed explicitly.
 */
import { hostname, networkInterfaces } from 'node:os';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const ANY = new Set(['0.0.0.0', '::', '[::]', '']);

function hostPart(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h.toLowerCase();
}

/** The http origins of a server listening on host:port (exact, serialized; HS-2). */
export function ownOrigins(host: string, port: number): string[] {
  const hosts = new Set<string>();
  if (LOOPBACK.has(host) || ANY.has(host)) for (const h of ['127.0.0.1', 'localhost', '::1']) hosts.add(h);
  if (ANY.has(host)) {
    hosts.add(hostname());
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (!i.internal) hosts.add(i.address.replace(/%.*$/, ''));
  } else if (!LOOPBACK.has(host)) hosts.add(host);
  // new URL(...).origin writes each the way a browser sends it (lower case, default port dropped).
  return [...new Set([...hosts].map((h) => new URL(`http://${hostPart(h)}:${port}`).origin))];
}
