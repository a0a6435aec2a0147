/**
 * Helpers shared by server-mode cases: typed case definition, close checks
 * against the registry (CC-1), a bystander session that must stay unharmed
 * (SEC-4), and small publish/receive helpers.
 */
import { closeCodeName, codeOf, type WsCloseCodeName } from '../../../spec/protocol/close-codes.js';
import { CaseFailure, check } from '../../framework/failure.js';
import type { Case } from '../../framework/types.js';
import type { ServerCaseContext } from '../../server-mode/harness.js';
import { envelope, type Closed, type Peer } from '../../server-mode/peer.js';

export type ServerCase = Case<ServerCaseContext> & { readonly mode: 'server' };

export function serverCase(c: Omit<ServerCase, 'mode'>): ServerCase {
  return { ...c, mode: 'server' };
}

const utf8 = new TextEncoder();
export const bytesOf = (s: string) => utf8.encode(s);
export const textOf = (b: Uint8Array) => new TextDecoder().decode(b);

/** Check a close the server sent: registered code (CC-1), short reason, and the expected code(s). */
export function checkClose(closed: Closed, expected: readonly WsCloseCodeName[], opts: { allowAbnormal?: boolean } = {}): void {
  if (closed.abnormal) {
    if (opts.allowAbnormal) return;
    throw new CaseFailure(`connection dropped without a close frame; expected ${expected.map((e) => `${e} (${codeOf(e)})`).join(' or ')}`);
  }
  check(closeCodeName(closed.code) !== undefined, `close code ${closed.code} is not in the registry (CC-1)`);
  check(utf8.encode(closed.reason).length <= 123, `close reason is ${utf8.encode(closed.reason).length} bytes > 123 (CC-1)`);
  const codes = expected.map((e) => codeOf(e));
  if (!codes.includes(closed.code)) {
    throw new CaseFailure(`closed with ${closed.code} ${closeCodeName(closed.code) ?? ''} "${closed.reason}", expected ${expected.map((e) => `${e} (${codeOf(e)})`).join(' or ')}`);
  }
}

export async function expectClose(peer: Peer, expected: readonly WsCloseCodeName[], withinMs: number, opts: { allowAbnormal?: boolean } = {}): Promise<Closed> {
  const closed = await peer.until(() => peer.closed, withinMs, `close with ${expected.join('/')}`);
  checkClose(closed, expected, opts);
  return closed;
}

/** Heartbeat round trip: proves the session is alive and the server still serves it. */
export async function roundTrip(peer: Peer, timeoutMs = 2000): Promise<void> {
  const id = 0x7000_0000 + Math.floor(Math.random() * 0xffff);
  const before = peer.frames.length;
  peer.send(envelope('heartbeat', { id, sentAtMs: 42n }));
  await peer.until(
    () => peer.frames.slice(before).some((f) => f.env.body.case === 'heartbeatAck' && f.env.body.value.id === id) || (peer.closed ? 'closed' : undefined),
    timeoutMs,
    'HeartbeatAck for a round trip',
  );
  if (peer.closed) throw new CaseFailure(`${peer.label} closed (${peer.closed.code} ${peer.closed.reason}) instead of answering`);
}

/** A well-behaved session opened before an attack and checked after it (SEC-4). */
export async function bystander(ctx: ServerCaseContext): Promise<{ peer: Peer; assertUnharmed(): Promise<void> }> {
  const peer = await ctx.peer();
  await peer.handshake();
  return {
    peer,
    async assertUnharmed() {
      if (peer.closed) throw new CaseFailure(`bystander session was closed (${peer.closed.code} ${peer.closed.reason}): SEC-4`);
      await roundTrip(peer);
    },
  };
}

/** A new session subscribed to `channels`, with a large window unless told. */
export async function session(ctx: ServerCaseContext, channels: string[], hello: Parameters<Peer['handshake']>[0] = {}, peerOpts: Parameters<ServerCaseContext['peer']>[0] = {}) {
  const peer = await ctx.peer(peerOpts);
  const welcome = await peer.handshake({ channels, ...hello });
  return { peer, welcome };
}

/** Payloads of received Messages of a channel, decoded as text. */
export function messagesOf(peer: Peer, channel: string): { seq: bigint; text: string; droppedBefore: number; key: string }[] {
  return peer
    .bodies('message')
    .filter((m) => m.channel === channel)
    .map((m) => ({ seq: m.seq, text: textOf(m.payload), droppedBefore: m.droppedBefore, key: m.key }));
}

/** Ack everything sequenced received so far. */
export function ackAll(peer: Peer): bigint {
  const seqs = peer.sequenced().map((s) => s.seq);
  const last = seqs.reduce((a, b) => (b > a ? b : a), 0n);
  if (last > 0n) peer.send(envelope('ack', { seq: last }));
  return last;
}

/** Publish n text payloads `${prefix}${i}` on a channel. */
export async function publishN(ctx: ServerCaseContext, channel: string, n: number, prefix = 'm', from = 0, key?: (i: number) => string): Promise<string[]> {
  const items = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const k2 = key?.(i);
    return { payload: bytesOf(`${prefix}${i}`), ...(k2 !== undefined ? { key: k2 } : {}) };
  });
  await ctx.hooks.publish(channel, items);
  return items.map((i) => textOf(i.payload));
}

/** Check that every sequenced seq the peer received is 1, 2, 3 … (after `from`). */
export function checkContiguous(peer: Peer, from = 0n): void {
  let last = from;
  for (const { seq, env } of peer.sequenced()) {
    if (seq <= from) continue;
    if (seq !== last + 1n) throw new CaseFailure(`${peer.label}: ${env.body.case} with seq ${seq} after ${last} (SEQ-2: no gap, no reuse)`);
    last = seq;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
