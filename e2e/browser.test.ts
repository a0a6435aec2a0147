/**
 * The demo page in headless Chromium (Debian's chromium, driven by playwright-core): it connects,
 * shows the live demo channels, and survives a server restart. With the in-memory session store a
 * restart loses the session, so the page's resume attempt is answered NEW / UNKNOWN_SESSION (RS-6)
 * and the state comes back by Snapshot.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { hasChromium, launchChromium, warnIfNoChromium } from './chromium.js';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createDemoApp, type DemoApp } from '../demo/app.js';
import { TICKER_CHANNEL } from '../demo/demo-state.js';
import { buildBrowser } from '../scripts/build-browser.js';
import { createServer, staticHandler, type LifelineServer } from '../server/index.js';
import { port, sleep } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
warnIfNoChromium('e2e/browser.test.ts');

let outDir = '';
let profileDir = '';
let context: BrowserContext | undefined;
const servers: LifelineServer[] = [];

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'lifeline-bundle-'));
  profileDir = await mkdtemp(join(tmpdir(), 'lifeline-chromium-'));
}, 60_000);

afterAll(async () => {
  await context?.close();
  await Promise.all(servers.map((s) => s.close()));
  await rm(outDir, { recursive: true, force: true });
  await rm(profileDir, { recursive: true, force: true });
}, 60_000);

async function startServer(demo: DemoApp, onPort = 0): Promise<LifelineServer> {
  const srv = createServer({
    ...demo.hooks,
    heartbeatIntervalMs: 200,
    onRequest: staticHandler([
      { prefix: '/dist/browser/', dir: outDir },
      { prefix: '/', dir: `${root}demo/public` },
    ]),
  });
  servers.push(srv);
  for (let i = 0; ; i++) {
    try {
      await srv.listen(onPort, '127.0.0.1');
      break;
    } catch (err) {
      if (i > 50 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      await sleep(20);
    }
  }
  demo.start(srv);
  return srv;
}

const text = (page: Page, sel: string) => page.locator(sel).textContent();
const wait = { timeout: 20_000, interval: 50 };

/** The ticker as the page shows it. */
async function shownTicker(page: Page): Promise<Record<string, string>> {
  const rows = await page.locator('#ticker tr').evaluateAll((trs) => trs.map((tr) => [tr.children[0]?.textContent ?? '', tr.children[1]?.textContent ?? '']));
  return Object.fromEntries(rows);
}

describe.skipIf(!hasChromium)('e2e: demo page in headless Chromium', () => {
  test('RS-6 RC-10 SD-1 SD-3 SD-4 HB-9 the page connects, shows live state, and survives a server restart', async () => {
    const built = await buildBrowser(outDir);
    expect(built.bytes['lifeline-client.js']).toBeGreaterThan(10_000);
    const demo = createDemoApp({ tickMs: 100 });
    let srv = await startServer(demo);
    const p = port(srv);

    context = await launchChromium(profileDir);
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${p}/?reconnectBaseMs=100&reconnectCapMs=500`);

    // Connects, and shows the state of both channels.
    await vi.waitFor(async () => expect(await text(page, '#state')).toBe('connected'), wait);
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe(String(demo.counter.value)), wait);
    await vi.waitFor(async () => expect(Object.keys(await shownTicker(page))).toHaveLength(5), wait);
    expect(await page.locator('#resume').getAttribute('data-outcome')).toBe('new');

    // Live: ticker patches keep arriving (SD-1, digests checked SD-3).
    const v0 = Number(await text(page, '#ticker-version'));
    await vi.waitFor(async () => expect(Number(await text(page, '#ticker-version'))).toBeGreaterThan(v0 + 2), wait);

    // The button sends {"op":"increment"} on demo.counter; the patch comes back.
    for (let i = 0; i < 3; i++) await page.click('#increment');
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe('3'), wait);
    await vi.waitFor(async () => expect(await text(page, '#send-status')).toBe('acknowledged'), wait);
    const firstSession = await text(page, '#session');

    // Restart: the process goes away, a new one listens on the same port.
    demo.stop();
    await srv.close();
    await vi.waitFor(async () => expect(await text(page, '#state')).not.toBe('connected'), wait);
    srv = await startServer(demo, p);

    await vi.waitFor(async () => expect(await text(page, '#state')).toBe('connected'), wait);
    // RC-10: the page tried to resume; the new process does not know the session (RS-6).
    await vi.waitFor(async () => expect(await page.locator('#resume').getAttribute('data-reason')).toBe('UNKNOWN_SESSION'), wait);
    expect(await page.locator('#resume').getAttribute('data-outcome')).toBe('new');
    expect(await text(page, '#session')).not.toBe(firstSession);

    // Correct state again (SD-4: Snapshots), and still live.
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe('3'), wait);
    await page.click('#increment');
    await vi.waitFor(async () => expect(await text(page, '#counter-value')).toBe('4'), wait);
    demo.stop(); // freeze the ticker to compare it exactly
    await vi.waitFor(async () => {
      expect(await text(page, '#ticker-version')).toBe(String(demo.versions[TICKER_CHANNEL]));
      const want = Object.fromEntries(Object.entries(demo.ticker).map(([k, v]) => [k, v.toFixed(2)]));
      expect(await shownTicker(page)).toEqual(want);
    }, wait);
    await vi.waitFor(async () => expect(await text(page, '#rtt')).toMatch(/^\d+\.\d ms$/), wait); // HB-9
    expect(pageErrors).toEqual([]);
    if (process.env.LIFELINE_SCREENSHOT) await page.screenshot({ path: process.env.LIFELINE_SCREENSHOT });
    const rtt = await text(page, '#rtt');
    console.log(`browser: bundle ${(built.bytes['lifeline-client.js'] ?? 0) / 1024 | 0} KiB; RTT shown ${rtt}`);
  }, 90_000);
});
