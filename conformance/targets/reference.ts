/**
 * The reference implementations as conformance targets (`conformance self`).
 * Filled in as server/ and client/ land.
 */
import type { ServerConfig } from '../config.js';
import type { Hooks } from '../server-mode/hooks.js';

export interface ServerTarget {
  readonly url: string;
  readonly config: ServerConfig;
  readonly hooks: Hooks;
  stop(): Promise<void>;
}

export async function startReferenceServer(_config: ServerConfig): Promise<ServerTarget> {
  throw new Error('the reference server target is not wired yet');
}

export function referenceClientCommand(): string[] {
  return [process.execPath, '--import', 'tsx', new URL('../adapters/reference-client.ts', import.meta.url).pathname];
}
