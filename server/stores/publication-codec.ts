/**
 * A Publication as the fields of one Redis stream entry (issue 14, RedisBroker). Compact and binary:
 * one field per part, the bytes as they are (no base64, no JSON), bigints as decimal strings. The
 * channel is the stream's key, the position the entry's id, so neither is written.
 *
 *   message: m <payload> [k <key>] [i <messageId>]
 *   patch:   p <delta> b <baseVersion> v <version> [d <digest>] [i <messageId>]
 *
 * The name of the first field says the kind; a reader skips fields it does not know (a newer node's
 * additions), and an entry with neither `m` nor `p` is not a publication (undefined).
 */
import type { Publication } from './broker.js';

/** XADD's field-value arguments for `p`. */
export function encodePublication(p: Publication): Array<string | Buffer> {
  if (p.kind === 'message') {
    const m = p.message;
    const out: Array<string | Buffer> = ['m', bytes(m.payload)];
    if (m.key !== undefined) out.push('k', m.key);
    if (m.messageId !== undefined) out.push('i', m.messageId);
    return out;
  }
  const q = p.patch;
  const out: Array<string | Buffer> = ['p', bytes(q.delta), 'b', q.baseVersion.toString(), 'v', q.version.toString()];
  if (q.digest !== undefined) out.push('d', String(q.digest));
  if (q.messageId !== undefined) out.push('i', q.messageId);
  return out;
}

/** The publication an entry's fields ([name, value, name, value, …], as XREAD/XRANGE answer them) carry. */
export function decodePublication(channel: string, position: string, fields: readonly Buffer[]): Publication | undefined {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set((fields[i] as Buffer).toString('latin1'), fields[i + 1] as Buffer);
  const str = (name: string) => f.get(name)?.toString('utf8');
  const messageId = str('i');
  const payload = f.get('m');
  if (payload) {
    const key = str('k');
    return {
      kind: 'message',
      channel,
      position,
      message: { payload: view(payload), ...(key !== undefined && { key }), ...(messageId !== undefined && { messageId }) },
    };
  }
  const delta = f.get('p');
  if (!delta) return undefined;
  const digest = str('d');
  return {
    kind: 'patch',
    channel,
    position,
    patch: {
      baseVersion: BigInt(str('b') ?? '0'),
      version: BigInt(str('v') ?? '0'),
      delta: view(delta),
      ...(digest !== undefined && { digest: Number(digest) }),
      ...(messageId !== undefined && { messageId }),
    },
  };
}

/** The bytes without a copy (a Buffer over the same memory). */
const bytes = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * A copy of a reply Buffer's bytes as a plain Uint8Array (the type the server's API names). A copy,
 * not a view: a reply Buffer is a slice of the socket's read chunk, which a view would keep alive
 * (64 KiB pinned per queued 100 B publication).
 */
const view = (b: Buffer): Uint8Array => new Uint8Array(b);
