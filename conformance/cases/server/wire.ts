/**
 * Malformed input (spec §3, §4): each kind of bad frame gets its close code,
 * and a bystander session is unharmed (SEC-4). The golden vectors of
 * conformance/vectors/ are replayed against the server as they are.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { decode } from '../../../spec/protocol/codec.js';
import { closeCodeName, type WsCloseCodeName } from '../../../spec/protocol/close-codes.js';
import { check, checkEqual } from '../../framework/failure.js';
import { checkProperty } from '../../framework/property.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, type Peer } from '../../server-mode/peer.js';
import type { Vector } from '../../vectors/catalog.js';
import { fromHex, rawEnvelope } from '../../wire.js';
import { bystander, bytesOf, expectClose, roundTrip, serverCase, type ServerCase } from './util.js';

function vectors(file: string): Vector[] {
  return (JSON.parse(readFileSync(new URL(`../../vectors/${file}`, import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;
}

/** Send one bad frame after the handshake (or instead of Hello) and expect its code. */
async function expectCodeFor(ctx: ServerCaseContext, bytes: Uint8Array, name: WsCloseCodeName, opts: { beforeHello?: boolean; text?: boolean } = {}): Promise<Peer> {
  const p = await ctx.peer();
  if (!opts.beforeHello) await p.handshake();
  if (opts.text) p.sendText(new TextDecoder().decode(bytes));
  else p.sendBytes(bytes);
  await expectClose(p, [name], 2000);
  return p;
}

function nameOf(code: number): WsCloseCodeName {
  return closeCodeName(code) as WsCloseCodeName;
}

async function replayVectors(ctx: ServerCaseContext, list: Vector[]): Promise<void> {
  const b = await bystander(ctx);
  for (const v of list) {
    ctx.transcript.event('runner', `vector ${v.name}`);
    const isHello = v.json !== null && typeof v.json === 'object' && 'hello' in v.json;
    await expectCodeFor(ctx, fromHex(v.hex), nameOf(v.closeCode ?? 0), { beforeHello: isHello });
  }
  await b.assertUnharmed();
}

const fromClient = (v: Vector) => v.from !== 'server' && !v.maxPayloadBytes;

