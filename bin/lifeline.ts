#!/usr/bin/env -S npx tsx
/**
 * The `lifeline` command: one entry point, each subcommand owned by its area
 * (server/cli.ts, client/cli.ts, conformance/cli.ts) and loaded only when used,
 * so `lifeline connect` never loads the server and vice versa.
 */
import { Command } from 'commander';

interface SubcommandModule {
  readonly load: () => Promise<Command>;
  readonly name: string;
  readonly summary: string;
}

// The module path is built at run time so this file type-checks before every area exists.
async function loadCommand(area: string, factory: string): Promise<Command> {
  const mod = (await import(`../${area}/${'cli'}.js`)) as Record<string, () => Command>;
  const make = mod[factory];
  if (!make) throw new Error(`${area}/cli.ts does not export ${factory}()`);
  return make();
}

const subcommands: readonly SubcommandModule[] = [
  { name: 'serve', summary: 'run the reference server (with --demo, the live demo page)', load: () => loadCommand('server', 'serveCommand') },
  { name: 'connect', summary: 'connect the reference client to a URL and print what happens', load: () => loadCommand('client', 'connectCommand') },
  { name: 'conformance', summary: 'run the conformance suite against a server URL or a client command', load: () => loadCommand('conformance', 'conformanceCommand') },
];

async function main(argv: string[]): Promise<void> {
  const program = new Command('lifeline').description('Lifeline: a WebSocket session protocol with a reference server, client and conformance suite');
  const wanted = argv[2];
  for (const sub of subcommands) {
    if (sub.name === wanted) program.addCommand(await sub.load());
    else program.command(sub.name).description(sub.summary).allowUnknownOption().action(async () => {
      // Only reached for a subcommand not loaded above, which cannot happen; kept for --help listing.
    });
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
