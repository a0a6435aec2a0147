/**
 * The reference implementations as conformance targets (`conformance self`).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from '../config.js';
import type { Hooks } from '../server-mode/hooks.js';
import { startReferenceServerTarget, type ServerOverride, type ServerPatch } from './reference-server.js';

export interface ServerTarget {
  readonly url: string;
  readonly config: ServerConfig;
  readonly hooks: Hooks;
  stop(): Promise<void>;
}

export async function startReferenceServer(config: ServerConfig, override?: ServerOverride, patch?: ServerPatch): Promise<ServerTarget> {
  return startReferenceServerTarget(config, override, patch);
}

const ADAPTER = fileURLToPath(new URL('../adapters/reference-client.ts', import.meta.url));
let bundled: string | undefined;

/**
 * The command that starts the reference client's adapter (env LIFELINE_CLIENT_MUTANT selects a mutant).
 * Client mode starts one adapter per case: from the TypeScript sources through tsx that took 0.7 s
 * idle and 2.7-3.4 s on the loaded 2-core machine, the same adapter bundled by esbuild (a dev
 * dependency) 0.25 s and 0.7 s. So when esbuild is there, the adapter is bundled once per process
 * into a content-addressed file under the OS temp directory; otherwise it runs through tsx.
 */
export function referenceClientCommand(): string[] {
  // Compiled (the package, issue 17): plain `node` on the compiled adapter, no bundling, no tsx.
  if (import.meta.url.endsWith('.js')) return [process.execPath, fileURLToPath(new URL('../adapters/reference-client.js', import.meta.url))];
  bundled ??= bundleAdapter();
  return bundled ? [process.execPath, bundled] : [process.execPath, '--import', 'tsx', ADAPTER];
}

function bundleAdapter(): string | undefined {
  if (process.env.LIFELINE_CONFORMANCE_NO_BUNDLE) return undefined;
  let esbuild: typeof import('esbuild');
  try {
    esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch {
    return undefined;
  }
  try {
    const out = esbuild.buildSync({
      entryPoints: [ADAPTER],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      write: false,
      logLevel: 'silent',
      // ws requires its optional native helpers inside try/catch; an ESM bundle needs a require for them.
      banner: { js: "import { createRequire as __lifelineRequire } from 'node:module'; const require = __lifelineRequire(import.meta.url);" },
    });
    const text = out.outputFiles[0]?.text;
    if (!text) return undefined;
    const dir = join(tmpdir(), 'lifeline-conformance');
    const file = join(dir, `reference-client-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file); // atomic: two processes bundling at once write the same bytes
    }
    return file;
  } catch {
    return undefined;
  }
}
