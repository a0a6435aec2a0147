/**
 * The verdict of one multi-node e2e scenario, per client (issue 14, deliverable 7):
 *
 * - server → client: seqs gap-free (each the previous + 1, RS-2 across nodes), the publisher's
 *   numbers duplicate-free and in order, every accepted number received, no `dropped_before`;
 * - client → server: every number the client sent reached the application (on either node) once;
 *   more than once only where the scenario allows it (a SIGKILL's un-acked tail, spec §21), counted;
 * - every Welcome states its outcome and reason; where the scenario requires it, every Welcome after
 *   the first says RESUMED;
 * - time to resume: from a close to the next Welcome.
 */
import type { AppRecord } from './cluster.js';
import type { Fleet, FleetClient } from './fleet.js';
import type { Publisher } from './publisher.js';

export interface VerdictOptions {
  readonly scenario: string;
  /** Every Welcome after a client's first must be RESUMED (drain, Redis restart). */
  readonly mustResume: boolean;
  /** Per client, the own numbers sent and not acknowledged when the node died: the only ones that may reach the application twice. */
  readonly unackedAtKill?: ReadonlyMap<number, ReadonlySet<number>>;
}

export interface SummaryRow {
  readonly scenario: string;
  readonly clients: number;
  /** Clients that reconnected at least once (moved to the other node, or reattached). */
  readonly reconnected: number;
  readonly c2sSent: number;
  readonly c2sLost: number;
  readonly c2sDuplicated: number;
  /** The duplicates' bound: own messages un-acked at the kill (undefined: 0 allowed). */
  readonly c2sDuplicateBound: number | undefined;
  readonly published: number;
  readonly publishAccepted: number;
  readonly publishRejected: number;
  readonly s2cDelivered: number;
  readonly s2cLost: number;
  readonly s2cDuplicated: number;
  readonly outcomes: Record<string, number>;
  readonly resumeMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly n: number };
}

