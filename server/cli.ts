/**
 * `lifeline serve`: the reference server from the command line. With --demo it
 * runs the demo application (demo/app.ts) and serves the demo page (demo/public/
 * at /, the browser bundle from dist/browser/ at /dist/browser/). SIGTERM and
 * SIGINT drain (spec §13), then exit 0. Logs are pino JSON; tokens, tickets and
 * cookies are never logged (SEC-2). Prometheus metrics on /metrics (issue 8);
 * `--inspect <ws-url>` streams every session actor to an XState inspector (opt-in).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import type { Level } from 'pino';
import { createDemoApp } from '../demo/app.js';
import { staticHandler } from './http.js';
import { createServerInspector, type ServerInspector } from './observability/inspect.js';
import { createLifelineLogger } from './observability/logger.js';
import { createLifelineMetrics } from './observability/metrics.js';
import { policyByName, type LifelineServerOptions, type PolicyName } from './options.js';
import { createServer } from './server.js';
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

interface ServeFlags {
  port: number;
  host: string;
  path: string;
  allowedOrigin?: string[];
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
  sweepSlices?: number;
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
  };
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o as LifelineServerOptions;
}

export function serveCommand(): Command {
  const envPort = process.env.PORT === undefined ? 8080 : int('PORT')(process.env.PORT);
  return new Command('serve')
    .description('run the Lifeline reference server (with --demo, the live demo page)')
    .option('-p, --port <port>', 'TCP port (0 = any free port; default $PORT or 8080)', int('port'), envPort)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--path <path>', 'the Lifeline WebSocket path', '/lifeline')
    .option('--allowed-origin <origin...>', 'allowed Origin values (HS-2); repeatable; default any')
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
    .option('--client-ack-delay-ms <ms>', 'ack delay asked of clients in Welcome; raise it for large fan-outs (SEQ-12; default: their own)', int('client ack delay'))
    .addOption(new Option('--policy <policy>', 'default backpressure policy (BP-2)').choices(Object.keys(policyByName)))
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
    .option('--sweep-slices <n>', 'spread the liveness sweep over n slices of the interval', int('sweep slices', 1))
    .option('--demo', 'run the demo application and serve its page', false)
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'))
    .option('--no-metrics', 'do not serve Prometheus metrics on /metrics')
    .option('--inspect <ws-url>', 'stream session actors to an XState inspector at this WebSocket URL (e.g. ws://127.0.0.1:8090)', wsUrl)
    .action(async (flags: ServeFlags) => {
      await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<void> {
  const log = createLifelineLogger({ level: flags.logLevel }); // SEC-2: redaction and URL sanitizing
  // Strictly opt-in: the inspector reconnects to its receiver until stopped.
  let inspector: ServerInspector | undefined;
  if (flags.inspect !== undefined) inspector = createServerInspector({ url: flags.inspect });
  const root = fileURLToPath(new URL('..', import.meta.url));
  const demo = flags.demo ? createDemoApp() : undefined;
  const srv = createServer({
    ...optionsFromFlags(flags),
    ...(demo ? demo.hooks : {}),
    logger: log,
    ...(flags.metrics ? { metrics: createLifelineMetrics({ defaultMetrics: true }) } : {}),
    ...(inspector ? { inspect: inspector.inspect } : {}),
    ...(demo
      ? {
          onRequest: staticHandler([
            { prefix: '/dist/browser/', dir: `${root}dist/browser` },
            { prefix: '/', dir: `${root}demo/public` },
          ]),
        }
      : {}),
  });
  try {
    await srv.listen(flags.port, flags.host);
  } catch (err) {
    console.error(`cannot listen on ${flags.host}:${flags.port}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  demo?.start(srv);
  const http = srv.url().replace(/^ws/, 'http').replace(/\/[^/]*$/, '/');
  console.log(`Lifeline server listening: ${srv.url()}${demo ? `\nDemo page: ${http}` : ''}${flags.metrics ? `\nMetrics: ${http}metrics` : ''}`);
  log.info({ url: srv.url(), demo: flags.demo }, 'listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting for the drain');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'draining');
    void (async () => {
      await srv.drain();
      demo?.stop();
      await srv.close();
      inspector?.stop();
      log.info('drained; exiting');
      log.flush();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
