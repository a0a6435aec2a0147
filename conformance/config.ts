/**
 * The implementation config (`lifeline.conformance.json`): what an
 * implementation supports and the values it runs with. Every timing bound a
 * case checks comes from these declared values plus a slack: `slackMs` when the
 * config declares one, else a small allowance measured at the start of the run
 * (issue 18: an 800 ms slack let an off-by-one backoff exponent pass).
 */
import { readFileSync } from 'node:fs';
import { FEATURES, type Feature } from './framework/features.js';

export interface ServerConfig {
  /** WebSocket URL of the Lifeline endpoint; the CLI argument overrides it. */
  readonly url?: string;
  readonly features: readonly Feature[];
  readonly heartbeatIntervalMs: number;
  readonly heartbeatMissedMax: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly resumeTtlMs: number;
  readonly replayWindowMessages: number;
  readonly queueLimitMessages: number;
  /** The server's receive window for client messages (Welcome.receive_window). */
  readonly receiveWindow: number;
  /** Ack delay for client messages (SEQ-5). */
  readonly ackDelayMs: number;
  /** Bytes kept for replay (RS-3); absent = the default 4 MiB. */
  readonly replayWindowBytes?: number;
  /** The socket buffered-amount high-water mark (BP-4); absent = the default 1 MiB. */
  readonly bufferedAmountHighWaterBytes?: number;
  /** Policy the server applies when Hello states none. */
  readonly defaultPolicy: 'DROP_OLDEST' | 'DROP_NEWEST' | 'COALESCE_BY_KEY' | 'DISCONNECT';
  readonly drain?: { readonly deadlineMs: number; readonly spreadMs: number };
  /** Test hooks endpoint (POST JSON, see spec/conformance-control.md §3). */
  readonly hooks?: { readonly url: string };
  /**
   * multi-node (spec §21): a second node of the same implementation on the same shared store and
   * broker, its WebSocket URL (the CLI's --peer overrides it) and its own test hooks.
   */
  readonly peer?: PeerNodeConfig;
  readonly auth?: {
    /** Headers that make an upgrade pass authentication (upgrade-auth). */
    readonly upgradeHeaders?: Readonly<Record<string, string>>;
    /** A Hello.token the server accepts (hello-auth). */
    readonly helloToken?: string;
    /** An Origin on the allowlist (origin-allowlist); any other is refused. */
    readonly allowedOrigin?: string;
  };
  /** Upgrades per second from one IP the runner asks for in `reset` limits (upgrade-rate-limit). */
  readonly upgradeRatePerSecond?: number;
  /** Client messages per second a session may send (message-rate-limit). */
  readonly messageRatePerSecond?: number;
  /** Client control bodies per second a session may send, and the burst (control-rate-limit, BP-16). */
  readonly controlRatePerSecond?: number;
  readonly controlBurst?: number;
  /** Most channels one session may hold (channel-limit); more closes 1008 (SEC-7). */
  readonly maxChannelsPerSession?: number;
  /**
   * HS-15 (http-timeouts): a connection whose request head is incomplete is closed within this many
   * ms, the server's check interval included.
   */
  readonly headersTimeoutMs?: number;
  /** CC-10: how long the server waits for the peer's close frame before destroying; absent = handshakeTimeoutMs (the spec's recommendation). */
  readonly closeTimeoutMs?: number;
  /** HT-8 (http-transport): how long the server holds a poll with nothing to carry; absent = §17's 20 000. */
  readonly httpPollHoldMs?: number;
  /**
   * HT-12 (http-transport): a connection with no receive open this long is a dead transport; absent =
   * §17's 10 000. Over HTTP a client that vanishes is noticed only then, so cases that wait for a
   * silent drop to detach a session (RS-6, RS-11) wait this long more with `--transport http`.
   */
  readonly httpReceiveGapMs?: number;
  /** HT-13 (http-transport): the largest send body; absent = §17's 4 MiB (at least maxPayloadBytes + 5). */
  readonly httpMaxSendBytes?: number;
  /** Added to every timing bound, in ms; absent = derived at the start of the run (see deriveSlack). */
  readonly slackMs?: number;
}

