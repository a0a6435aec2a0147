/**
 * The `ws` internals the Node client's write batching reads (client/node.ts), in one place (session
 * 9). ws 8 has no public way to ask whether its Sender queues frames, nor to write a prebuilt frame:
 * the client frames a tick's sends itself and writes them to ws's net.Socket, which keeps frames in
 * order only while ws's Sender queues nothing (`_sender._state` is its DEFAULT, 0).
 *
 * Every read fails safe: a shape these functions do not know (a ws release that renames or retypes a
 * field) reads as "ws must send this itself", and the caller takes the public `ws.send()` path, in
 * order. Before, a missing `_state` read as 0 (`?? 0`): a renamed field would have let frames overtake
 * the ones ws still queued. ws-internals.test.ts pins the installed ws's shape. Node only: imported by
 * client/node.ts, never by the browser build.
 */
import type WebSocket from 'ws';

/** The part of net.Socket the write batching uses. */
export interface Corkable {
  cork(): void;
  uncork(): void;
  write(bytes: Uint8Array): boolean;
  readonly destroyed: boolean;
}

/** The fields read here, all unknown until checked. */
interface Internals {
  readonly _socket?: unknown;
  readonly _sender?: { readonly _state?: unknown } | null;
}

/** ws's net.Socket when it has what the batching calls (`write`, `cork`, `uncork`); undefined otherwise. */
export function socketOf(ws: WebSocket): Corkable | undefined {
  const s = (ws as unknown as Internals)._socket as Partial<Corkable> | null | undefined;
  if (typeof s !== 'object' || s === null) return undefined;
  return typeof s.write === 'function' && typeof s.cork === 'function' && typeof s.uncork === 'function' ? (s as Corkable) : undefined;
}

/** Whether ws's Sender queues nothing: `_state` is exactly the number 0 (ws 8's DEFAULT); anything else is false. */
export function isSenderIdle(ws: WebSocket): boolean {
  return (ws as unknown as Internals)._sender?._state === 0;
}

/**
 * Whether this socket's frames may be built here at all (read once, at open): no extension was
 * negotiated (permessage-deflate is ws's business: it compresses, and queues while it does; the
 * public `extensions` is '' without one) and ws's net.Socket is one the batching can write to.
 */
export function mayFrameHere(ws: WebSocket): boolean {
  return ws.extensions === '' && socketOf(ws) !== undefined;
}
