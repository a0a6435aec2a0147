/**
 * The API reference in docs/api/ (issue 17): Markdown from the TSDoc of the package's public
 * entry points (TypeDoc + typedoc-plugin-markdown, settings in typedoc.json), one page per export
 * path (lifeline/server, lifeline/client, …), committed so it reads on GitHub and in the package.
 *
 *   npx tsx scripts/api-docs.ts           write docs/api/
 *   npx tsx scripts/api-docs.ts --check   regenerate into a temp dir; fail, naming the pages, if
 *                                         docs/api/ differs (run by the packaging test in CI)
 *
 * TypeDoc takes 15-50 s on two busy cores, too slow for the vitest suite; hence a CI step.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const API_DOCS_DIR = join(root, 'docs', 'api');

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  return out.sort();
}

function typedoc(outDir: string): Promise<void> {
  const bin = join(createRequire(import.meta.url).resolve('typedoc/package.json'), '..', 'bin', 'typedoc');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--options', join(root, 'typedoc.json'), '--out', outDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`typedoc failed (exit ${code}):\n${out}`))));
  });
}

/** Pages that differ between docs/api/ and a fresh generation; empty when current. */
export async function staleApiPages(): Promise<string[]> {
  const fresh = await mkdtemp(join(tmpdir(), 'lifeline-api-docs-'));
  try {
    await typedoc(fresh);
    const [want, have] = [await listFiles(fresh), await listFiles(API_DOCS_DIR)];
    const stale = new Set([...want.filter((f) => !have.includes(f)), ...have.filter((f) => !want.includes(f))]);
    for (const f of want.filter((x) => have.includes(x))) {
      if ((await readFile(join(fresh, f), 'utf8')) !== (await readFile(join(API_DOCS_DIR, f), 'utf8'))) stale.add(f);
    }
    return [...stale].sort();
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const main = async () => {
    if (process.argv.includes('--check')) {
      const stale = await staleApiPages();
      if (stale.length) {
        console.error(`docs/api/ is stale (${stale.join(', ')}): run \`npm run docs:api\` and commit the result`);
        process.exit(1);
      }
      console.log('docs/api/ matches the TSDoc of the public entry points');
      return;
    }
    await typedoc(API_DOCS_DIR);
    console.log(`docs/api/: ${(await listFiles(API_DOCS_DIR)).length} pages`);
  };
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
