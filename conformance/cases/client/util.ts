/**
 * Helpers for client-mode cases: typed definition, connection timing, and the
 * common "start, accept, welcome" prologue.
 */
import { largestDelayMs } from '../../oracle/close-advice.js';
import type { ClientCaseContext } from '../../client-mode/harness.js';
import type { ClientProcess } from '../../client-mode/control.js';
import type { ServerConn, WelcomeInit } from '../../client-mode/fake-server.js';
import { CaseFailure } from '../../framework/failure.js';
import type { Case } from '../../framework/types.js';
import type { Hello } from '../../../gen/lifeline/v1/envelope_pb.js';

export type ClientCase = Case<ClientCaseContext> & { readonly mode: 'client' };

export function clientCase(c: Omit<ClientCase, 'mode'>): ClientCase {
  return { ...c, mode: 'client' };
}

export const b64 = (s: string | Uint8Array) => Buffer.from(typeof s === 'string' ? new TextEncoder().encode(s) : s).toString('base64');
export const unb64 = (s: string) => new TextDecoder().decode(Buffer.from(s, 'base64'));
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The largest delay attempt n may take (RC-2, from the suite's own oracle), plus slack. */
export function backoffBoundMs(ctx: ClientCaseContext, attempt: number, minDelayMs = 0): number {
  return largestDelayMs(attempt, ctx.client, minDelayMs) + ctx.slackMs;
}

/**
 * An upper bound on a delay the client times, widened by how long the client process was measured
 * waiting for a CPU over [from, to] (its timers fire that much late; client-mode/run-delay.ts), with a
 * note when that is more than nothing. The runner's stall monitor does not see a starved client
 * (session 9: CC-2/after-1007-invalid-payload missed its bound by 14 ms in npm test under load).
 */
export function plusClientWaitMs(ctx: Pick<ClientCaseContext, 'note'>, client: Pick<ClientProcess, 'waitedForCpuMs'>, maxMs: number, from: number, to: number): number {
  const waited = client.waitedForCpuMs(from, to) ?? 0;
  if (waited > 0) ctx.note(`the client waited ${waited} ms for a CPU over the span: bound ${Math.round(maxMs)} + ${waited} ms`);
  return maxMs + waited;
}

/** Start the client, accept its first connection and welcome it. */
export async function connected(ctx: ClientCaseContext, welcome: WelcomeInit = {}): Promise<{ client: ClientProcess; conn: ServerConn; hello: Hello }> {
  const client = await ctx.start();
  const { conn, hello } = await ctx.server.acceptSession(1, 5000, welcome);
  await client.until((e) => e.event === 'state' && e.state === 'connected', 2000, 'the client to report connected');
  return { client, conn, hello };
}

/** Wait for upgrade attempt #n (1-based, accepted or refused) and return when it came. */
export async function attempt(ctx: ClientCaseContext, n: number, timeoutMs: number): Promise<number> {
  const u = await ctx.server.until(() => ctx.server.upgrades[n - 1], timeoutMs, `connection attempt #${n}`);
  return u.at;
}

/** Assert that no new upgrade arrives within `ms`. */
export async function noAttemptWithin(ctx: ClientCaseContext, count: number, ms: number, why: string): Promise<void> {
  await sleep(ms);
  if (ctx.server.upgrades.length > count) {
    const u = ctx.server.upgrades[count] as { at: number };
    throw new CaseFailure(`${why}: the client connected again (attempt #${count + 1})`);
    void u;
  }
}

/** A wait measured between two instants of the runner's clock (performance.now()). */
export interface Span {
  readonly ms: number;
  readonly from: number;
  readonly to: number;
}

/**
 * The client's own reconnect waits, from its reports: each `reconnecting` → next `connecting`
 * state change after event index `from`. Stdout and token latency cancel out; timer lateness remains.
 */
export function ownWaitSpans(client: ClientProcess, from = 0): Span[] {
  const evs = client.events.slice(from);
  const waits: Span[] = [];
  for (let i = 0; i < evs.length; i++) {
    const e = evs[i] as (typeof evs)[number];
    if (e.e.event !== 'state' || e.e.state !== 'reconnecting') continue;
    const next = evs.slice(i + 1).find((x) => x.e.event === 'state');
    if (next && next.e.event === 'state' && next.e.state === 'connecting') waits.push({ ms: Math.round(next.at - e.at), from: e.at, to: next.at });
  }
  return waits;
}

/** The waits of ownWaitSpans, in ms. */
export function ownWaits(client: ClientProcess, from = 0): number[] {
  return ownWaitSpans(client, from).map((s) => s.ms);
}

/**
 * When the client observed the loss of its connection: its first `closed` report (or leaving
 * `connected`) after event index `from`, else `fallback` (when the runner acted). Upper bounds on a
 * reconnect delay count from here: RC-2's delay starts when the client sees the close, and a client
 * process the machine's load delays in reading the close frame is not waiting too long (issue 18).
 * Lower bounds keep counting from the runner's own action, which only makes the delay look longer.
 */
export function observedLossAt(client: ClientProcess, from: number, fallback: number): number {
  const ev = client.events.slice(from).find((t) => t.e.event === 'closed' || (t.e.event === 'state' && t.e.state !== 'connected'));
  return ev ? Math.max(ev.at, fallback) : fallback;
}