export const wireCases: ServerCase[] = [
  serverCase({
    id: 'WIRE-1/text-frame-1003',
    spec: ['WIRE-1', 'SEC-4'],
    level: 'MUST',
    description: 'a text frame is closed with UNSUPPORTED_DATA (1003); another session is unharmed',
    async run(ctx) {
      const b = await bystander(ctx);
      await expectCodeFor(ctx, bytesOf('{"type":"hello"}'), 'UNSUPPORTED_DATA', { text: true });
      await b.assertUnharmed();
    },
  }),
  serverCase({
    id: 'CC-9/close-reason-no-credential',
    spec: ['CC-9'],
    level: 'MUST',
    description: 'close reasons never echo a credential: a text frame carrying a token, and a Hello whose token comes with an unsupported version',
    async run(ctx) {
      const secret = 'conformance-secret-tok-7Qx2';
      const a = await ctx.peer();
      a.sendText(`{"token":"${secret}"}`);
      const ca = await expectClose(a, ['UNSUPPORTED_DATA'], 2000);
      check(!ca.reason.includes(secret), `the close reason "${ca.reason}" contains the token`);
      const b = await ctx.peer();
      b.hello({ protocolVersion: 99, token: secret });
      const cb = await expectClose(b, ['VERSION_UNSUPPORTED'], 2000);
      check(!cb.reason.includes(secret), `the close reason "${cb.reason}" contains the token`);
    },
  }),
  serverCase({
    id: 'CC-9/rejected-token-not-echoed',
    spec: ['CC-9', 'HS-12'],
    level: 'MUST',
    requires: ['hello-auth'],
    description: 'the close that rejects a Hello token (4101), and the 1002 for a second Hello carrying one, never echo the token in their reason',
    async run(ctx) {
      const secret = 'conformance-rejected-tok-Zq81';
      const bad = await ctx.peer();
      bad.hello({ token: secret });
      const c1 = await expectClose(bad, ['UNAUTHORIZED'], 2000);
      check(!c1.reason.includes(secret), `the 4101 close reason "${c1.reason}" contains the rejected token (CC-9)`);
      const twice = await ctx.peer();
      await twice.handshake();
      twice.hello({ token: secret });
      const c2 = await expectClose(twice, ['PROTOCOL_ERROR'], 2000);
      check(!c2.reason.includes(secret), `the 1002 close reason "${c2.reason}" contains the token of the second Hello (CC-9)`);
    },
  }),
  serverCase({
    id: 'WIRE-2/malformed-vectors',
    spec: ['WIRE-2', 'WIRE-3', 'SEC-4'],
    level: 'MUST',
    description: 'each malformed golden vector (garbage, truncated, invalid UTF-8, no body) gets its close code',
    async run(ctx) {
      await replayVectors(ctx, vectors('malformed.json').filter(fromClient));
    },
  }),
  serverCase({
    id: 'WIRE-5/out-of-range-vectors',
    spec: ['WIRE-5', 'SEC-4'],
    level: 'MUST',
    description: 'each out-of-range golden vector a client could send (seq 0, long strings, bad Hello) gets 1002',
    async run(ctx) {
      await replayVectors(ctx, vectors('out-of-range.json').filter(fromClient));
    },
  }),
  serverCase({
    id: 'WIRE-7/wrong-role-vectors',
    spec: ['WIRE-7', 'SEC-4'],
    level: 'MUST',
    description: 'a client sending a server-only body (Welcome, StatePatch, Snapshot, DrainNotice) gets 1002',
    async run(ctx) {
      await replayVectors(ctx, vectors('wrong-role.json').filter((v) => v.from === 'client'));
    },
  }),
  serverCase({
    id: 'WIRE-7/wrong-state',
    spec: ['WIRE-7', 'HS-8'],
    level: 'MUST',
    description: 'a Message before Hello, and a second Hello, are closed with 1002',
    async run(ctx) {
      const early = await ctx.peer({ heartbeatMs: 0 });
      early.send(envelope('message', { seq: 1n, payload: bytesOf('too early') }));
      await expectClose(early, ['PROTOCOL_ERROR'], 2000);
      checkEqual(early.bodies('welcome').length, 0, 'Welcomes after data before Hello');
      const twice = await ctx.peer();
      await twice.handshake();
      twice.hello();
      await expectClose(twice, ['PROTOCOL_ERROR'], 2000);
    },
  }),
  serverCase({
    id: 'WIRE-4/oversized-1009',
    spec: ['WIRE-4', 'SEC-4'],
    level: 'MUST',
    description: 'a frame one byte over the declared max payload is closed with 1009; one at the limit is accepted',
    async run(ctx) {
      const b = await bystander(ctx);
      const max = ctx.server.maxPayloadBytes;
      const overhead = rawEnvelope('message', [{ no: 1, varint: 1 }, { no: 5, bytes: new Uint8Array(0) }]).length;
      const frameOf = (size: number) => {
        // grow the payload until the whole frame has exactly `size` bytes (length varints grow too)
        let payload = Math.max(0, size - overhead - 4);
        for (;;) {
          const f = rawEnvelope('message', [{ no: 1, varint: 1 }, { no: 5, bytes: new Uint8Array(payload) }]);
          if (f.length >= size) return f;
          payload++;
        }
      };
      const atLimit = frameOf(max);
      check(atLimit.length === max, `could not build a frame of exactly ${max} B`);
      const ok = await ctx.peer();
      await ok.handshake();
      ok.sendBytes(atLimit);
      await roundTrip(ok, 4000);
      await expectCodeFor(ctx, frameOf(max + 1), 'MESSAGE_TOO_BIG');
      await b.assertUnharmed();
    },
  }),
  serverCase({
    id: 'WIRE-6/unknown-fields-ignored',
    spec: ['WIRE-6'],
    level: 'MUST',
    description: 'unknown fields in a body and in the Envelope, and unknown enum values, are ignored',
    async run(ctx) {
      const p = await ctx.peer();
      await p.handshake();
      for (const v of vectors('unknown-fields.json').filter((x) => x.from !== 'server')) {
        ctx.transcript.event('runner', `vector ${v.name}`);
        p.sendBytes(fromHex(v.hex));
      }
      // a Heartbeat with an unknown field 9 must still be answered
      p.sendBytes(rawEnvelope('heartbeat', [{ no: 1, varint: 77 }, { no: 9, str: 'from the future' }]));
      await p.until(() => p.bodies('heartbeatAck').some((a) => a.id === 77) || (p.closed ? 'closed' : undefined), 2000, 'HeartbeatAck 77');
      check(!p.closed, `closed ${p.closed?.code} ${p.closed?.reason} on unknown fields`);
    },
  }),
  serverCase({
    id: 'WIRE-2/fragmented-frame-accepted',
    spec: ['WIRE-1', 'WIRE-2'],
    level: 'MUST',
    description: 'a valid Envelope split over several WebSocket continuation frames is one message and is accepted',
    async run(ctx) {
      const p = await ctx.peer();
      await p.handshake();
      p.sendFragmented(rawEnvelope('heartbeat', [{ no: 1, varint: 4242 }, { no: 2, varint: 99 }]), 3);
      await p.until(() => p.bodies('heartbeatAck').some((a) => a.id === 4242) || (p.closed ? 'closed' : undefined), 2000, 'HeartbeatAck 4242');
      check(!p.closed, `closed ${p.closed?.code} on a fragmented frame`);
    },
  }),
  serverCase({
    id: 'WIRE-2/arbitrary-bytes',
    spec: ['WIRE-2', 'WIRE-3', 'WIRE-5', 'WIRE-7', 'SEC-4'],
    level: 'MUST',
    property: true,
    description: 'arbitrary bytes the reference codec refuses get the close code it names (fast-check, shrunk)',
    async run(ctx) {
      const b = await bystander(ctx);
      const max = ctx.server.maxPayloadBytes;
      const arb = fc
        .oneof(
          fc.uint8Array({ maxLength: 64 }),
          // mostly-valid frames: a body tag with random content, so decoding gets past the first byte
          fc.tuple(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ maxLength: 40 })).map(([f, rest]) => new Uint8Array([(f << 3) | 2, rest.length, ...rest])),
        )
        .filter((bytes) => !decode(bytes, { from: 'client', maxPayloadBytes: max }).ok);
      await checkProperty(ctx, arb, async (bytes) => {
        const r = decode(bytes, { from: 'client', maxPayloadBytes: max });
        if (r.ok) return;
        const p = await ctx.peer();
        await p.handshake();
        p.sendBytes(bytes);
        await expectClose(p, [r.error.closeName], 2000);
        p.destroy();
      });
      await b.assertUnharmed();
    },
  }),
];
