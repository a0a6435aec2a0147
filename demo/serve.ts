/**
 * The demo as `lifeline serve --demo` runs it: the demo application (app.ts) with its page
 * (demo/public/ at /) and the browser bundle (dist/browser/ at /dist/browser/), from the package
 * root. The bin registers it with the server's CLI, so the library never imports the demo (issue 12).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ServeApp } from '../server/cli.js';
import { staticHandler } from '../server/http.js';
import { createDemoApp } from './app.js';

export function demoServeApp(root: string): ServeApp {
  for (const file of [join('demo', 'public', 'index.html'), join('dist', 'browser', 'demo.js')]) {
    if (!existsSync(join(root, file))) console.error(`warning: ${file} is missing, so the demo page will not load: run \`npm run build\` first (npm start does)`);
  }
  const app = createDemoApp();
  return {
    hooks: {
      ...app.hooks,
      onRequest: staticHandler([
        { prefix: '/dist/browser/', dir: join(root, 'dist', 'browser') },
        { prefix: '/', dir: join(root, 'demo', 'public') },
      ]),
    },
    start: (server) => app.start(server),
    stop: () => app.stop(),
  };
}
