/**
 * Behind a proxy that blocks WebSockets (issue 15 deliverable 5): the demo page in headless
 * Chromium, loaded through nginx whose location does not forward the Upgrade header (the server
 * sees a plain GET and answers 426, HS-1; the browser reports a socket that closed 1006 before it
 * opened). The page falls back to the HTTP carrier (§22) after `httpFallbackAfter` such attempts,
 * shows `http`, receives live state patches and messages and gets its own message acknowledged;
 * the server drains and the page resumes the session (RESUMED) over HTTP without losing anything.
 * Then the administrator reloads nginx to allow upgrades: the client's WebSocket probe (every
 * `wsRetryMs`, doubling per failed probe) opens, the session moves back to ws by a normal resume,
 * and the page shows `ws`, with the messages published all along the switch delivered exactly
 * once, in order, and no seq gap (the page's gap counter, RS-10, SD-2).
 *
 * A second, shorter case forces nginx to buffer responses (X-Accel-Buffering ignored, HTTP/1.0
 * upstream): the client sees no KEEPALIVE within `httpBufferingDetectMs` and receives by polling.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { hasChromium, launchChromium, warnIfNoChromium } from './chromium.js';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createDemoApp, type DemoApp } from '../demo/app.js';
import { buildBrowser } from '../scripts/build-browser.js';
import { createServer, staticHandler, type LifelineServer } from '../server/index.js';
import { hasNginx, Nginx, type NginxRoute } from '../testkit/nginx.js';
import { port } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Screenshots of the page over each carrier (gitignored, as e2e/demo-page.test.ts's). */
const shots = join(root, 'test-results');
warnIfNoChromium('e2e/http-fallback.test.ts');
if (!hasNginx()) console.warn('e2e/http-fallback.test.ts skipped: /usr/sbin/nginx missing (scripts/install-system-deps.sh installs it)');

const HEARTBEAT_INTERVAL_MS = 300;
/**
 * Behind a buffering proxy the first Welcome waits for the client's buffering detection (HT-8),
 * while the server's dead-peer clock (interval × (missed + 1), HB-7) already runs: the detection
 * must be well inside it. The other case keeps the client's default (1500 ms), so a busy machine
 * never mistakes a slow first KEEPALIVE for a buffering proxy there.
 */
const BUFFERED = { heartbeatIntervalMs: 1_000, httpBufferingDetectMs: 500 } as const;
/** Test-sized client settings (§22.7), given to the page through its query (demo/page-options.ts). */
const HTTP_FALLBACK_AFTER = 2;
const WS_RETRY_MS = 1_000;
/** Test-sized carrier limits (§22.3): a stream ends and is re-requested a few times per case. */
const HTTP_STREAM_MAX_MS = 2_000;
const HTTP_POLL_HOLD_MS = 1_000;
/** A busy machine: rendering, nginx and the server share 2 cores with other tests. */
const ALLOWANCE_MS = 5_000;
const PUBLISH_EVERY_MS = 40;
const E2E_CHANNEL = 'e2e';

let outDir = '';
let profileDir = '';
let context: BrowserContext | undefined;
let srv: LifelineServer | undefined;
let demo: DemoApp | undefined;
let nginx: Nginx | undefined;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'lifeline-http-bundle-'));
  profileDir = await mkdtemp(join(tmpdir(), 'lifeline-http-chromium-'));
  await mkdir(shots, { recursive: true });
  if (hasChromium && hasNginx()) await buildBrowser(outDir);
}, 60_000);

/** The page's event log, newest first: printed when a case fails, to say what the page was doing. */
let pageLog: (() => Promise<string>) | undefined;

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail' && pageLog) console.log(`page log (newest first):\n${await pageLog().catch((e: unknown) => String(e))}`);
  pageLog = undefined;
  await context?.close();
  context = undefined;
  demo?.stop();
  await srv?.close();
  await nginx?.close();
  srv = demo = nginx = undefined;
}, 30_000);

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
  await rm(profileDir, { recursive: true, force: true });
}, 30_000);

const wait = { timeout: 20_000, interval: 50 };
const text = async (page: Page, sel: string) => (await page.locator(sel).textContent()) ?? '';
const attr = async (page: Page, sel: string, name: string) => (await page.locator(sel).getAttribute(name)) ?? '';

/** The demo server behind nginx; every request reaches it from nginx's address. */
interface Started {
  readonly page: Page;
  readonly pageErrors: string[];
  readonly startedAt: number;
  /** The carrier's receive requests the page made, by `Lifeline-Receive` mode (HT-7, HT-8). */
  readonly receives: { stream: number; poll: number };
}

