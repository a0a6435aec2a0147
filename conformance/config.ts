/**
 * The implementation config (`lifeline.conformance.json`): what an
 * implementation supports and the values it runs with. Every timing bound a
 * case checks comes from these declared values plus `slackMs` (issue 6).
 */
import { readFileSync } from 'node:fs';
import { FEATURES, type Feature } from './framework/types.js';

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
  /** Added to every timing bound, in ms. */
  readonly slackMs: number;
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
  readonly slackMs: number;
}

export interface ImplConfig {
  readonly server?: ServerConfig;
  readonly client?: ClientConfig;
}

/** Values the reference implementations run with in `conformance self` (ms intervals, CONVENTIONS §7). */
export const referenceServerConfig: ServerConfig = {
  features: [
    'publish', 'state', 'resume', 'inbox', 'drain', 'revoke', 'expire', 'throw', 'origin-allowlist', 'upgrade-auth', 'hello-auth', 'tickets',
    'upgrade-rate-limit', 'session-limit', 'message-rate-limit', 'channel-limit', 'control-rate-limit', 'hold', 'policy:DROP_OLDEST', 'policy:DROP_NEWEST', 'policy:COALESCE_BY_KEY', 'policy:DISCONNECT',
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
  // Upper bounds only: a CI machine under load once missed 650 ms (HB-7: 100 × 4 + 250) by a late
  // sweep tick. The mutants this suite must kill are off by orders of magnitude, not by a second.
  slackMs: 1000,
};

export const referenceClientConfig: ClientConfig = {
  features: ['http-status', 'client-state', 'client-token'],
  // ceilings 100, 200, 400, 800 ms: wide enough apart that jitter and the attempt reset stay visible
  // through the scheduling noise of a loaded 2-core machine
  reconnectBaseMs: 100,
  reconnectCapMs: 1600,
  reconnectMaxAttempts: 5,
  suspendedRetryMs: 60_000,
  handshakeTimeoutMs: 1000,
  queueLimitMessages: 8,
  ackDelayMs: 20,
  // a client under test is a separate process that asks the runner for each token: more latency than a socket
  slackMs: 800,
};

const NUMERIC_SERVER = ['heartbeatIntervalMs', 'heartbeatMissedMax', 'handshakeTimeoutMs', 'maxPayloadBytes', 'resumeTtlMs', 'replayWindowMessages', 'queueLimitMessages', 'receiveWindow', 'ackDelayMs', 'slackMs'] as const;
const NUMERIC_CLIENT = ['reconnectBaseMs', 'reconnectCapMs', 'reconnectMaxAttempts', 'suspendedRetryMs', 'handshakeTimeoutMs', 'queueLimitMessages', 'ackDelayMs', 'slackMs'] as const;

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
    out.server = s;
  }
  if (raw.client) {
    checkFeatures('client', raw.client.features ?? []);
    const c = { ...referenceClientConfig, features: [], ...raw.client } as ClientConfig;
    for (const k of NUMERIC_CLIENT) if (typeof c[k] !== 'number' || !(c[k] >= 0)) throw new Error(`client.${k} must be a number ≥ 0`);
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