/** The second node of a multi-node declaration (spec/conformance-control.md §2). */
export interface PeerNodeConfig {
  readonly url: string;
  readonly hooks?: { readonly url: string };
}

export interface ClientConfig {
  readonly features: readonly Feature[];
  readonly reconnectBaseMs: number;
  readonly reconnectCapMs: number;
  readonly reconnectMaxAttempts: number;
  readonly suspendedRetryMs: number;
  readonly handshakeTimeoutMs: number;
  readonly queueLimitMessages: number;
  readonly ackDelayMs: number;
  /**
   * The window the client states in Hello.receive_window (SEQ-5: acks are due at half of it);
   * absent = the client's own, read from its Hello (0 there = 256, BP-5).
   */
  readonly receiveWindow?: number;
  /** CC-10: how long the client waits for the server's close frame before destroying; absent = handshakeTimeoutMs. */
  readonly closeTimeoutMs?: number;
  /** HT-21 (client-http-transport): attempts whose WebSocket never opened before the next goes over HTTP; absent = §22.7's 2. */
  readonly httpFallbackAfter?: number;
  /** HT-23 (client-http-transport): the first wait before a WebSocket probe while connected over HTTP; absent = §22.7's 60 000. */
  readonly wsRetryMs?: number;
  /** HT-24 (client-http-transport): the cap of the doubling probe wait; absent = §22.7's 600 000. */
  readonly wsRetryCapMs?: number;
  /** HT-27 (client-http-transport): no KEEPALIVE within this on a stream → poll; absent = §22.7's 1500. */
  readonly httpBufferingDetectMs?: number;
  /** Added to every timing bound, in ms; absent = derived at the start of the run (see deriveSlack). */
  readonly slackMs?: number;
}

export interface ImplConfig {
  readonly server?: ServerConfig;
  readonly client?: ClientConfig;
}

/** Values the reference implementations run with in `conformance self` (ms intervals, CONVENTIONS §7). */
export const referenceServerConfig: ServerConfig = {
  features: [
    'publish', 'state', 'resume', 'inbox', 'drain', 'revoke', 'expire', 'throw', 'origin-allowlist', 'upgrade-auth', 'hello-auth', 'tickets',
    'upgrade-rate-limit', 'session-limit', 'message-rate-limit', 'channel-limit', 'subscribed', 'http-timeouts', 'control-rate-limit', 'hold', 'detached-limit', 'http-transport', 'policy:DROP_OLDEST', 'policy:DROP_NEWEST', 'policy:COALESCE_BY_KEY', 'policy:DISCONNECT',
  ],
  heartbeatIntervalMs: 100,
  heartbeatMissedMax: 2,
  // the runner and the reference server share one process in `self`: 300 ms was too tight at load 11
  handshakeTimeoutMs: 1000,
  maxPayloadBytes: 64 * 1024,
  resumeTtlMs: 600,
  replayWindowMessages: 1024,
  queueLimitMessages: 8,
  receiveWindow: 64,
  ackDelayMs: 20,
  replayWindowBytes: 64 * 1024 * 1024,
  bufferedAmountHighWaterBytes: 64 * 1024,
  defaultPolicy: 'DROP_OLDEST',
  drain: { deadlineMs: 600, spreadMs: 400 },
  auth: { upgradeHeaders: { authorization: 'Bearer conformance' }, helloToken: 'hello-ok', allowedOrigin: 'http://allowed.test' },
  upgradeRatePerSecond: 10,
  messageRatePerSecond: 400,
  controlRatePerSecond: 200,
  controlBurst: 1000,
  maxChannelsPerSession: 16,
  headersTimeoutMs: 500,
  // HT-12: a vanished HTTP peer detaches its session after this (the default 10 s would slow the run over HTTP)
  httpReceiveGapMs: 500,
  // no slackMs: the run derives it from the machine's measured scheduling lateness (deriveSlack)
};

