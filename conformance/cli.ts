/**
 * `lifeline conformance …`: list the catalogue, run the suite against a server
 * URL, a client command, or the reference implementations (`self`).
 */
import { Command, Option } from 'commander';
import { catalogue } from './catalogue.js';
import { loadConfig, referenceClientConfig, referenceServerConfig, type ImplConfig } from './config.js';
import { computeCoverage } from './framework/coverage.js';
import { loadKnownFailing, staleEntries } from './framework/known-failing.js';
import type { CaseResult } from './framework/types.js';
import type { Transport } from './server-mode/peer.js';
import { DEFAULT_RUNS, DEFAULT_TIMEOUT_MS, SELF_JOBS, runConformance, writeReports, type ConformanceOptions } from './run.js';

interface RunFlags {
  seed?: string;
  runs?: string;
  case?: string[];
  thorough?: boolean;
  json?: string;
  junit?: string;
  timeout?: string;
  path?: string;
  config?: string;
  quiet?: boolean;
  jobs?: string;
  knownFailing?: string;
  runTimeout?: string;
}

function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--seed <n>', 'suite seed (printed in every report; replays a run exactly)')
    .option('--runs <n>', `generated runs per property case (default ${DEFAULT_RUNS})`)
    .option('--case <pattern...>', 'only these cases: an id, a glob (HB-*, *drop*), or a spec id (HB-3)')
    .option('--thorough', 'ten times the generated runs and longer command sequences (release checks)')
    .option('--json <file>', 'write the JSON report')
    .option('--junit <file>', 'write JUnit XML')
    .option('--timeout <ms>', `per-case timeout (default ${DEFAULT_TIMEOUT_MS})`)
    .addOption(new Option('--path <path>', 'fast-check path of a counterexample to replay (with --seed and one --case)'))
    .option('--jobs <n>', 'cases at once: client-mode cases run side by side (each has its own fake server and client process); a server-mode case runs alone (default 1; self: 4)')
    .option('--known-failing <file>', 'cases known to fail, one per line with its reason: they do not fail the run, but a listed case that passes does')
    .option('--run-timeout <ms>', 'budget for the whole run: what is still running then is stopped and reported (default: none)')
    .option('--quiet', 'print only the summary table');
}

/** `--transport ws|http`: the carrier of the runner's peers in server mode (spec §22). */
function transportOption(): Option {
  return new Option('--transport <carrier>', "server mode: the runner's peers connect over a WebSocket (ws) or the HTTP carrier of spec §22 (http), same URL; cases that test the WebSocket upgrade itself are N/A over http")
    .choices(['ws', 'http'])
    .default('ws');
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} wants a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function common(flags: RunFlags, defaultJobs = 1): Omit<ConformanceOptions, 'server' | 'client' | 'replayBase'> {
  const knownFailing = flags.knownFailing ? loadKnownFailing(flags.knownFailing) : undefined;
  if (knownFailing) {
    const stale = staleEntries(knownFailing, catalogue.map((c) => c.id));
    if (stale.length > 0) throw new Error(`${flags.knownFailing}: ${stale.map((k) => `line ${k.line} "${k.pattern}"`).join(', ')} names no case of the catalogue (lifeline conformance list)`);
  }
  return {
    jobs: flags.jobs !== undefined ? positive('--jobs', flags.jobs) : defaultJobs,
    ...(flags.runTimeout !== undefined ? { runTimeoutMs: positive('--run-timeout', flags.runTimeout) } : {}),
    ...(knownFailing ? { knownFailing } : {}),
    cases: flags.case ?? [],
    ...(flags.seed !== undefined ? { seed: Number(flags.seed) | 0 } : {}),
    ...(flags.runs !== undefined ? { runs: Math.max(1, Number(flags.runs)) } : {}),
    thorough: flags.thorough ?? false,
    ...(flags.path ? { path: flags.path } : {}),
    ...(flags.timeout ? { timeoutMs: Number(flags.timeout) } : {}),
    ...(flags.quiet ? {} : { onResult: progress }),
  };
}

function progress(r: CaseResult): void {
  const mark = r.verdict === 'PASS' ? 'ok  ' : r.verdict === 'N/A' ? 'n/a ' : r.verdict.toLowerCase().padEnd(4);
  process.stderr.write(`${mark} ${r.id} (${r.ms} ms)${r.message && r.verdict !== 'PASS' ? `: ${r.message.split('\n')[0]}` : ''}\n`);
}

async function finish(opts: ConformanceOptions, flags: RunFlags): Promise<void> {
  const r = await runConformance(opts);
  console.log(r.table);
  writeReports(r, { ...(flags.json ? { json: flags.json } : {}), ...(flags.junit ? { junit: flags.junit } : {}) });
  if (flags.json) console.log(`JSON report: ${flags.json}`);
  if (flags.junit) console.log(`JUnit XML: ${flags.junit}`);
  process.exitCode = r.summary.failed ? 1 : 0;
  exitSoon(process.exitCode);
}

/**
 * The report is out: the process ends within EXIT_GRACE_MS even if something a case started (a
 * socket, a timer, a child) is still alive (issue 18, runner item 11: a run once printed its
 * summary and never exited). The timer is unref'd, so a clean run exits at once as usual.
 */