async function start(route: Omit<NginxRoute, 'prefix' | 'upstreamPort'>, o: { heartbeatIntervalMs?: number; httpBufferingDetectMs?: number } = {}): Promise<Started> {
  demo = createDemoApp({ tickMs: 50 });
  srv = createServer({
    ...demo.hooks,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS,
    heartbeatMissedMax: 2,
    handshakeTimeoutMs: 2_000,
    upgradeRatePerSecond: Number.POSITIVE_INFINITY,
    httpStreamMaxMs: HTTP_STREAM_MAX_MS,
    httpPollHoldMs: HTTP_POLL_HOLD_MS,
    onRequest: staticHandler([
      { prefix: '/dist/browser/', dir: outDir },
      { prefix: '/', dir: `${root}demo/public` },
    ]),
  });
  await srv.listen(0, '127.0.0.1');
  demo.start(srv); // mounts /demo/drain
  // proxy_read_timeout above every hold of the carrier: nginx never cuts a receive itself.
  nginx = await Nginx.start({ proxyTimeoutS: 10, routes: [{ prefix: '/', upstreamPort: port(srv), ...route }] });
  context = await launchChromium(profileDir);
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const receives = { stream: 0, poll: 0 };
  page.on('request', (r) => {
    const mode = r.headers()['lifeline-receive'];
    if (mode === 'stream' || mode === 'poll') receives[mode]++;
  });
  pageLog = async () => (await page.locator('#log li').allTextContents()).join('\n');
  const q = new URLSearchParams({
    reconnectBaseMs: '100',
    reconnectCapMs: '500',
    httpFallbackAfter: String(HTTP_FALLBACK_AFTER),
    wsRetryMs: String(WS_RETRY_MS),
    ...(o.httpBufferingDetectMs !== undefined && { httpBufferingDetectMs: String(o.httpBufferingDetectMs) }),
    drainDeadlineMs: '2000',
    drainSpreadMs: '300',
  });
  const startedAt = performance.now();
  await page.goto(nginx.httpUrl('/', `?${q}`));
  return { page, pageErrors, startedAt, receives };
}

/** What the page's client delivered on the e2e channel, recorded in the page from now on. */
async function recordMessages(page: Page): Promise<void> {
  await page.evaluate(async (channel) => {
    const w = globalThis as unknown as {
      lifeline: { on(t: 'message', fn: (m: { channel: string; seq: bigint; messageId: string }) => void): void; subscribe(c: string): Promise<void> };
      e2eMessages: { seq: string; id: string }[];
    };
    w.e2eMessages = [];
    w.lifeline.on('message', (m) => {
      if (m.channel === channel) w.e2eMessages.push({ seq: String(m.seq), id: m.messageId });
    });
    await w.lifeline.subscribe(channel);
  }, E2E_CHANNEL);
}

const received = (page: Page) => page.evaluate(() => (globalThis as unknown as { e2eMessages: { seq: string; id: string }[] }).e2eMessages);

/** Publishes M1, M2, … on the e2e channel every PUBLISH_EVERY_MS until stopped; returns the ids published. */
function publisher(server: LifelineServer): { stop(): Promise<string[]> } {
  const ids: string[] = [];
  let n = 0;
  let pending = Promise.resolve();
  const timer = setInterval(() => {
    const id = `M${++n}`;
    ids.push(id);
    pending = pending.then(async () => void (await server.publish(E2E_CHANNEL, { payload: new TextEncoder().encode(id), messageId: id })));
  }, PUBLISH_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      return ids;
    },
  };
}

/** Delivered exactly once, in order, with increasing seqs: nothing lost or duplicated. */
async function expectAllOnce(page: Page, ids: readonly string[]): Promise<void> {
  await vi.waitFor(async () => expect((await received(page)).map((m) => m.id)).toEqual(ids), wait);
  const seqs = (await received(page)).map((m) => BigInt(m.seq));
  for (let i = 1; i < seqs.length; i++) expect(seqs[i] ?? 0n).toBeGreaterThan(seqs[i - 1] ?? 0n);
  expect(await attr(page, '#gaps', 'data-gaps')).toBe('0');
}

async function expectLive(page: Page): Promise<void> {
  const v0 = Number(await text(page, '#ticker-version'));
  await vi.waitFor(async () => expect(Number(await text(page, '#ticker-version'))).toBeGreaterThan(v0 + 3), wait);
}

