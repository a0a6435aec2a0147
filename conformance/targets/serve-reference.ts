/**
 * Start the reference server with its test hooks and print a matching
 * implementation config, to try `lifeline conformance server` by hand:
 *
 *   npx tsx conformance/targets/serve-reference.ts > /tmp/ref.json &
 *   npx tsx bin/lifeline.ts conformance server "$(jq -r .server.url /tmp/ref.json)" --config /tmp/ref.json
 *
 * (The reference server's own CLI has no --test-hooks flag yet; this is the stand-in.)
 */
import { referenceServerConfig } from '../config.js';
import { startReferenceServerTarget } from './reference-server.js';

const target = await startReferenceServerTarget(referenceServerConfig);
process.stdout.write(`${JSON.stringify({ server: { ...target.config, url: target.url } }, null, 2)}\n`);
process.stderr.write(`reference server on ${target.url}, hooks on ${target.hooksUrl}; Ctrl-C to stop\n`);
const stop = () => void target.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
