/**
 * The oracle must agree with the spec's prose: the §14.2 registry table, the
 * CC-3 class sentence and the §15.2 backoff table of spec/lifeline.md, parsed
 * here from the Markdown (not from spec/protocol/, which the reference runs).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ceilingMs, closeCodeOracle, expectedAdvice, httpStatusOracle, type Retry, type Sender } from './close-advice.js';

const spec = readFileSync(new URL('../../spec/lifeline.md', import.meta.url), 'utf8');

function section(title: string): string {
  const at = spec.indexOf(title);
  if (at < 0) throw new Error(`spec has no "${title}"`);
  const next = spec.indexOf('\n### ', at + title.length);
  return spec.slice(at, next < 0 ? undefined : next);
}

interface ProseRow {
  code?: number;
  http?: number;
  name: string;
  sender: Sender;
  retry: Retry;
  reset: boolean;
  minDelayMs: number;
}

/** Rows of the §14.2 table: | Code | Name | Sent by | Retry advice | Reset session | Min delay (ms) | Rule | When | */
function registryRows(): ProseRow[] {
  const rows: ProseRow[] = [];
  for (const line of section('### 14.2 The registry').split('\n')) {
    const m = /^\| (HTTP )?(\d+) \| `([A-Z0-9_]+)` \| ([a-z-]+) \| ([a-z-]+) \| (yes|no) \| (\d+) \|/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    rows.push({ ...(m[1] ? { http: n } : { code: n }), name: m[3] as string, sender: m[4] as Sender, retry: m[5] as Retry, reset: m[6] === 'yes', minDelayMs: Number(m[7]) });
  }
  return rows;
}

describe('the conformance oracle agrees with the spec prose (issue 18)', () => {
  test('CC-2 every row of the §14.2 registry table has the same advice in the oracle, and the oracle has no extra row', () => {
    const rows = registryRows();
    expect(rows.length).toBeGreaterThan(30);
    for (const r of rows) {
      const o = r.code !== undefined ? closeCodeOracle.get(r.code) : httpStatusOracle.get(r.http as number);
      expect(o, `${r.code ?? `HTTP ${r.http}`} ${r.name}`).toBeDefined();
      expect({ name: o?.name, sender: o?.sender, retry: o?.retry, reset: o?.resetSession, minDelayMs: o?.minDelayMs }, `${r.code ?? r.http}`).toEqual({
        name: r.name,
        sender: r.sender,
        retry: r.retry,
        reset: r.reset,
        minDelayMs: r.minDelayMs,
      });
    }
    expect(closeCodeOracle.size).toBe(rows.filter((r) => r.code !== undefined).length);
    expect(httpStatusOracle.size).toBe(rows.filter((r) => r.http !== undefined).length);
  });

  test('CC-3 unregistered codes take the class advice the prose names', () => {
    const cc3 = /\*\*CC-3\*\*[^\n]*\n?[^\n]*/.exec(spec)?.[0] ?? '';
    const classes = [...cc3.matchAll(/(\d{4})–(\d{4}) ([a-z-]+)/g)].map((m) => ({ from: Number(m[1]), to: Number(m[2]), retry: m[3] as Retry }));
    expect(classes.length).toBe(4);
    expect(cc3).toMatch(/anything else backoff/);
    for (const c of classes) {
      const probe = c.from + 50; // 4050, 4150, 4250, 4350: none registered
      expect(closeCodeOracle.has(probe)).toBe(false);
      expect(expectedAdvice(probe).retry, `${probe}`).toBe(c.retry);
    }
    expect(expectedAdvice(4450).retry).toBe('backoff');
    expect(expectedAdvice(3001).retry).toBe('backoff');
    // "A reset is implied only for 4000–4099" (of unregistered codes)
    expect(expectedAdvice(4050).resetSession).toBe(true);
    for (const c of [4150, 4250, 4350, 4450, 3001]) expect(expectedAdvice(c).resetSession).toBe(false);
  });

  test('CC-4 the codes the prose says are never sent read as backoff', () => {
    const cc4 = /\*\*CC-4\*\* Codes ([\d, and]+) MUST NOT be sent; observed, they mean backoff/.exec(spec);
    expect(cc4).not.toBeNull();
    const codes = (cc4?.[1] ?? '').split(/,| and /).map((s) => Number(s.trim())).filter(Boolean);
    expect(codes).toEqual([1004, 1005, 1006, 1014, 1015]);
    for (const c of codes) expect(expectedAdvice(c)).toMatchObject({ retry: 'backoff', resetSession: false });
  });

  test('RC-2 the §15.2 ceilings (defaults base 1 s, cap 30 s) are min(cap, base × 2ⁿ), n from 0', () => {
    expect(spec).toMatch(/\*\*RC-2\*\* The delay before reconnect attempt n \(n from 0\)/);
    expect(spec).toMatch(/The first delay of a\s+series is n = 0/);
    expect(spec).toMatch(/the delay after\s+the k-th consecutive failure of a series that began with a drop is n = k, and of one that began with\s+`connect\(\)` n = k − 1/);
    const rows = [...section('### 15.2 Backoff').matchAll(/^\| (\d+) \| (\d+) s \|/gm)].map((m) => ({ n: Number(m[1]), ceilingS: Number(m[2]) }));
    expect(rows.length).toBe(8);
    for (const r of rows) expect(ceilingMs(r.n, { reconnectBaseMs: 1000, reconnectCapMs: 30_000 }), `n = ${r.n}`).toBe(r.ceilingS * 1000);
  });
});

describe('client cases use the oracle, not the registry the reference client runs (issue 18)', () => {
  test('no client-mode case imports spec/protocol/close-codes or spec/protocol/backoff', async () => {
    const { readdirSync } = await import('node:fs');
    const dir = new URL('../cases/client/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      expect(text, f).not.toMatch(/spec\/protocol\/(close-codes|backoff)(\.js)?['"]/);
    }
  });
});
