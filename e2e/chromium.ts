/**
 * Debian's Chromium driven by playwright-core, as every browser e2e test launches it (STACK-NOTES:
 * never `npx playwright install`; the system binary with these flags runs headless in CI).
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser is installed (scripts/install-system-deps.sh installs it); tests skip without it. */
export const hasChromium = existsSync(CHROMIUM);

/** Warn once per test file that skips for want of the browser. */
export function warnIfNoChromium(file: string): void {
  if (!hasChromium) console.warn(`${file} skipped: ${CHROMIUM} missing (scripts/install-system-deps.sh installs it)`);
}

/** A headless Chromium with its own profile directory. */
export function launchChromium(profileDir: string, viewport?: { readonly width: number; readonly height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    ...(viewport && { viewport }),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
