/**
 * One node of the multi-node e2e test: the real `lifeline serve` command (server/cli.ts: flags,
 * --redis, SIGTERM drain) with the test's application (node-app.ts) instead of --demo.
 *
 *   node --import tsx e2e/multi-node/node.ts --redis redis://127.0.0.1:P --port 0 …
 */
import { serveCommand } from '../../server/cli.js';
import { e2eNodeApp } from './node-app.js';

await serveCommand({ app: () => e2eNodeApp() }).parseAsync(process.argv.slice(2), { from: 'user' });
