/**
 * Browser bundles (npm run build:browser), in dist/browser/:
 *
 * - lifeline-client.js: the reference client as one ESM file, for applications.
 * - demo.js: the demo page's script. It bundles the client together with the client connection
 *   machine, because the page draws its live state chart from that machine (issue 8): one copy of
 *   XState and of the machine, shared by the client and the chart.
 * - vendor/mermaid/: Mermaid's own prebuilt ESM (mermaid.esm.min.mjs and the chunks it loads on
 *   demand), copied from node_modules so the page renders the chart offline, nothing from a CDN.
 *   demo.js imports it at run time; bundling it again would only re-minify 3.6 MB.
 */
import { build } from 'esbuild';
import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BuildResult {
  readonly outDir: string;
  readonly bytes: Record<string, number>;
  /** Files copied into vendor/mermaid/. */
  readonly mermaidFiles: number;
}

/** node_modules/mermaid/dist, found the way Node resolves the package. */
function mermaidDist(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mermaid/package.json')), 'dist');
}

/** Copy Mermaid's ESM entry and its chunks (no source maps: 13 MB the page never needs). */
async function copyMermaid(outDir: string): Promise<number> {
  const from = mermaidDist();
  const to = join(outDir, 'vendor', 'mermaid');
  await rm(to, { recursive: true, force: true });
  await mkdir(join(to, 'chunks'), { recursive: true });
  await cp(join(from, 'mermaid.esm.min.mjs'), join(to, 'mermaid.esm.min.mjs'));
  await cp(join(from, 'chunks', 'mermaid.esm.min'), join(to, 'chunks', 'mermaid.esm.min'), {
    recursive: true,
    filter: (src) => !src.endsWith('.map'),
  });
  return 1 + (await readdir(join(to, 'chunks', 'mermaid.esm.min'))).length;
}

export async function buildBrowser(outDir = `${root}dist/browser`): Promise<BuildResult> {
  const common = {
    bundle: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: ['es2022'],
    sourcemap: true,
    minify: true,
    metafile: true,
    logLevel: 'warning' as const,
    absWorkingDir: root,
  };
  const [client, demo, mermaidFiles] = await Promise.all([
    // The package ships this bundle (exports ./client, browser condition): its map gives positions
    // without a copy of every source, which would be 5× the bundle (issue 17).
    build({ ...common, sourcesContent: false, entryPoints: { 'lifeline-client': 'client/browser.ts' }, outdir: outDir }),
    build({ ...common, entryPoints: { demo: 'demo/page.ts' }, outdir: outDir }),
    copyMermaid(outDir),
  ]);
  const bytes: Record<string, number> = {};
  for (const r of [client, demo]) {
    for (const [file, out] of Object.entries(r.metafile?.outputs ?? {})) if (file.endsWith('.js')) bytes[file.replace(/^.*\//, '')] = out.bytes;
  }
  return { outDir, bytes, mermaidFiles };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildBrowser().then(
    (r) =>
      console.log(
        `browser bundles in ${r.outDir}: ${Object.entries(r.bytes).map(([f, b]) => `${f} ${(b / 1024).toFixed(1)} KiB`).join(', ')}; Mermaid (${r.mermaidFiles} files) in vendor/mermaid`,
      ),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
