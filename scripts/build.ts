/**
 * `npm run build` (and `prepack`): the package in dist/, run with plain `node`, nothing compiled at
 * run time (issue 17).
 *
 * - tsc -p tsconfig.build.json: ESM JavaScript, `.d.ts` and source maps of the public entry points
 *   and what they import (no tests, bench, e2e, testkit or scripts).
 * - The files the compiled code reads beside itself: the conformance vectors and the spec (the
 *   suite's coverage is computed from spec/lifeline.md).
 * - The browser bundles (scripts/build-browser.ts) in dist/browser/, whose sizes are printed.
 * - dist/bin/lifeline.js made executable (its shebang is `#!/usr/bin/env node`).
 */
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildBrowser } from './build-browser.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

/** Files the compiled modules read at run time, relative to their own URL. */
async function copyRuntimeFiles(): Promise<number> {
  const vectors = join(root, 'conformance', 'vectors');
  const json = (await readdir(vectors)).filter((f) => f.endsWith('.json'));
  await mkdir(join(dist, 'conformance', 'vectors'), { recursive: true });
  for (const f of json) await cp(join(vectors, f), join(dist, 'conformance', 'vectors', f));
  await mkdir(join(dist, 'spec'), { recursive: true });
  await cp(join(root, 'spec', 'lifeline.md'), join(dist, 'spec', 'lifeline.md'));
  return json.length + 1;
}

function compile(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`);
}

export async function build(): Promise<void> {
  const t0 = performance.now();
  await rm(dist, { recursive: true, force: true });
  compile();
  const copied = await copyRuntimeFiles();
  await chmod(join(dist, 'bin', 'lifeline.js'), 0o755);
  const browser = await buildBrowser(join(dist, 'browser'));
  const sizes: string[] = [];
  for (const [f, b] of Object.entries(browser.bytes)) {
    const gz = gzipSync(await readFile(join(browser.outDir, f))).length;
    sizes.push(`${f} ${(b / 1024).toFixed(1)} KiB (gzip ${(gz / 1024).toFixed(1)} KiB)`);
  }
  console.log(`dist/: compiled with tsc, ${copied} runtime files copied; browser bundles: ${sizes.join(', ')} (minified); ${(performance.now() - t0).toFixed(0)} ms`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