describe.skipIf(!hasChromium || !hasNginx())('e2e: the demo page behind a proxy that blocks WebSockets', () => {
  test('HT-21 HT-23 HT-25 HT-18 RS-2 DR-6 SD-1 falls back to HTTP, stays live through a drain, and moves back to ws when upgrades pass again', async () => {
    const { page, pageErrors, startedAt: t0, receives } = await start({ upgrades: 'refuse' });

    // 1. Over HTTP: connected, the badge says http, the ws attempts were refused on the way.
    await vi.waitFor(async () => expect(await text(page, '#state')).toBe('connected'), wait);
    await vi.waitFor(async () => expect(await attr(page, '#transport', 'data-transport')).toBe('http'), wait);
    const onHttpAt = performance.now();
    const tHttp = onHttpAt - t0;
    expect(await page.evaluate(() => (globalThis as unknown as { lifeline: { transport: string } }).lifeline.transport)).toBe('http');
    expect(await attr(page, '#resume', 'data-outcome')).toBe('new');
    // What the user reads: the refused attempts explained (the browser itself only reports 1006).
    await vi.waitFor(async () => expect(await text(page, '#log')).toContain('without its Upgrade header, so a proxy on the way blocks WebSockets'), wait);
    expect(await text(page, '#transport-detail')).toMatch(/^HTTP: WebSocket did not open/);
    // Live state patches over the carrier (SD-1), and a message of the page's own, acked (SEQ-9).
    await expectLive(page);
    await recordMessages(page);
    await page.click('#increment');
    await vi.waitFor(async () => expect(await text(page, '#send-status')).toBe('acknowledged'), wait);
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe('1'), wait);
    const session = await text(page, '#session');
    expect(await attr(page, '#transport-switches', 'data-to-http')).toBe('1');
    await page.screenshot({ path: join(shots, 'http-fallback-over-http.png'), fullPage: true });

    // 2. Messages published all along: through a drain (DR-6) and the resume after it (RS-2).
    const pub = publisher(srv as LifelineServer);
    await page.click('#fault-drain');
    await vi.waitFor(async () => expect(await attr(page, '#fault-status', 'data-recovered')).toBe('drain'), wait);
    expect(await attr(page, '#resume', 'data-outcome')).toBe('resumed');
    expect(await text(page, '#log')).toContain('drain notice');
    await vi.waitFor(async () => expect(await attr(page, '#transport', 'data-transport')).toBe('http'), wait);
    expect(await text(page, '#session')).toBe(session);
    await expectLive(page);

    // 3. Upgrades pass again: the next probe opens, and the session moves back to ws by a resume;
    //    the publisher never paused. Probes since the fallback came wsRetryMs, 2×, 4× … apart
    //    (§22.7), so the next one is due within wsRetryMs + 2 × the time spent on HTTP so far.
    const welcomesBefore = await text(page, '#welcomes');
    const tReload = performance.now();
    await (nginx as Nginx).reconfigure([{ prefix: '/', upstreamPort: port(srv as LifelineServer) }]);
    const probeDueMs = WS_RETRY_MS + 2 * (performance.now() - onHttpAt);
    await vi.waitFor(async () => expect(await attr(page, '#transport', 'data-transport')).toBe('ws'), { timeout: probeDueMs + ALLOWANCE_MS, interval: 50 });
    const tBack = performance.now() - tReload;
    expect(await attr(page, '#resume', 'data-outcome')).toBe('resumed');
    expect(await text(page, '#welcomes')).not.toBe(welcomesBefore);
    expect(await attr(page, '#transport-switches', 'data-to-ws')).toBe('1');
    expect(await text(page, '#log')).toContain('transport http → ws');
    expect(await text(page, '#session')).toBe(session);
    await expectLive(page);
    await page.screenshot({ path: join(shots, 'http-fallback-back-on-ws.png'), fullPage: true });
    const ids = await pub.stop();
    expect(ids.length).toBeGreaterThan(20);
    await expectAllOnce(page, ids);
    await page.click('#increment');
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe('2'), wait);
    expect(demo?.counter.value).toBe(2);
    expect(await text(page, '#welcomes')).toMatch(/^1 new · \d+ resumed · 0 snapshot$/);
    // nginx honoured X-Accel-Buffering: the page streamed, re-requesting as each stream ended (HT-8).
    expect(receives.stream).toBeGreaterThan(1);
    expect(receives.poll).toBe(0);
    expect(pageErrors).toEqual([]);
    console.log(`behind a blocking proxy: http ${Math.round(tHttp)} ms after the page was asked for; back on ws ${Math.round(tBack)} ms after nginx allowed upgrades; ${ids.length} messages, none lost or duplicated; total ${Math.round(performance.now() - t0)} ms`);
  }, 60_000);

  test('HT-8 HT-27 with buffering forced by the proxy the page receives by polling, live', async () => {
    const { page, pageErrors, receives } = await start({ upgrades: 'refuse', buffering: 'forced' }, BUFFERED);
    await vi.waitFor(async () => expect(await attr(page, '#transport', 'data-transport')).toBe('http'), wait);
    await vi.waitFor(async () => expect(await text(page, '#state')).toBe('connected'), wait);
    await expectLive(page);
    await recordMessages(page);
    const pub = publisher(srv as LifelineServer);
    await page.click('#increment');
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe('1'), wait);
    await vi.waitFor(async () => expect((await received(page)).length).toBeGreaterThan(10), wait);
    await expectAllOnce(page, await pub.stop());
    // Each connection tried one stream, saw no KEEPALIVE in time, and polled from then on (HT-8).
    expect(receives.poll).toBeGreaterThan(receives.stream);
    expect(await text(page, '#welcomes')).toMatch(/^1 new · 0 resumed · 0 snapshot$/); // one HTTP connection did it all
    expect(pageErrors).toEqual([]);
    console.log(`behind a buffering proxy: ${receives.stream} stream and ${receives.poll} poll receive requests`);
  }, 40_000);
});
