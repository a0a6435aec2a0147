import type { ServerResponse } from 'node:http';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { corsFor, NO_CORS, noContent, RECEIVE_HEADERS, text } from './http-answer.js';

/** What writeHead was given, as a header map with lower-case names (object or flat list alike). */
class HeadRecorder {
  status = 0;
  headers: Record<string, string> = {};
  headersSent = false;
  writableEnded = false;
  writeHead(status: number, h: Record<string, string> | readonly string[]): this {
    this.status = status;
    const pairs: [string, string][] = Array.isArray(h) ? Array.from({ length: h.length / 2 }, (_, i) => [h[2 * i] as string, h[2 * i + 1] as string]) : Object.entries(h);
    for (const [k, v] of pairs) this.headers[k.toLowerCase()] = v;
    this.headersSent = true;
    return this;
  }
  end(): void {
    this.writableEnded = true;
  }
}

const asRes = (r: HeadRecorder) => r as unknown as ServerResponse;
const origin = fc.oneof(fc.constant(undefined), fc.webUrl().map((u) => new URL(u).origin), fc.stringMatching(/^[a-z]{1,8}:\/\/[a-z0-9.-]{1,20}(:[0-9]{1,5})?$/));

describe('carrier answers (issue 16 deliverable 3: the precomputed header lists equal the per-request objects)', () => {
  test('HT-6 HT-5 the 204 of a send has the headers text(res, 204, cors) gives, for any Origin', () => {
    fc.assert(
      fc.property(origin, (o) => {
        const cors = corsFor(o);
        const fast = new HeadRecorder();
        const slow = new HeadRecorder();
        noContent(asRes(fast), cors);
        text(asRes(slow), 204, cors.headers);
        expect(fast.status).toBe(204);
        expect(fast.headers).toEqual(slow.headers);
        expect(fast.writableEnded).toBe(true);
        if (o !== undefined) expect(fast.headers['access-control-allow-origin']).toBe(o);
      }),
    );
  });

  test('HT-15 HT-5 a receive\'s header list is RECEIVE_HEADERS with the CORS headers', () => {
    fc.assert(
      fc.property(origin, (o) => {
        const cors = corsFor(o);
        const r = new HeadRecorder();
        r.writeHead(200, cors.receive);
        const want = new HeadRecorder();
        want.writeHead(200, { ...RECEIVE_HEADERS, ...cors.headers });
        expect(r.headers).toEqual(want.headers);
      }),
    );
    expect(corsFor(undefined)).toBe(NO_CORS);
  });
});
