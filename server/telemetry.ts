/**
 * Glue between the server and its observability seams (server/observability/, issue 8): the
 * gauge reading at scrape time, the body of an already-encoded frame, and the session id as logs
 * and spans may show it. Kept out of server.ts so the adapter stays about sockets and sessions.
 */
import { EnvelopeSchema } from '../gen/lifeline/v1/envelope_pb.js';
import type { BodyCase } from '../spec/protocol/codec.js';
import type { LifelineGaugeReading } from './observability/metrics.js';

/**
 * What a scrape reads of a session and of a socket: named here rather than imported, since the
 * session module imports this one (bodyOfFrame) and an import back would close a cycle (issue 12).
 */
interface GaugedSession {
  readonly conn?: unknown;
  readonly queue: { readonly length: number; readonly bytes: number };
}
interface GaugedConnection {
  readonly bufferedAmount: number;
}

/** What a scrape reads: one pass over the sessions and one over the sockets. */
export function gaugeReading(
  sessions: Iterable<GaugedSession>,
  conns: Iterable<GaugedConnection>,
  drain: { readonly noticesSent: number } | undefined,
): LifelineGaugeReading {
  let attached = 0;
  let detached = 0;
  let queueMessages = 0;
  let queueBytes = 0;
  for (const s of sessions) {
    if (s.conn) attached++;
    else detached++;
    queueMessages += s.queue.length;
    queueBytes += s.queue.bytes;
  }
  let open = 0;
  let maxBuffered = 0;
  for (const c of conns) {
    open++;
    if (c.bufferedAmount > maxBuffered) maxBuffered = c.bufferedAmount;
  }
  return {
    connectionsOpen: attached,
    sessionsDetached: detached,
    queueMessages,
    queueBytes,
    bufferedAmountMaxBytes: maxBuffered,
    ...(drain ? { drain: { sessionsLeft: open, noticesSent: drain.noticesSent } } : {}),
  };
}

// The first byte of an encoded Envelope is its body's tag (field number << 3 | wire type 2), one
// byte for every body field number below 16. Replayed frames are kept encoded (SEQ-7); this names
// their body for the frame metrics without decoding them again.
const bodyByTag = new Map<number, BodyCase>();
for (const f of EnvelopeSchema.oneofs.find((o) => o.name === 'body')?.fields ?? []) {
  if (f.number < 16) bodyByTag.set((f.number << 3) | 2, f.localName as BodyCase);
}

/** The body case of an encoded Envelope, or undefined when its first byte is not a known body tag. */
export function bodyOfFrame(bytes: Uint8Array): BodyCase | undefined {
  return bytes.byteLength === 0 ? undefined : bodyByTag.get(bytes[0] as number);
}

/**
 * A session id as logs and spans show it: a prefix, enough to correlate. The full id is a
 * capability that resumes the session (spec §16.3), so it never leaves the process.
 */
export function sessionIdPrefix(id: string): string {
  return id.slice(0, 8);
}
