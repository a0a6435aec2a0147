/**
 * `lifeline serve`: the reference server from the command line. With --demo it
 * runs the application the caller registered as the demo (the bin registers
 * demo/serve.ts: the demo application and its page); this folder never imports
 * demo/, which the npm package leaves out (issue 12). SIGTERM and
 * SIGINT drain (spec §13), then exit 0. Logs are pino JSON; tokens, tickets and
 * cookies are never logged (SEC-2). Prometheus metrics on /metrics (issue 8);
 * `--inspect <ws-url>` streams every session actor to an XState inspector (opt-in).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Level } from 'pino';
import { createServerInspector, type ServerInspector } from './observability/inspect.js';
import { createLifelineLogger } from './observability/logger.js';
import { createLifelineMetrics } from './observability/metrics.js';
import { parseTokensFile, tokenAuthentication } from './cli-auth.js';
import { openRedisBackends, redisUrlArg, redisUrlForDisplay, type SharedBackends } from './cli-redis.js';
import { policyByName, resolveOptions, type LifelineServerOptions } from './options.js';
import type { PolicyName, Principal } from './types.js';
import { ownOrigins } from './own-origins.js';
import { createServer, type LifelineServer } from './server.js';
import { defaults } from '../spec/protocol/defaults.js';

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** A positive limit, or 'Infinity' (also 'off') to turn it off. */
function limitArg(name: string) {
  return (v: string): number => {
    if (v === 'Infinity' || v === 'off') return Number.POSITIVE_INFINITY;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, or Infinity to turn it off`);
    return n;
  };
}

/** A ws:// or wss:// URL (the inspector's receiver). */
function wsUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('must be a URL such as ws://127.0.0.1:8090');
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new InvalidArgumentError('must be a ws:// or wss:// URL');
  return v;
}

/** A tokens file read and checked while the flags are parsed, so a bad file stops the start (server/cli-auth.ts). */
function tokensFile(path: string): Map<string, Principal> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`cannot read it: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return parseTokensFile(text);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

interface ServeFlags {
  port: number;
  host: string;
  path: string;
  allowedOrigin?: string[];
  authTokensFile?: Map<string, Principal>;
  heartbeatIntervalMs?: number;
  heartbeatIntervalMaxMs?: number;
  heartbeatStableBeats?: number;
  heartbeatMissedMax?: number;
  handshakeTimeoutMs?: number;
  maxPayloadBytes?: number;
  clientAckDelayMs?: number;
  policy?: PolicyName;
  queueLimitMessages?: number;
  queueLimitBytes?: number;
  bufferedHighWaterBytes?: number;
  replayWindowMessages?: number;
  replayWindowBytes?: number;
  replayWindowMs?: number;
  resumeTtlMs?: number;
  upgradeRatePerSecond?: number;
  upgradeBurst?: number;
  messageRatePerSecond?: number;
  messageBurst?: number;
  controlRatePerSecond?: number;
  controlBurst?: number;
  maxSessions?: number;
  maxDetachedSessions?: number;
  detachedBudgetBytes?: number;
  dedupe: boolean;
  drainDeadlineMs?: number;
  drainSpreadMs?: number;
  drainDelayMs?: number;
  redis?: string;
  redisPrefix?: string;
  nodeId?: string;
  sweepSlices?: number;
  headersTimeoutMs?: number;
  maxPendingUpgradesPerIp?: number;
  maxPendingUpgrades?: number;
  demo: boolean;
  logLevel: Level;
  metrics: boolean;
  inspect?: string;
}

/** Options for createServer from the flags; unset flags keep the spec's defaults (§17). */
export function optionsFromFlags(f: ServeFlags): LifelineServerOptions {
  const o: Record<string, unknown> = {
    path: f.path,
    allowedOrigins: f.allowedOrigin,
    heartbeatIntervalMs: f.heartbeatIntervalMs,
    heartbeatIntervalMaxMs: f.heartbeatIntervalMaxMs,
    heartbeatStableBeats: f.heartbeatStableBeats,
    heartbeatMissedMax: f.heartbeatMissedMax,
    handshakeTimeoutMs: f.handshakeTimeoutMs,
    maxPayloadBytes: f.maxPayloadBytes,
    clientAckDelayMs: f.clientAckDelayMs,
    policy: f.policy,
    queueLimitMessages: f.queueLimitMessages,
    queueLimitBytes: f.queueLimitBytes,
    bufferedAmountHighWaterBytes: f.bufferedHighWaterBytes,
    replayWindowMessages: f.replayWindowMessages,
    replayWindowBytes: f.replayWindowBytes,
    replayWindowMs: f.replayWindowMs,
    resumeTtlMs: f.resumeTtlMs,
    upgradeRatePerSecond: f.upgradeRatePerSecond,
    upgradeBurst: f.upgradeBurst,
    messageRatePerSecond: f.messageRatePerSecond,
    messageBurst: f.messageBurst,
    controlRatePerSecond: f.controlRatePerSecond,
    controlBurst: f.controlBurst,
    maxSessions: f.maxSessions,
    maxDetachedSessions: f.maxDetachedSessions,
    detachedBudgetBytes: f.detachedBudgetBytes,
    dedupeMessageIds: f.dedupe === false ? false : undefined,
    drainDeadlineMs: f.drainDeadlineMs,
    drainSpreadMs: f.drainSpreadMs,
    sweepSlices: f.sweepSlices,
    headersTimeoutMs: f.headersTimeoutMs,
    maxPendingUpgradesPerIp: f.maxPendingUpgradesPerIp,
    maxPendingUpgrades: f.maxPendingUpgrades,
  };
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return { ...(o as LifelineServerOptions), ...(f.authTokensFile ? tokenAuthentication(f.authTokensFile) : {}) };
}

function showValue(v: unknown): string | undefined {
  if (v === undefined) return 'off';
  if (v === Number.POSITIVE_INFINITY) return 'unlimited';
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * Append "(default: …)" to every option that has no default of its own and does not describe it:
 * the value is the server's own (resolveOptions({}), spec §17), found by passing a marker through
 * optionsFromFlags, so a flag added there later shows its default without more code here.
 */
function describeDefaults(cmd: Command): Command {
  const resolved = resolveOptions({}) as unknown as Record<string, unknown>;
  const marker = Symbol('flag');
  for (const opt of cmd.options) {
    if (opt.defaultValue !== undefined || opt.negate || opt.isBoolean() || /\bdefault\b/.test(opt.description)) continue;
    let mapped: Record<string, unknown>;
    try {
      mapped = optionsFromFlags({ [opt.attributeName()]: marker } as unknown as ServeFlags) as Record<string, unknown>;
    } catch {
      continue; // a flag optionsFromFlags computes with (a symbol does not multiply): it describes its own default
    }
    const key = Object.keys(mapped).find((k) => mapped[k] === marker);
    if (key === undefined || !(key in resolved)) continue;
    const value = key === 'policy' ? Object.keys(policyByName).find((n) => policyByName[n as PolicyName] === resolved.policy) : resolved[key];
    const shown = showValue(value);
    if (shown !== undefined) opt.description += ` (default: ${shown})`;
  }
  return cmd;
}

/** An application `lifeline serve` runs beside the server (--demo): its hooks, then start after listen and stop before close. */
export interface ServeApp {
  /** Passed to createServer (the demo: its channel state, its messages, its page). */
  readonly hooks: Pick<LifelineServerOptions, 'snapshot' | 'onMessage' | 'onRequest'>;
  start(server: LifelineServer): void;
  stop(): void;
}

export interface ServeCommandOptions {
  /**
   * Loads the --demo application from the package root; the bin supplies it. Without one, or when
   * it throws, --demo fails with that message (the npm package: "runs from a clone").
   */
  readonly loadDemo?: (root: string) => Promise<ServeApp>;
  /**
   * An application to run beside the server when --demo is not given: an embedder's entry script
   * that wants the command's flags, signals and drain with its own hooks (the multi-node e2e test's
   * node, e2e/multi-node/node.ts).
   */
  readonly app?: (root: string) => ServeApp | Promise<ServeApp>;
}

export function serveCommand(options: ServeCommandOptions = {}): Command {
  const envPort = process.env.PORT === undefined ? 8080 : int('PORT')(process.env.PORT);
  const cmd = new Command('serve')
    .description('run the Lifeline reference server (with --demo, the live demo page)')
    .option('-p, --port <port>', 'TCP port (0 = any free port; $PORT when set)', int('port'), envPort)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--path <path>', 'the Lifeline WebSocket path', '/lifeline')
    .option(
      '--allowed-origin <origin...>',
      'allowed browser Origin, matched exactly (scheme://host[:port], e.g. https://app.example.com); repeatable. ' +
        'Others get 403 (HS-2). Required when browsers connect with cookies (SEC-1). Default: any Origin; with --demo, the demo\'s own origin',
    )
    .option(
      '--auth-tokens-file <file>',
      'require a token: lines of "<token> <principal>"; a client sends one as Hello.token (connect --token, the client\'s getToken) or as an "Authorization: Bearer" upgrade header (HS-4, HS-12); default none, everyone is "anonymous"',
      tokensFile,
    )
    .option('--heartbeat-interval-ms <ms>', 'ping and heartbeat interval (HB-1, HB-10)', int('heartbeat interval', 1))
    .option(
      '--heartbeat-interval-max-ms <ms>',
      'adaptive heartbeat ceiling (HB-11); default the interval itself (off): only raise it when no proxy on the path has a shorter idle timeout (HB-10)',
      int('heartbeat interval max', 1),
    )
    .option('--heartbeat-stable-beats <n>', 'stable heartbeats before the interval grows (HB-11)', int('stable beats', 1))
    .option('--heartbeat-missed-max <n>', 'missed pings tolerated (HB-3)', int('missed max'))
    .option('--handshake-timeout-ms <ms>', 'time allowed for Hello (HS-10)', int('handshake timeout', 1))
    .option('--max-payload-bytes <bytes>', 'largest accepted frame (WIRE-4)', int('max payload', 1))
    .option('--client-ack-delay-ms <ms>', `ack delay asked of clients in Welcome (SEQ-12; default ${defaults.clientAckDelayMs}; 0: their own, 50 ms for the reference client)`, int('client ack delay'))
    .addOption(new Option('--policy <policy>', 'backpressure policy for clients that state none (BP-2)').choices(Object.keys(policyByName)))
    .option('--queue-limit-messages <n>', 'outbound queue bound in items (BP-3)', int('queue limit', 1))
    .option('--queue-limit-bytes <bytes>', 'outbound queue bound in bytes (BP-3)', int('queue limit bytes', 1))
    .option('--buffered-high-water-bytes <bytes>', 'socket buffered-amount guard (BP-4)', int('high water', 1))
    .option('--replay-window-messages <n>', 'replay buffer bound in messages (RS-3)', int('replay window', 1))
    .option('--replay-window-bytes <bytes>', 'replay buffer bound in bytes (RS-3)', int('replay window bytes', 1))
    .option('--replay-window-ms <ms>', 'how long a detached session keeps messages for replay (RS-3); default the resume ttl', int('replay window ms', 1))
    .option('--resume-ttl-ms <ms>', 'how long a detached session is kept (RS-1)', int('resume ttl', 1))
    // Limits (issue 13): on by default at the values of spec §17; 'Infinity' turns a rate or a cap off.
    .option('--upgrade-rate-per-second <rate>', `per-IP upgrade rate limit, 429 beyond it (HS-5; default ${defaults.upgradeRatePerSecond})`, limitArg('upgrade rate'))
    .option('--upgrade-burst <n>', `per-IP upgrade burst (HS-5; default ${defaults.upgradeBurst})`, limitArg('upgrade burst'))
    .option('--message-rate-per-second <rate>', `per-session client message rate, closed 4203 beyond it (BP-14; default ${defaults.messageRatePerSecond})`, limitArg('message rate'))
    .option('--message-burst <n>', `per-session message burst (BP-14; default ${defaults.messageBurst})`, limitArg('message burst'))
    .option('--control-rate-per-second <rate>', `per-session control-frame rate (heartbeats, acks, subscribes), closed 1008 beyond it (BP-16; default ${defaults.controlRatePerSecond})`, limitArg('control rate'))
    .option('--control-burst <n>', `per-session control-frame burst (BP-16; default ${defaults.controlBurst})`, limitArg('control burst'))
    .option('--max-sessions <n>', `session limit, attached and detached; the oldest detached is evicted first, then 1013 (CC-8, RS-11; default ${defaults.maxSessions})`, limitArg('max sessions'))
    .option('--max-detached-sessions <n>', `detached sessions kept for resume before the oldest is evicted (RS-11; default ${defaults.maxDetachedSessions})`, limitArg('max detached sessions'))
    .option('--detached-budget-bytes <bytes>', `bytes all detached sessions may hold together before the oldest is evicted (RS-11; default ${defaults.detachedBudgetBytes})`, limitArg('detached budget'))
    .option('--no-dedupe', `do not deduplicate client messages by message id (SEQ-8; default on, ${defaults.dedupeMaxIds} ids)`)
    .option('--drain-deadline-ms <ms>', 'drain deadline on SIGTERM (DR-4, DR-5)', int('drain deadline', 1))
    .option('--drain-spread-ms <ms>', 'reconnect spread window (DR-3)', int('drain spread'))
    .option(
      '--drain-delay-ms <ms>',
      'on SIGTERM, report not ready (DR-1) and refuse new upgrades for this long before the drain notices go out, so a load balancer polling /readyz takes the node out of rotation before its clients move (ops/haproxy/two-nodes.cfg)',
      int('drain delay'),
      0,
    )
    .option('--sweep-slices <n>', 'spread the liveness sweep over n slices of the interval; default one per second of it, 1 to 10', int('sweep slices', 1))
    .option('--headers-timeout-ms <ms>', 'close a connection whose request head is incomplete after this (HS-15; default the handshake timeout, 5000)', int('headers timeout', 1))
    .option('--max-pending-upgrades-per-ip <n>', 'connections not yet WebSockets per client address (HS-16; default 64; raise behind a proxy)', int('max pending upgrades per ip', 1))
    .option('--max-pending-upgrades <n>', 'connections not yet WebSockets in total (HS-16; default 1024)', int('max pending upgrades', 1))
    .option(
      '--redis <url>',
      'share sessions and channels with other nodes through this Redis (redis://[user:password@]host:port[/db], rediss:// for TLS): any node resumes any session, a publish reaches every node (spec §21); /readyz answers 503 while Redis is away; default none: this process only (memory store)',
      redisUrlArg,
    )
    .option('--redis-prefix <prefix>', 'prefix of every Redis key, stream and channel (several deployments on one Redis)', 'lifeline:')
    .option('--node-id <id>', "this node's name in the shared store (owner of its sessions, target of takeover notices) and its logs; default random")
    .option('--demo', 'run the demo application and serve its page', false)
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
    .option('--no-metrics', 'do not serve Prometheus metrics on /metrics')
    .option('--inspect <ws-url>', 'stream session actors to an XState inspector at this WebSocket URL (e.g. ws://127.0.0.1:8090); default off', wsUrl)
    .action(async (flags: ServeFlags) => {
      await serve(flags, options);
    });
  return describeDefaults(cmd);
}

/** A second signal within this long after the first is the same Ctrl-C, echoed (see serve()). */
const SIGNAL_ECHO_MS = 1000;

/** The package root: above server/ in a clone, above dist/ when compiled (dist/server/cli.js). */
function packageRoot(): string {
  const up = fileURLToPath(new URL('..', import.meta.url));
  return existsSync(join(up, 'package.json')) ? up : dirname(up);
}

/** What --demo says where no demo was registered: the npm package leaves it out (its page bundles Mermaid). */
export const DEMO_NEEDS_CLONE =
  '--demo runs from a clone of the Lifeline repository (`npm ci && npm start` there); the npm package does not ship the demo page';

async function serve(flags: ServeFlags, options: ServeCommandOptions): Promise<void> {
  const log = createLifelineLogger({ level: flags.logLevel }); // SEC-2: redaction and URL sanitizing
  const root = packageRoot();
  let demo: ServeApp | undefined;
  if (flags.demo) {
    if (!options.loadDemo) throw new Error(DEMO_NEEDS_CLONE);
    demo = await options.loadDemo(root);
  }
  const app = demo ?? (await options.app?.(root));
  // Strictly opt-in: the inspector reconnects to its receiver until stopped.
  let inspector: ServerInspector | undefined;
  if (flags.inspect !== undefined) inspector = createServerInspector({ url: flags.inspect });
  const nodeId = flags.nodeId ?? randomBytes(6).toString('hex');
  // Issue 14: with --redis, every node shares sessions and channels; Redis health drives /readyz (MN-14).
  let shared: SharedBackends | undefined;
  if (flags.redis !== undefined) shared = await openRedisBackends({ url: flags.redis, prefix: flags.redisPrefix ?? 'lifeline:', nodeId, log });
  const srv = createServer({
    ...optionsFromFlags(flags),
    nodeId,
    ...(shared ? { sessionStore: shared.store, broker: shared.broker } : {}),
    ...(app ? app.hooks : {}),
    logger: log,
    ...(flags.metrics ? { metrics: createLifelineMetrics({ defaultMetrics: true }) } : {}),
    ...(inspector ? { inspect: inspector.inspect } : {}),
  });
  try {
    await srv.listen(flags.port, flags.host);
  } catch (err) {
    console.error(`cannot listen on ${flags.host}:${flags.port}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  if (demo) {
    // SEC-1: the demo page's own origin (from the listen address and port) plus any --allowed-origin.
    const { port } = srv.httpServer.address() as AddressInfo;
    srv.allowOrigins([...new Set([...ownOrigins(flags.host, port), ...(flags.allowedOrigin ?? [])])]);
  }
  app?.start(srv);
  const http = srv.url().replace(/^ws/, 'http').replace(/\/[^/]*$/, '/');
  console.log(`Lifeline server listening: ${srv.url()}${demo ? `\nDemo page: ${http}` : ''}${flags.metrics ? `\nMetrics: ${http}metrics` : ''}`);
  const origins = srv.originAllowlist();
  if (flags.redis !== undefined) console.log(`Shared through Redis: ${redisUrlForDisplay(flags.redis)} (prefix ${flags.redisPrefix ?? 'lifeline:'}), node ${nodeId}`);
  console.log(origins ? `Allowed origins: ${origins.join(' ')}` : 'Allowed origins: any (no --allowed-origin; never serve cookie-authenticated browsers like this, SEC-1)');
  log.info({ url: srv.url(), demo: flags.demo, allowedOrigins: origins ?? 'any', nodeId, redis: flags.redis === undefined ? undefined : redisUrlForDisplay(flags.redis) }, 'listening');

  let stoppingAtMs: number | undefined;
  const stop = (signal: string) => {
    if (stoppingAtMs !== undefined) {
      // One Ctrl-C under `npm start` arrives twice: the terminal signals the whole process group,
      // and npm forwards what it got to its child. Only a later one means "stop waiting".
      if (Date.now() - stoppingAtMs < SIGNAL_ECHO_MS) return;
      log.warn({ signal }, 'second signal: exiting without waiting for the drain');
      process.exit(1);
    }
    stoppingAtMs = Date.now();
    log.info({ signal }, 'draining');
    void (async () => {
      if (flags.drainDelayMs !== undefined && flags.drainDelayMs > 0) {
        // DR-1 before DR-2: /readyz answers 503 (and upgrades are refused, HS-6) while the load
        // balancer's health checks notice; only then do the notices send clients elsewhere.
        srv.setReady(false);
        await new Promise((resolve) => setTimeout(resolve, flags.drainDelayMs));
      }
      await srv.drain();
      app?.stop();
      await srv.close();
      await shared?.close(); // after the server: the drain's last commits are in Redis (MN-1, MN-11)
      inspector?.stop();
      log.info('drained; exiting');
      log.flush();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