export const EXIT_GRACE_MS = 2000;
export function exitSoon(code: number, graceMs = EXIT_GRACE_MS, exit: (code: number) => void = (c) => process.exit(c), log: (line: string) => void = (l) => process.stderr.write(l)): void {
  setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((t) => t !== 'TTYWrap');
    log(`conformance: the run is over but ${left.length ? left.join(', ') : 'something'} kept the process alive; exiting ${code}\n`);
    exit(code);
  }, graceMs).unref();
}

function quote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function conformanceCommand(): Command {
  const cmd = new Command('conformance').description('run the Lifeline conformance suite against a server URL, a client command, or the reference implementations');

  cmd
    .command('list')
    .description('print the case catalogue (id, level, mode, spec ids, features, description)')
    .option('--json', 'as JSON')
    .action((flags: { json?: boolean }) => {
      if (flags.json) {
        console.log(JSON.stringify(catalogue.map(({ run: _run, ...c }) => c), null, 2));
        return;
      }
      for (const c of catalogue) {
        console.log(`${c.id}  [${c.level} ${c.mode}] ${c.spec.join(' ')}${c.requires?.length ? `  needs ${c.requires.join(',')}` : ''}\n    ${c.description}`);
      }
      const cov = computeCoverage(catalogue);
      console.log(`\n${catalogue.length} cases; spec coverage ${cov.covered.length}/${cov.testableMust} testable MUST ids${cov.uncovered.length ? `; none for ${cov.uncovered.join(' ')}` : ''}`);
    });

  addRunOptions(
    cmd
      .command('server <url>')
      .description('act as many well-behaved and adversarial clients against the server at <url> (ws://…)')
      .requiredOption('--config <file>', 'implementation config (lifeline.conformance.json) with a "server" section')
      .option('--peer <url>', 'multi-node: the second node (ws://…) on the same shared store; overrides server.peer.url')
      .addOption(transportOption()),
  ).action(async (url: string, flags: RunFlags & { peer?: string; transport?: Transport }) => {
    const config: ImplConfig = loadConfig(flags.config as string);
    if (!config.server) throw new Error(`${flags.config} has no "server" section`);
    // spec §21: --peer names node B; its hooks stay those of server.peer.hooks
    const server = flags.peer ? { ...config.server, peer: { ...config.server.peer, url: flags.peer } } : config.server;
    const peerFlag = flags.peer ? ` --peer ${flags.peer}` : '';
    const transport = flags.transport ?? 'ws';
    const tFlag = transport === 'ws' ? '' : ` --transport ${transport}`;
    await finish({ ...common(flags), server: { url, config: server, transport }, replayBase: { server: `npx lifeline conformance server ${url} --config ${flags.config}${peerFlag}${tFlag}` } }, flags);
  });

  addRunOptions(
    cmd
      .command('client')
      .description('act as the server and drive the client started by <command…> through the control protocol')
      .requiredOption('--config <file>', 'implementation config with a "client" section')
      .argument('<command...>', 'the client adapter to start (after --)'),
  ).action(async (command: string[], flags: RunFlags) => {
    const config: ImplConfig = loadConfig(flags.config as string);
    if (!config.client) throw new Error(`${flags.config} has no "client" section`);
    await finish({ ...common(flags), client: { command, config: config.client }, replayBase: { client: `npx lifeline conformance client --config ${flags.config} -- ${quote(command)}` } }, flags);
  });

  addRunOptions(
    cmd
      .command('self')
      .description('run the suite against the reference server and the reference client (what npm run conformance does)')
      .option('--only <side>', 'server or client')
      .option('--multi-node', 'the server side is two reference nodes on one shared in-process store and broker (spec §21): multi-node is declared')
      .addOption(transportOption()),
  ).action(async (flags: RunFlags & { only?: string; multiNode?: boolean; transport?: Transport }) => {
    const { startReferenceServer, referenceClientCommand } = await import('./targets/reference.js');
    const wantServer = flags.only !== 'client';
    const wantClient = flags.only !== 'server';
    const { startReferenceCluster } = await import('./targets/reference-cluster.js');
    const cluster = wantServer && flags.multiNode ? await startReferenceCluster(referenceServerConfig) : undefined;
    const target = cluster ?? (wantServer ? await startReferenceServer(referenceServerConfig) : undefined);
    const multi = `${flags.multiNode ? ' --multi-node' : ''}${flags.transport && flags.transport !== 'ws' ? ` --transport ${flags.transport}` : ''}`;
    try {
      await finish(
        {
          ...common(flags, SELF_JOBS),
          ...(target ? { server: { url: target.url, config: target.config, hooks: target.hooks, ...(cluster ? { peer: cluster.peer } : {}), transport: flags.transport ?? 'ws' } } : {}),
          ...(wantClient ? { client: { command: referenceClientCommand(), config: referenceClientConfig } } : {}),
          replayBase: { server: `npx lifeline conformance self --only server${multi}`, client: 'npx lifeline conformance self --only client' },
          runReplay: `npx lifeline conformance self${flags.only ? ` --only ${flags.only}` : ''}${multi}`,
        },
        flags,
      );
    } finally {
      await target?.stop();
    }
  });

  return cmd;
}
