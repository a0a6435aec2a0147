/**
 * The suite as a library: run the selected cases against a server URL, a
 * client command, or both, and get the summary, coverage and reports. The CLI
 * and conformance.test.ts both call this.
 */
import { writeFileSync } from 'node:fs';
import { catalogue, selectCases } from './catalogue.js';
import { resolveSlack, slackHeader, type ClientConfig, type ImplConfig, type ServerConfig, type SlackInfo } from './config.js';
import { clientHarness } from './client-mode/harness.js';
import { computeCoverage, type Coverage } from './framework/coverage.js';
import type { KnownFailing } from './framework/known-failing.js';
import { DEFAULT_REPLAY_BASE } from './framework/run-case.js';
import { freshSeed } from './framework/random.js';
import { jsonReport, junitXml, renderTable, type JsonReport } from './framework/report.js';
import { runSuite, type ModeHarness, type RunSummary } from './framework/runner.js';
import type { CaseResult, Mode } from './framework/types.js';
import type { Hooks } from './server-mode/hooks.js';
import { serverHarness, type PeerNodeTarget } from './server-mode/harness.js';
import type { Transport } from './server-mode/peer.js';

export interface ConformanceOptions {
  /**
   * `peer`: node B of a multi-node target (spec §21); default the config's server.peer. `transport`:
   * the carrier of the runner's peers (default ws; http: the HTTP carrier of spec §22, same URL).
   */
  readonly server?: { readonly url: string; readonly config: ServerConfig; readonly hooks?: Hooks; readonly peer?: PeerNodeTarget; readonly transport?: Transport };
  readonly client?: { readonly command: readonly string[]; readonly config: ClientConfig; readonly env?: Readonly<Record<string, string>> };
  /** `--case` patterns; empty = all. */
  readonly cases?: readonly string[];
  readonly seed?: number;
  readonly runs?: number;
  readonly thorough?: boolean;
  readonly path?: string;
  readonly timeoutMs?: number;
  readonly replayBase?: Partial<Record<Mode, string>>;
  /** Command line that replays the whole run (without --seed); default the replay base of the first mode. */
  readonly runReplay?: string;
  readonly onResult?: (r: CaseResult) => void;
  /** Cases at once (client-mode cases run side by side; server-mode ones one at a time). Default 1. */
  readonly jobs?: number;
  /** The whole run's budget, ms (default: none). */
  readonly runTimeoutMs?: number;
  /** Cases known to fail, with reasons (`--known-failing <file>`). */
  readonly knownFailing?: readonly KnownFailing[];
  /** Reruns of a case that failed while the runner stalled (default 1). */
  readonly stallRetries?: number;
}

export interface ConformanceResult {
  readonly summary: RunSummary;
  readonly coverage: Coverage;
  readonly report: JsonReport & { readonly slack: readonly SlackInfo[] };
  readonly table: string;
  /** Each mode's timing slack and where it came from (declared, or derived from a measurement). */
  readonly slack: readonly SlackInfo[];
}

export const DEFAULT_RUNS = 8;
export const DEFAULT_TIMEOUT_MS = 20_000;
/**
 * Cases at once in `conformance self` and npm test: client-mode cases wait on the protocol's
 * timers, not the CPU (59 client cases: 186 s one at a time, 70 s four at a time, load average 17).
 */
export const SELF_JOBS = 4;

export async function runConformance(opts: ConformanceOptions): Promise<ConformanceResult> {
  const harnesses: ModeHarness[] = [];
  // issue 18: a config without slackMs gets a small slack derived from this machine's measured lateness
  const { config: resolved, slack } = await resolveSlack({ ...(opts.server ? { server: opts.server.config } : {}), ...(opts.client ? { client: opts.client.config } : {}) });
  const config: { server?: ServerConfig; client?: ClientConfig } = {};
  if (opts.server && resolved.server) {
    harnesses.push(serverHarness(opts.server.url, resolved.server, opts.server.hooks, opts.server.peer, opts.server.transport));
    config.server = resolved.server;
  }
  if (opts.client && resolved.client) {
    harnesses.push(clientHarness(opts.client.command, resolved.client, opts.client.env));
    config.client = resolved.client;
  }
  const seed = opts.seed ?? freshSeed();
  const modes = harnesses.map((h) => h.mode);
  const cases = selectCases(opts.cases ?? []).filter((c) => modes.includes(c.mode));
  const replayBase = opts.replayBase ?? {};
  const summary = await runSuite({
    cases,
    harnesses,
    config: config as ImplConfig,
    seed,
    runs: opts.runs ?? DEFAULT_RUNS,
    thorough: opts.thorough ?? false,
    ...(opts.path ? { path: opts.path } : {}),
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    replayBase,
    ...(opts.onResult ? { onResult: opts.onResult } : {}),
    ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
    ...(opts.runTimeoutMs !== undefined ? { runTimeoutMs: opts.runTimeoutMs } : {}),
    ...(opts.knownFailing ? { knownFailing: opts.knownFailing } : {}),
    ...(opts.stallRetries !== undefined ? { stallRetries: opts.stallRetries } : {}),
  });
  const coverage = computeCoverage(catalogue);
  const base = opts.runReplay ?? replayBase.server ?? replayBase.client ?? DEFAULT_REPLAY_BASE;
  return { summary, coverage, report: { ...jsonReport(summary, coverage), slack }, table: `${slackHeader(slack)}\n${renderTable(summary, coverage, base)}`, slack };
}

export function writeReports(r: ConformanceResult, files: { json?: string; junit?: string }): void {
  if (files.json) writeFileSync(files.json, `${JSON.stringify(r.report, null, 2)}\n`);
  if (files.junit) writeFileSync(files.junit, junitXml(r.summary));
}
