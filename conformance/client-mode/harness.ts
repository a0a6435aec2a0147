/**
 * Client mode harness: per case a fresh fake server and a fresh client
 * process started with its URL; both stopped after the case.
 */
import type { ClientConfig } from '../config.js';
import type { ModeHarness } from '../framework/runner.js';
import type { CaseContext } from '../framework/types.js';
import { clientEnv, ClientProcess } from './control.js';
import { FakeServer } from './fake-server.js';

export interface ClientCaseContext extends CaseContext {
  readonly client: ClientConfig;
  readonly server: FakeServer;
  /** Start the client under test (once per case) and tell it to connect unless told not to. */
  start(opts?: { connect?: boolean }): Promise<ClientProcess>;
}

export function clientHarness(command: readonly string[], client: ClientConfig, extraEnv: Readonly<Record<string, string>> = {}): ModeHarness {
  return {
    mode: 'client',
    async extend(base: CaseContext): Promise<ClientCaseContext> {
      const server = await FakeServer.start(base.transcript);
      base.defer(() => server.stop());
      return {
        ...base,
        client,
        server,
        async start(opts = {}) {
          const p = await ClientProcess.start(command, { ...clientEnv(server.url, client), ...extraEnv }, base.transcript);
          base.defer(() => p.stop());
          if (opts.connect ?? true) p.command({ cmd: 'connect' });
          return p;
        },
      };
    },
  };
}
