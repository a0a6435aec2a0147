/**
 * Browser bundles (npm run build:browser): the reference client as one ESM file,
 * dist/browser/lifeline-client.js, and the demo page's script, dist/browser/demo.js, which imports
 * the client bundle at run time rather than carrying a second copy of it.
 */
import { build, type Plugin } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The demo imports client/browser.js; at run time that is the sibling client bundle. */
const clientAsSibling: Plugin = {
  name: 'client-as-sibling',
  setup(b) {
    b.onResolve({ filter: /client\/browser(\.js|\.ts)?$/ }, () => ({ path: './lifeline-client.js', external: true }));
  },
};

export interface BuildResult {
  readonly outDir: string;
  readonly bytes: Record<string, number>;
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
  const client = await build({ ...common, entryPoints: { 'lifeline-client': 'client/browser.ts' }, outdir: outDir });
  const demo = await build({ ...common, entryPoints: { demo: 'demo/page.ts' }, outdir: outDir, plugins: [clientAsSibling] });
  const bytes: Record<string, number> = {};
  for (const r of [client, demo]) {
    for (const [file, out] of Object.entries(r.metafile?.outputs ?? {})) if (file.endsWith('.js')) bytes[file.replace(/^.*\//, '')] = out.bytes;
  }
  return { outDir, bytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildBrowser().then(
    (r) => console.log(`browser bundles in ${r.outDir}: ${Object.entries(r.bytes).map(([f, b]) => `${f} ${(b / 1024).toFixed(1)} KiB`).join(', ')}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
