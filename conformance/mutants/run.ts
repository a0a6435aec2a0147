/**
 * `npm run conformance:mutants`: run the cases aimed at each mutant's rule
 * against that mutant and check that at least one fails. Prints one line per
 * mutant and `killed K/N`; exits non-zero unless every mutant is killed.
 */
import { fileURLToPath } from 'node:url';
import { referenceClientConfig, referenceServerConfig } from '../config.js';
import { runConformance, SELF_JOBS } from '../run.js';
import { referenceClientCommand, startReferenceServer } from '../targets/reference.js';
import { clientMutants, type ClientMutant } from './client-mutants.js';
import { startFrameProxy } from './frame-proxy.js';
import { startCarrierProxy } from './carrier-proxy.js';
import { httpMutants } from './http-mutants.js';
import { multiNodeMutants } from './multi-node-mutants.js';
import { admissionMutants, serverMutants, type ServerMutant } from './server-mutants.js';
import { startReferenceCluster } from '../targets/reference-cluster.js';

export type Mutant = ServerMutant | ClientMutant;
export const mutants: readonly Mutant[] = [...serverMutants, ...admissionMutants, ...multiNodeMutants, ...httpMutants, ...clientMutants];

export interface MutantResult {
  readonly id: string;
  readonly rule: string;
  readonly killed: boolean;
  /** Cases that failed (the killers). */
  readonly by: readonly string[];
  readonly ran: number;
  /** Cases that ended in ERROR: they did not judge the mutant. */
  readonly notJudged: number;
  readonly ms: number;
}

export async function runMutant(m: Mutant, seed: number): Promise<MutantResult> {
  const t0 = performance.now();
  let results;
  if (m.side === 'server' && m.cluster) {
    const cluster = await startReferenceCluster(referenceServerConfig, m.cluster);
    try {
      results = await runConformance({ server: { url: cluster.url, config: cluster.config, hooks: cluster.hooks, peer: cluster.peer }, cases: m.cases, seed, replayBase: { server: `mutant ${m.id}` } });
    } finally {
      await cluster.stop();
    }
  } else if (m.side === 'server') {
    const target = await startReferenceServer(referenceServerConfig, m.override, m.patch);
    const proxy = m.proxy ? await startFrameProxy(target.url, m.proxy) : m.carrierProxy ? await startCarrierProxy(target.url, m.carrierProxy) : undefined;
    try {
      results = await runConformance({ server: { url: proxy?.url ?? target.url, config: target.config, hooks: target.hooks }, cases: m.cases, seed, replayBase: { server: `mutant ${m.id}` } });
    } finally {
      await proxy?.stop();
      await target.stop();
    }
  } else {
    results = await runConformance({
      client: { command: referenceClientCommand(), config: referenceClientConfig, env: { LIFELINE_CLIENT_MUTANT: m.id } },
      cases: m.cases,
      seed,
      jobs: SELF_JOBS, // client cases share nothing: as in conformance self
      replayBase: { client: `mutant ${m.id}` },
    });
  }
  const rs = results.summary.results;
  const by = rs.filter((r) => r.verdict === 'FAIL' || r.verdict === 'WARN').map((r) => r.id);
  if (process.env.LIFELINE_MUTANT_DEBUG) for (const r of rs) console.log(r.id, r.verdict, r.message ?? '', r.notes.join('; '));
  const notJudged = rs.filter((r) => r.verdict === 'ERROR').length;
  return { id: m.id, rule: m.rule, killed: by.length > 0, by, ran: rs.length, notJudged, ms: Math.round(performance.now() - t0) };
}

export async function runMutants(list: readonly Mutant[] = mutants, seed = 1, log: (s: string) => void = console.log): Promise<MutantResult[]> {
  const out: MutantResult[] = [];
  for (const m of list) {
    let r = await runMutant(m, seed);
    // A case that ended in ERROR did not judge the mutant (the runner stalled, say): run it once more
    // rather than report a survivor nobody measured. A FAIL is never rerun: it is a kill.
    if (!r.killed && r.notJudged > 0) r = await runMutant(m, seed + 1);
    out.push(r);
    log(`${r.killed ? 'killed ' : 'SURVIVED'} ${m.side.padEnd(6)} ${m.id.padEnd(36)} ${m.rule.padEnd(6)} ${r.killed ? `by ${r.by.join(', ')}` : `(${r.ran} cases ran, none failed${r.notJudged > 0 ? `, ${r.notJudged} not judged (ERROR) twice` : ''})`} ${r.ms} ms`);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const only = process.argv.slice(2);
  const list = only.length ? mutants.filter((m) => only.some((o) => m.id.includes(o))) : mutants;
  const t0 = performance.now();
  const rs = await runMutants(list);
  const k = rs.filter((r) => r.killed).length;
  console.log(`killed ${k}/${rs.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.exitCode = k === rs.length ? 0 : 1;
}
