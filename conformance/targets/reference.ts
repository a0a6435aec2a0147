/**
 * The reference implementations as conformance targets (`conformance self`).
 */
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

/**
 * The command that starts the reference client's adapter (env LIFELINE_CLIENT_MUTANT selects a
 * mutant): plain `node` on the compiled adapter when this module is compiled (the package, issue 17),
 * `node --import tsx` on the source in a clone.
 */
export function referenceClientCommand(): string[] {
  if (import.meta.url.endsWith('.js')) return [process.execPath, fileURLToPath(new URL('../adapters/reference-client.js', import.meta.url))];
  return [process.execPath, '--import', 'tsx', fileURLToPath(new URL('../adapters/reference-client.ts', import.meta.url))];
}
