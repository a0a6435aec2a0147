/**
 * Client mode harness: per case a fresh fake server and a fresh client
 * process started with its URL; both stopped after the case. Cases share
 * nothing, so the runner may run several at once.
 */
import type { ClientConfig } from '../config.js';
import { HarnessFatal } from '../framework/failure.js';
import type { ModeHarness } from '../framework/runner.js';
import type { CaseContext } from '../framework/types.js';
import { clientEnv, ClientProcess } from './control.js';
import { FakeServer } from './fake-server.js';

/** How long an adapter may take to report `ready` (a loaded machine starting a TypeScript adapter). */
const START_TIMEOUT_MS = 30_000;
/** After this many starts in a row that timed out, the adapter is taken to be unable to start. */
const SLOW_STARTS_FATAL = 2;

export interface ClientCaseContext extends CaseContext {
  readonly client: ClientConfig;
  readonly server: FakeServer;
  /** Start the client under test (once per case) and tell it to connect unless told not to. */
  start(opts?: { connect?: boolean }): Promise<ClientProcess>;
}

export function clientHarness(command: readonly string[], client: ClientConfig, extraEnv: Readonly<Record<string, string>> = {}): ModeHarness {
  let slowStarts = 0;
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
          // Starting the adapter is not the case's time: its deadline moves by what the start took.
          base.extendDeadline(START_TIMEOUT_MS);
          const t0 = performance.now();
          let p: ClientProcess;
          try {
            p = await ClientProcess.start(command, { ...clientEnv(server.url, client), ...extraEnv }, base.transcript, START_TIMEOUT_MS);
            slowStarts = 0;
          } catch (err) {
            if (!(err instanceof HarnessFatal) && ++slowStarts >= SLOW_STARTS_FATAL) {
              throw new HarnessFatal(`the client adapter did not report ready within ${START_TIMEOUT_MS} ms ${slowStarts} times in a row: ${err instanceof Error ? err.message : String(err)}`);
            }
            throw err;
          } finally {
            base.extendDeadline(-(START_TIMEOUT_MS - (performance.now() - t0)));
          }
          base.defer(() => p.stop());
          p.onProtocolError = (err) => base.abortCase(err);
          if (p.protocolError) base.abortCase(p.protocolError);
          if (opts.connect ?? true) p.command({ cmd: 'connect' });
          return p;
        },
      };
    },
  };
}
