/**
 * `npm run bench` (issue 7): every scenario side by side, raw ws / Socket.IO 4 /
 * Lifeline (once server/ exists) interleaved, each cell a median of repetitions;
 * prints one Markdown report and writes it to bench/RESULTS.md.
 *
 *   npm run bench                 full run (about 12 min on an idle 2-core machine); compiles to
 *                                 .bench-build/ first and runs plain JavaScript (lib/paths.ts)
 *   npm run bench -- --quick      reduced sizes (< 2 min), CI proves it still runs
 *   npm run bench -- --only=echo,codec      (scenarios: echo, memory, connect, liveness, fanout,
 *                                            saturation, resume, storm, slow, codec, two-node, http)
 *   npm run bench -- --shared     no taskset: server and load generator share both cores (issue 16;
 *                                 the default pins the server to core 0, the load generator to core 1)
 *   npm run bench -- --out=path.md
 *   npm run bench -- --only=saturation --kinds=ws,lifeline   (contenders: ws (with its batched row), socketio, lifeline)
 *   npm run bench -- --only=fanout --fanout-client-ack-delay-ms=0   (SEQ-12: what acks cost the fan-out; 0 = the
 *        clients' own delay, unset = the server's default, 250 ms)
 *   BENCH_HTTP_CLIENT=bench npm run bench -- --only=http   (issue 15: Lifeline over HTTP with the bench's
 *        node:http carrier client, contenders/lifeline-http.ts, instead of the reference client's fetch one)
 *   npm run bench -- --only=echo --profile=/tmp/prof   (node --cpu-prof per child;
 *        summarise with `npx tsx bench/lib/profile-summary.ts <file>`)
 *
 * A benchmark never fails on a number: the exit code is non-zero only when the
 * harness itself breaks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kind } from './contenders/baselines.js';
import { isLifelineAvailable } from './contenders/lifeline.js';
import { REPO_ROOT } from './lib/paths.js';
import { machineInfo } from './lib/machine.js';
import type { Child } from './lib/proc.js';
import type { RunContext, Section } from './lib/scenario.js';
import { table } from './lib/stats.js';
import { runCodecScenario } from './scenarios/codec.js';
import { runEcho } from './scenarios/echo.js';
import { runConnect } from './scenarios/connect.js';
import { runFanout } from './scenarios/fanout.js';
import { runHttp } from './scenarios/http.js';
import { runSaturation } from './scenarios/saturation.js';
import { runLiveness } from './scenarios/liveness.js';
import { runMemory } from './scenarios/memory.js';
import { runResume } from './scenarios/resume.js';
import { runSlow } from './scenarios/slow.js';
import { runStorm } from './scenarios/storm.js';
import { runTwoNode } from './scenarios/two-node.js';

type Runner = (ctx: RunContext) => Promise<Section>;

/** In report order. */
const SCENARIOS: readonly (readonly [string, Runner])[] = [
  ['echo', runEcho],
  ['memory', runMemory],
  ['connect', runConnect],
  ['liveness', runLiveness],
  ['fanout', runFanout],
  ['saturation', runSaturation],
  ['resume', runResume],
  ['storm', runStorm],
  ['slow', runSlow],
  ['codec', runCodecScenario],
  ['two-node', runTwoNode],
  ['http', runHttp],
];


function arg(name: string): string | undefined {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = arg('only')?.split(',');
  const out = arg('out') ?? join(REPO_ROOT, 'bench', 'RESULTS.md');
  const kinds: Kind[] = ['ws', 'socketio'];
  const hasLifeline = await isLifelineAvailable();
  if (hasLifeline) kinds.push('lifeline');
  // `--kinds=ws,lifeline`: only these contenders (a before/after of one side on a shared machine).
  const onlyKinds = arg('kinds')?.split(',');
  if (onlyKinds) kinds.splice(0, kinds.length, ...kinds.filter((k) => onlyKinds.includes(k)));
  const children = new Set<Child>();
  const t0 = performance.now();
  const profileDir = arg('profile');
  const ctx: RunContext = {
    quick,
    kinds,
    children,
    ...(profileDir ? { profileDir } : {}),
    placement: process.argv.includes('--shared') ? 'shared' : 'pinned',
    ...(arg('fanout-client-ack-delay-ms') !== undefined ? { fanoutClientAckDelayMs: Number(arg('fanout-client-ack-delay-ms')) } : {}),
    log: (msg) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`),
  };
  const stopChildren = () => {
    for (const c of children) c.proc.kill('SIGKILL');
  };
  process.on('SIGINT', () => {
    stopChildren();
    process.exit(130);
  });

  const sections: Section[] = [];
  const failures: string[] = [];
  for (const [name, run] of SCENARIOS) {
    if (only && !only.includes(name)) continue;
    ctx.log(`scenario ${name} …`);
    const s0 = performance.now();
    try {
      sections.push(await run(ctx));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      failures.push(`${name}: ${why}`);
      ctx.log(`scenario ${name} FAILED: ${why}`);
    } finally {
      for (const c of [...children]) await c.stop(1_000);
      children.clear();
    }
    ctx.log(`scenario ${name} done in ${((performance.now() - s0) / 1000).toFixed(0)} s`);
  }
  const totalS = (performance.now() - t0) / 1000;
  const info = await machineInfo(ctx.placement);
  const lines: string[] = [];
  lines.push(`# Lifeline benchmarks${quick ? ' (quick)' : ''}`, '');
  lines.push(`Generated by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString()} in ${totalS.toFixed(0)} s.`, '');
  lines.push('## Machine', '', table(['', ''], info.map(([k, v]) => [k, v])), '');
  if (!hasLifeline) lines.push('Lifeline rows are missing: server/ could not be loaded in this tree.', '');
  const targets = sections.flatMap((s) => s.targets);
  if (targets.length > 0) {
    lines.push('## Targets', '');
    // Benchmarks, not gates (issues 7, 12, 16): a target that does not hold is reported, never fails the run.
    lines.push(
      table(
        ['target', 'measured', 'result'],
        targets.map((t) => [t.what, t.measured, t.isMet === undefined ? 'not measured' : t.isMet ? 'holds' : 'does NOT hold']),
      ),
      '',
    );
  }
  for (const s of sections) {
    lines.push(`## ${s.title}`, '', `Processes: ${s.placement}.`, '', s.table, '');
    for (const n of s.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  if (failures.length > 0) {
    lines.push('## Scenarios that did not complete', '');
    for (const f of failures) lines.push(`- ${f}`);
    lines.push('');
  }
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  writeFileSync(out, report);
  ctx.log(`wrote ${out}`);
  // A failed scenario is reported, not fatal (a benchmark never fails CI on a number);
  // only a harness that produced nothing at all is an error.
  process.exit(sections.length === 0 && failures.length > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
