/**
 * The receive fast path (issue 15): a carrier that offers `listen` (node-fetch.ts) is read by
 * callbacks, the platform's fetch through its ReadableStream. Both must deliver the same frames, the
 * same close and the same next `Lifeline-Ack` (HT-7) for any record stream, any chunking, and a body
 * that ends whole or is cut.
 */
import fc from 'fast-check';
import { describe, expect, test, vi } from 'vitest';
import { closeRecord, frameRecord, Header, KEEPALIVE_RECORD } from '../../spec/protocol/http-carrier.js';
import type { TransportHandlers } from '../transport.js';
import { httpTransport, type FetchInit, type FetchLike, type FetchResponse } from './http.js';

type Ending = 'end' | 'cut';

function chunked(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, bytes.byteLength]) {
    if (c > from) out.push(bytes.slice(from, c));
    from = Math.max(from, c);
  }
  return out;
}

const headersOf = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] ?? null });

/** The body as the platform's fetch gives it. */
function streamResponse(chunks: readonly Uint8Array[], ending: Ending): FetchResponse {
  let i = 0;
  // One chunk per read (an error would drop chunks still queued: a cut reaches the reader after them).
  const body = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        const x = chunks[i++];
        if (x !== undefined) c.enqueue(x);
        else if (ending === 'end') c.close();
        else c.error(new TypeError('terminated'));
      },
    },
    { highWaterMark: 0 },
  );
  return { status: 200, headers: headersOf({}), body, arrayBuffer: async () => new ArrayBuffer(0) };
}

/** The body as node-fetch.ts's listen gives it: chunks on later turns, then end or error. */
function listenResponse(chunks: readonly Uint8Array[], ending: Ending): FetchResponse {
  return {
    status: 200,
    headers: headersOf({}),
    get body(): ReadableStream<Uint8Array> {
      throw new Error('the fast path must not touch body');
    },
    arrayBuffer: async () => new ArrayBuffer(0),
    listen(l) {
      let isStopped = false;
      void (async () => {
        for (const x of chunks) {
          await new Promise((r) => setTimeout(r, 0));
          if (isStopped) return;
          l.chunk(x);
        }
        await new Promise((r) => setTimeout(r, 0));
        if (isStopped) return;
        if (ending === 'end') l.end();
        else l.error(new TypeError('terminated'));
      })();
      return () => void (isStopped = true);
    },
  };
}

/** One connection whose first receive answers with `res`; what the client saw, and the next receive's Ack. */
async function run(res: FetchResponse): Promise<{ frames: string[]; log: string[]; nextAck: string | undefined }> {
  const frames: string[] = [];
  const log: string[] = [];
  const receives: FetchInit[] = [];
  const fetch: FetchLike = (_u, init) =>
    new Promise((resolve, reject) => {
      const op = init.headers[Header.op];
      if (op === 'open') resolve({ status: 200, headers: headersOf({ 'lifeline-connection': 'C1' }), body: null, arrayBuffer: async () => new ArrayBuffer(0) });
      else if (op === 'receive') {
        receives.push(init);
        if (receives.length === 1) resolve(res);
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      } else resolve({ status: 204, headers: headersOf({}), body: null, arrayBuffer: async () => new ArrayBuffer(0) });
    });
  const h: TransportHandlers = {
    onOpen: () => log.push('open'),
    onBinary: (b) => frames.push(Buffer.from(b).toString('hex')),
    onText: () => log.push('text'),
    onClose: (code, reason) => log.push(`close ${code} ${reason}`),
    onRefused: (s) => log.push(`refused ${s}`),
  };
  const sock = httpTransport(fetch, { bufferingDetectMs: 60_000 })('ws://h/l', h, { token: undefined });
  await vi.waitFor(() => expect(receives.length >= 2 || log.some((l) => l.startsWith('close'))).toBe(true), { timeout: 2000, interval: 1 });
  await new Promise((r) => setTimeout(r, 5));
  sock.close(1000, 'done');
  return { frames, log, nextAck: receives[1]?.headers[Header.ack] };
}

const record = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => frameRecord(b)) },
  { weight: 2, arbitrary: fc.constant(KEEPALIVE_RECORD) },
  { weight: 1, arbitrary: fc.constant(closeRecord(4000, 'bye')) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array([9, 0, 0, 0, 0])) }, // an unknown record kind (HT-2)
);

describe('HTTP transport: the listen fast path equals the stream path', () => {
  test('HT-7 HT-26 same frames, same close, same next Ack for any records, chunking and ending', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom<Ending>('end', 'cut'),
        async (records, cuts, ending) => {
          const bytes = new Uint8Array(records.reduce((n, r) => n + r.byteLength, 0));
          let at = 0;
          for (const r of records) {
            bytes.set(r, at);
            at += r.byteLength;
          }
          const chunks = chunked(bytes, cuts);
          const slow = await run(streamResponse(chunks, ending));
          const fast = await run(listenResponse(chunks, ending));
          expect(fast).toEqual(slow);
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);
});
