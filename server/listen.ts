/** Listening on the server's own HTTP server: the options a user expects of `listen()`. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where and how `LifelineServer.listen()` listens (Node's `net.ListenOptions`, the common part). */
export interface ListenOptions {
  /** TCP port; default 0, a free port (read it from the resolved address or `url()`). */
  readonly port?: number;
  /**
   * Address to bind; default `127.0.0.1` (loopback only: a server is exposed on purpose, e.g.
   * `0.0.0.0` or `::` behind a proxy that terminates TLS, §19.1).
   */
  readonly host?: string;
  /** Pending connections the kernel queues before accept (listen(2)); default Node's 511. Raise it (and `net.core.somaxconn`) for reconnect storms (§19.2). */
  readonly backlog?: number;
  /** With host `::`, accept IPv6 only (no IPv4-mapped addresses). */
  readonly ipv6Only?: boolean;
}

/** Listen, resolving with the bound address; a failure (EADDRINUSE, EACCES) rejects. */
export function listenOn(server: HttpServer, o: ListenOptions): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    try {
      server.listen(
        {
          port: o.port ?? 0,
          host: o.host ?? '127.0.0.1',
          ...(o.backlog !== undefined && { backlog: o.backlog }),
          ...(o.ipv6Only !== undefined && { ipv6Only: o.ipv6Only }),
        },
        () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        },
      );
    } catch (err) {
      server.off('error', onError); // e.g. ERR_SERVER_ALREADY_LISTEN, thrown synchronously
      reject(err);
    }
  });
}
