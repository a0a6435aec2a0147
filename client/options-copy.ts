/**
 * A client's options with transports filled in, as createNodeClient / createBrowserClient pass
 * them on. Object.assign and stores, not `{ ...options, transport, httpTransport }`: in optimized
 * code V8 (Node 20) builds the object a spread starts with on a map off the transition tree, so
 * every key added after the spread makes a new map. Each client then held a private map for its
 * options (~170 B) and every read of them in ClientConnection's constructor missed the inline
 * caches (issue 16, bench/probes/client-connect.md, session 9 second pass; client/node.test.ts
 * checks that two clients' options share a map once createNodeClient is optimized).
 */
import type { Transport } from './transport.js';
import type { ClientOptions } from './options.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A copy of `options` (own enumerable keys, in order) with `transport` and `httpTransport` set; an undefined one is not set. */
export function withTransports<S, O extends ClientOptions<S>>(options: O, transport: Transport | undefined, httpTransport: Transport | undefined): O {
  const o: Mutable<O> = Object.assign({}, options);
  if (transport !== undefined) o.transport = transport;
  if (httpTransport !== undefined) o.httpTransport = httpTransport;
  return o;
}
