/**
 * The README's "Use it in your app" code is examples/ itself (issue 17): each block sits between
 * `<!-- example: examples/<file> -->` and `<!-- /example -->`, and must equal that file, which the
 * packaging test runs against the installed package. `npx tsx scripts/readme-examples.ts` rewrites
 * the blocks from the files; scripts/readme-examples.test.ts fails when they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const README = join(root, 'README.md');

const BLOCK = /(<!-- example: (examples\/[\w.-]+) -->\n)```(\w*)\n[\s\S]*?```\n(<!-- \/example -->)/g;

const LANG: Record<string, string> = { mjs: 'js', js: 'js', ts: 'ts', html: 'html' };

/** The README with every example block replaced by its file; `files` lists the files embedded. */
export function embedExamples(readme: string, read: (path: string) => string = (p) => readFileSync(join(root, p), 'utf8')): { text: string; files: string[] } {
  const files: string[] = [];
  const text = readme.replace(BLOCK, (_all, open: string, path: string, _lang: string, close: string) => {
    files.push(path);
    const code = read(path);
    const lang = LANG[path.slice(path.lastIndexOf('.') + 1)] ?? '';
    return `${open}\`\`\`${lang}\n${code.endsWith('\n') ? code : `${code}\n`}\`\`\`\n${close}`;
  });
  return { text, files };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const before = readFileSync(README, 'utf8');
  const { text, files } = embedExamples(before);
  if (text !== before) writeFileSync(README, text);
  console.log(`README.md: ${files.length} example blocks (${files.join(', ')})${text === before ? ', already current' : ', rewritten'}`);
}
