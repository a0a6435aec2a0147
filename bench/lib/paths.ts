/**
 * Where the bench runs from. `npm run bench` compiles the repository to .bench-build/ (tsc,
 * tsconfig.bench.json) and runs plain JavaScript, as the package's users would; tests and
 * `tsx bench/run.ts` run the TypeScript itself. Both find the repository root the same way.
 */
import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** The repository (where package.json and node_modules are). */
export const REPO_ROOT = findRoot(HERE);

/** True when running compiled JavaScript, false under tsx. */
export const IS_COMPILED = extname(fileURLToPath(import.meta.url)) === '.js';

/** A bench module beside this one, in the form (.ts or .js) that is running. */
export function benchFile(relativeToLib: string): string {
  return join(HERE, relativeToLib.replace(/\.ts$/, IS_COMPILED ? '.js' : '.ts'));
}