export const referenceClientConfig: ClientConfig = {
  features: ['http-status', 'client-state', 'client-token', 'client-subscribed', 'client-http-transport'],
  // ceilings 100 (a drop, n = 0), 200, 400, then the cap 800 from n = 3 on (uncapped 1600 … 6400): the
  // cap binds within reconnectMaxAttempts, so RC-2 checks it; wide enough apart that jitter and the
  // attempt reset stay visible through the scheduling noise of a loaded 2-core machine
  reconnectBaseMs: 100,
  reconnectCapMs: 800,
  reconnectMaxAttempts: 7,
  suspendedRetryMs: 60_000,
  handshakeTimeoutMs: 1000,
  queueLimitMessages: 8,
  ackDelayMs: 20,
  // §22.7 in ms (CONVENTIONS §7): the probe cases wait one wsRetry, not a minute
  httpFallbackAfter: 2,
  wsRetryMs: 400,
  wsRetryCapMs: 1600,
  // below the handshake timeout: behind a buffering proxy the Welcome comes by the first poll (HT-27)
  httpBufferingDetectMs: 300,
  // no slackMs: derived (a client under test is a separate process asking the runner for each token,
  // which deriveSlack adds for client mode)
};

const NUMERIC_SERVER = ['heartbeatIntervalMs', 'heartbeatMissedMax', 'handshakeTimeoutMs', 'maxPayloadBytes', 'resumeTtlMs', 'replayWindowMessages', 'queueLimitMessages', 'receiveWindow', 'ackDelayMs'] as const;
const NUMERIC_CLIENT = ['reconnectBaseMs', 'reconnectCapMs', 'reconnectMaxAttempts', 'suspendedRetryMs', 'handshakeTimeoutMs', 'queueLimitMessages', 'ackDelayMs'] as const;
/** Optional numbers: absent is fine, present must be a number ≥ 0. */
const OPTIONAL_NUMERIC = ['slackMs', 'closeTimeoutMs'] as const;
const OPTIONAL_CLIENT_NUMERIC = ['httpFallbackAfter', 'wsRetryMs', 'wsRetryCapMs', 'httpBufferingDetectMs'] as const;
const OPTIONAL_SERVER_NUMERIC = ['httpPollHoldMs', 'httpReceiveGapMs', 'httpMaxSendBytes'] as const;

function checkFeatures(where: string, list: unknown): void {
  if (!Array.isArray(list)) throw new Error(`${where}.features must be an array`);
  for (const f of list) if (!(FEATURES as readonly string[]).includes(f as string)) throw new Error(`${where}.features: unknown feature ${JSON.stringify(f)} (known: ${FEATURES.join(', ')})`);
}

/** Parse and check a config; missing numbers take the reference values' defaults. */
export function parseConfig(text: string): ImplConfig {
  const raw = JSON.parse(text) as { server?: Partial<ServerConfig>; client?: Partial<ClientConfig> };
  const out: { server?: ServerConfig; client?: ClientConfig } = {};
  if (raw.server) {
    checkFeatures('server', raw.server.features ?? []);
    const s = { ...referenceServerConfig, features: [], ...raw.server } as ServerConfig;
    for (const k of NUMERIC_SERVER) if (typeof s[k] !== 'number' || !(s[k] >= 0)) throw new Error(`server.${k} must be a number ≥ 0`);
    for (const k of [...OPTIONAL_NUMERIC, ...OPTIONAL_SERVER_NUMERIC]) if (s[k] !== undefined && (typeof s[k] !== 'number' || !((s[k] as number) >= 0))) throw new Error(`server.${k} must be a number ≥ 0`);
    if (s.peer !== undefined && (typeof s.peer !== 'object' || typeof s.peer.url !== 'string')) throw new Error('server.peer must be { "url": "ws://…", "hooks": { "url": "http://…" } }');
    out.server = s;
  }
  if (raw.client) {
    checkFeatures('client', raw.client.features ?? []);
    const c = { ...referenceClientConfig, features: [], ...raw.client } as ClientConfig;
    for (const k of NUMERIC_CLIENT) if (typeof c[k] !== 'number' || !(c[k] >= 0)) throw new Error(`client.${k} must be a number ≥ 0`);
    for (const k of [...OPTIONAL_NUMERIC, ...OPTIONAL_CLIENT_NUMERIC]) if (c[k] !== undefined && (typeof c[k] !== 'number' || !((c[k] as number) >= 0))) throw new Error(`client.${k} must be a number ≥ 0`);
    out.client = c;
  }
  return out;
}

