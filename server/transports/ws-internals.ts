/**
 * The `ws` internals the server's write path reads, in one place (session 9). ws 8 has no public
 * way to ask whether its Sender queues frames, nor to write a prebuilt frame: write-batch.ts frames
 * a burst itself and writes it to ws's net.Socket, which keeps frames in order only while ws's
 * Sender queues nothing (`_sender._state` is its DEFAULT, 0; it is not while it compresses or reads
 * a Blob, and frames sent meanwhile wait in its queue).
 *
 * Every read fails safe: a shape these functions do not know (a ws release that renames or retypes
 * a field) reads as "ws must send this itself", and the caller takes the public `ws.send()` path,
 * slower but in order. Before, a missing `_state` read as 0 (`?? 0`): a renamed field would have let
 * frames overtake the ones ws still queued. ws-internals.test.ts pins the installed ws's shape, so an
 * upgrade that changes it fails CI naming the field, rather than only slowing the server down.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** The fields read here, all unknown until checked. */
interface Internals {
  readonly _socket?: unknown;
  readonly _sender?: { readonly _state?: unknown } | null;
  readonly _receiver?: { _buffers?: unknown } | null;
}

/**
 * ws's net.Socket, when it is one this module can write a burst to (`write`, `cork`, `uncork`);
 * undefined otherwise (no socket yet, an in-process stand-in, or an unknown shape).
 */
export function socketOf(ws: WebSocket): Socket | undefined {
  const s = (ws as unknown as Internals)._socket as Partial<Socket> | null | undefined;
  if (typeof s !== 'object' || s === null) return undefined;
  return typeof s.write === 'function' && typeof s.cork === 'function' && typeof s.uncork === 'function' ? (s as Socket) : undefined;
}

/**
 * Whether ws's Sender queues nothing: its `_state` is exactly the number 0 (ws 8's DEFAULT). A
 * missing sender, a missing or non-number `_state`, or any other value is false.
 */
export function isSenderIdle(ws: WebSocket): boolean {
  return (ws as unknown as Internals)._sender?._state === 0;
}

/** A frame may be written to the socket directly, in order with ws's own: ws queues nothing, and the socket is writable by us. */
export function mayWriteDirect(ws: WebSocket): boolean {
  return isSenderIdle(ws) && socketOf(ws) !== undefined;
}

/**
 * Memory per idle session (issue 16, bench/probes/server-heap.md): ws's Receiver queues received
 * chunks in one array (`_receiver._buffers`), which keeps its grown backing store for the socket's
 * life. When it is an empty array, a fresh one holds none; anything else is left as it is.
 */
export function releaseChunkList(ws: WebSocket): void {
  const r = (ws as unknown as Internals)._receiver;
  if (typeof r !== 'object' || r === null) return;
  const b = r._buffers;
  if (Array.isArray(b) && b.length === 0) r._buffers = [];
}