export interface Verdict {
  readonly row: SummaryRow;
  /** One line per client problem; empty when the scenario passed. */
  readonly failures: string[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function checkClient(c: FleetClient, publisher: Publisher, app: AppRecord, o: VerdictOptions, tally: { c2sLost: number; c2sDup: number; s2cLost: number; s2cDup: number; delivered: number }, failures: string[]): void {
  const who = `c${c.index}`;
  // server → client: seqs
  for (let i = 1; i < c.seqs.length; i++) {
    const prev = c.seqs[i - 1] as bigint;
    const cur = c.seqs[i] as bigint;
    if (cur !== prev + 1n) {
      failures.push(`${who}: seq ${prev} then ${cur} (gap or restart)`);
      break;
    }
  }
  // server → client: the publisher's numbers
  const seen = new Set<number>();
  let last = 0;
  for (const n of c.feed) {
    if (seen.has(n)) {
      tally.s2cDup++;
      failures.push(`${who}: publication ${n} received twice`);
    } else if (n < last) failures.push(`${who}: publication ${n} after ${last} (order)`);
    seen.add(n);
    last = Math.max(last, n);
  }
  tally.delivered += c.feed.length;
  const missing = [...publisher.accepted].filter((n) => !seen.has(n));
  if (missing.length > 0) {
    tally.s2cLost += missing.length;
    failures.push(`${who}: ${missing.length} accepted publications never received (${missing.slice(0, 8).join(',')}${missing.length > 8 ? ',…' : ''})`);
  }
  if (c.droppedBefore.length > 0) failures.push(`${who}: dropped_before ${c.droppedBefore.join(',')} (continuity lost)`);
  if (c.drifts.length > 0) failures.push(`${who}: drift ${c.drifts.join(',')}`);
  // client → server
  const allowed = o.unackedAtKill?.get(c.index);
  for (let n = 1; n <= c.sent; n++) {
    const k = app.count(c.index, n);
    if (k === 0) {
      tally.c2sLost++;
      failures.push(`${who}: own message ${n} never reached the application${c.acked.has(n) ? ' although acked' : ''}`);
    } else if (k > 1) {
      tally.c2sDup += k - 1;
      if (!allowed?.has(n)) failures.push(`${who}: own message ${n} reached the application ${k} times${allowed ? ' (it was acked before the kill)' : ''}`);
    }
  }
  for (const [n, why] of c.failed) failures.push(`${who}: send ${n} failed: ${why}`);
  // Welcomes
  c.welcomes.forEach((w, i) => {
    if (!w.outcome || !w.reason) failures.push(`${who}: Welcome ${i} states no outcome or reason`);
    if (i === 0 && w.outcome !== 'new') failures.push(`${who}: first Welcome ${w.outcome}/${w.reason}`);
    if (i > 0 && o.mustResume && w.outcome !== 'resumed') failures.push(`${who}: Welcome ${i} ${w.outcome}/${w.reason} (RESUMED expected)`);
  });
}

export function verdict(fleet: Fleet, publisher: Publisher, app: AppRecord, o: VerdictOptions): Verdict {
  const failures: string[] = [];
  const tally = { c2sLost: 0, c2sDup: 0, s2cLost: 0, s2cDup: 0, delivered: 0 };
  const outcomes: Record<string, number> = {};
  const resume: number[] = [];
  let sent = 0;
  let reconnected = 0;
  for (const c of fleet.clients) {
    checkClient(c, publisher, app, o, tally, failures);
    sent += c.sent;
    if (c.welcomes.length > 1) reconnected++;
    c.welcomes.slice(1).forEach((w) => {
      const k = `${w.outcome.toUpperCase()}/${w.reason}`;
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    });
    resume.push(...c.resumeTimes());
  }
  if (app.malformed.length > 0) failures.push(`application records not from the fleet: ${app.malformed.slice(0, 5).join(' ')}`);
  resume.sort((a, b) => a - b);
  const bound = o.unackedAtKill ? [...o.unackedAtKill.values()].reduce((s, x) => s + x.size, 0) : undefined;
  return {
    failures,
    row: {
      scenario: o.scenario,
      clients: fleet.clients.length,
      reconnected,
      c2sSent: sent,
      c2sLost: tally.c2sLost,
      c2sDuplicated: tally.c2sDup,
      c2sDuplicateBound: bound,
      published: publisher.published,
      publishAccepted: publisher.accepted.size,
      publishRejected: publisher.rejected.size,
      s2cDelivered: tally.delivered,
      s2cLost: tally.s2cLost,
      s2cDuplicated: tally.s2cDup,
      outcomes,
      resumeMs: { p50: percentile(resume, 50), p99: percentile(resume, 99), max: resume.at(-1) ?? Number.NaN, n: resume.length },
    },
  };
}

/** The table the lead copies into the issue note. */
export function summaryTable(rows: readonly SummaryRow[]): string {
  const head = ['scenario', 'clients', 'moved', 'c→s sent', 'c→s lost', 'c→s dup (bound)', 'published (rejected)', 's→c delivered', 's→c lost', 's→c dup', 'Welcome outcomes after the first', 'resume p50/p99/max ms'];
  const ms = (x: number) => (Number.isNaN(x) ? '-' : String(Math.round(x)));
  const body = rows.map((r) => [
    r.scenario,
    String(r.clients),
    String(r.reconnected),
    String(r.c2sSent),
    String(r.c2sLost),
    `${r.c2sDuplicated}${r.c2sDuplicateBound === undefined ? '' : ` (≤ ${r.c2sDuplicateBound})`}`,
    `${r.publishAccepted} (${r.publishRejected})`,
    String(r.s2cDelivered),
    String(r.s2cLost),
    String(r.s2cDuplicated),
    Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || 'none',
    r.resumeMs.n === 0 ? '-' : `${ms(r.resumeMs.p50)} / ${ms(r.resumeMs.p99)} / ${ms(r.resumeMs.max)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
