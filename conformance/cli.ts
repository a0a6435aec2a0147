/**
 * `lifeline conformance …`: list the catalogue, run the suite against a server
 * URL, a client command, or the reference implementations (`self`).
 */
import { Command, Option } from 'commander';
import { catalogue } from './catalogue.js';
import { loadConfig, referenceClientConfig, referenceServerConfig, type ImplConfig } from './config.js';
import { computeCoverage } from './framework/coverage.js';
import type { CaseResult } from './framework/types.js';
import { DEFAULT_RUNS, DEFAULT_TIMEOUT_MS, runConformance, writeReports, type ConformanceOptions } from './run.js';

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
    .option('--quiet', 'print only the summary table');
}

function common(flags: RunFlags): Omit<ConformanceOptions, 'server' | 'client' | 'replayBase'> {
  return {
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
      .requiredOption('--config <file>', 'implementation config (lifeline.conformance.json) with a "server" section'),
  ).action(async (url: string, flags: RunFlags) => {
    const config: ImplConfig = loadConfig(flags.config as string);
    if (!config.server) throw new Error(`${flags.config} has no "server" section`);
    await finish({ ...common(flags), server: { url, config: config.server }, replayBase: { server: `lifeline conformance server ${url} --config ${flags.config}` } }, flags);
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
    await finish({ ...common(flags), client: { command, config: config.client }, replayBase: { client: `lifeline conformance client --config ${flags.config} -- ${quote(command)}` } }, flags);
  });

  addRunOptions(
    cmd
      .command('self')
      .description('run the suite against the reference server and the reference client (what npm run conformance does)')
      .option('--only <side>', 'server or client'),
  ).action(async (flags: RunFlags & { only?: string }) => {
    const { startReferenceServer, referenceClientCommand } = await import('./targets/reference.js');
    const wantServer = flags.only !== 'client';
    const wantClient = flags.only !== 'server';
    const target = wantServer ? await startReferenceServer(referenceServerConfig) : undefined;
    try {
      await finish(
        {
          ...common(flags),
          ...(target ? { server: { url: target.url, config: target.config, hooks: target.hooks } } : {}),
          ...(wantClient ? { client: { command: referenceClientCommand(), config: referenceClientConfig } } : {}),
          replayBase: { server: 'lifeline conformance self --only server', client: 'lifeline conformance self --only client' },
          runReplay: `lifeline conformance self${flags.only ? ` --only ${flags.only}` : ''}`,
        },
        flags,
      );
    } finally {
      await target?.stop();
    }
  });

  return cmd;
}