export function loadConfig(file: string): ImplConfig {
  return parseConfig(readFileSync(file, 'utf8'));
}

export function declared(config: ImplConfig, mode: 'server' | 'client'): readonly Feature[] {
  return (mode === 'server' ? config.server?.features : config.client?.features) ?? [];
}

/** How the slack of one mode was chosen, for the run's header. */
export interface SlackInfo {
  readonly mode: 'server' | 'client';
  readonly ms: number;
  readonly source: 'declared' | 'derived';
  /** The measurement it was derived from (derived only). */
  readonly detail?: string;
}

/** Floor of a derived slack: loopback latency, a timer's ms granularity, a JSON line on a pipe. */
export const SLACK_FLOOR_MS = 60;
/** Client mode adds a process hop: every attempt asks the runner for a token over stdio and reports back. */
export const CLIENT_HOP_MS = 40;

/**
 * Lateness (ms) of `samples` sequential `intervalMs` timers in this process: the event loop's own noise.
 * About a second of sampling: a shorter window on a shared machine missed the bursts of other load that
 * later stalled a sweep tick by 150 ms (HB-7 failed once at a 155 ms slack derived from 0.2 s).
 */
export async function measureTimerLatenessMs(samples = 100, intervalMs = 10): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => setTimeout(r, intervalMs));
    out.push(Math.max(0, performance.now() - t0 - intervalMs));
  }
  return out;
}

/**
 * The slack of a mode whose config declares none: a floor plus four times the worst timer lateness
 * measured now (a timed case stacks about four scheduling delays: the implementation's timer, its
 * write, the runner's read and the runner's own timer), plus a process hop in client mode. On an idle
 * machine this is about 80 ms server, 120 ms client: far below the off-by-one bugs issue 18 found
 * (a backoff window doubled, a watchdog two intervals late), and it grows with the load it measures.
 */
export async function deriveSlack(mode: 'server' | 'client', lateness?: readonly number[]): Promise<SlackInfo> {
  const xs = lateness ?? (await measureTimerLatenessMs());
  const worst = Math.max(0, ...xs);
  const ms = Math.ceil((SLACK_FLOOR_MS + 4 * worst + (mode === 'client' ? CLIENT_HOP_MS : 0)) / 5) * 5;
  const detail = `${SLACK_FLOOR_MS} ms floor + 4 × ${worst.toFixed(1)} ms worst timer lateness of ${xs.length}${mode === 'client' ? ` + ${CLIENT_HOP_MS} ms process hop` : ''}`;
  return { mode, ms, source: 'derived', detail };
}

/** Fill in each mode's slack (declared, else derived) and describe it for the run's header. */
export async function resolveSlack(config: ImplConfig): Promise<{ config: ImplConfig; slack: SlackInfo[] }> {
  const slack: SlackInfo[] = [];
  const out: { server?: ServerConfig; client?: ClientConfig } = {};
  const needs = (config.server && config.server.slackMs === undefined) || (config.client && config.client.slackMs === undefined);
  const lateness = needs ? await measureTimerLatenessMs() : [];
  for (const mode of ['server', 'client'] as const) {
    const c = config[mode];
    if (!c) continue;
    const info: SlackInfo = c.slackMs !== undefined ? { mode, ms: c.slackMs, source: 'declared' } : await deriveSlack(mode, lateness);
    slack.push(info);
    if (mode === 'server') out.server = { ...(c as ServerConfig), slackMs: info.ms };
    else out.client = { ...(c as ClientConfig), slackMs: info.ms };
  }
  return { config: out, slack };
}

/** One header line: `timing slack: server 50 ms (derived: …); client 800 ms (declared)`. */
export function slackHeader(slack: readonly SlackInfo[]): string {
  return `timing slack: ${slack.map((s) => `${s.mode} ${s.ms} ms (${s.source}${s.detail ? `: ${s.detail}` : ''})`).join('; ')}`;
}
