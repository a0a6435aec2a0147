#!/usr/bin/env node
/**
 * The `lifeline` command: one entry point, each subcommand owned by its area
 * (server/cli.ts, client/cli.ts, conformance/cli.ts) and loaded only when used,
 * so `lifeline connect` never loads the server and vice versa.
 */
import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServeApp, ServeCommandOptions } from '../server/cli.js';

interface SubcommandModule {
  readonly load: () => Promise<Command>;
  readonly name: string;
  readonly summary: string;
}

// The module path is built at run time so this file type-checks before every area exists.
async function loadCommand(area: string, factory: string, options?: object): Promise<Command> {
  const mod = (await import(`../${area}/${'cli'}.js`)) as Record<string, (options?: object) => Command>;
  const make = mod[factory];
  if (!make) throw new Error(`${area}/cli.ts does not export ${factory}()`);
  return make(options);
}

/**
 * `serve --demo`: the bin, not the server library, knows the demo (issue 12) and hands it to the
 * server's CLI. The npm package leaves the demo out (its page bundles Mermaid: 3.5 MB in 200
 * files), so there the import fails and the user is told to clone.
 */
async function loadDemo(root: string): Promise<ServeApp> {
  let mod: typeof import('../demo/serve.js');
  try {
    mod = await import('../demo/serve.js');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(join('demo', 'serve.js'))) {
      const { DEMO_NEEDS_CLONE } = await import('../server/cli.js');
      throw new Error(DEMO_NEEDS_CLONE);
    }
    throw err;
  }
  return mod.demoServeApp(root);
}

const serveOptions: ServeCommandOptions = { loadDemo };

const subcommands: readonly SubcommandModule[] = [
  { name: 'serve', summary: 'run the reference server (with --demo, the live demo page)', load: () => loadCommand('server', 'serveCommand', serveOptions) },
  { name: 'connect', summary: 'connect the reference client to a URL and print what happens', load: () => loadCommand('client', 'connectCommand') },
  { name: 'conformance', summary: 'run the conformance suite against a server URL or a client command', load: () => loadCommand('conformance', 'conformanceCommand') },
];

/** This package's version: package.json is beside bin/ in a clone and one level higher from dist/bin/. */
function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (!existsSync(url)) continue;
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === 'lifeline' && typeof pkg.version === 'string') return pkg.version;
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('lifeline')
    .description('Lifeline: a WebSocket session protocol with a reference server, client and conformance suite')
    .version(packageVersion(), '-V, --version', 'print the version of the lifeline package');
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
