/**
 * Renders the spec's generated tables from the code that enforces them, so the
 * registry (§14.2) and the defaults (§17) in spec/lifeline.md are the code's.
 * `npm run spec:tables` rewrites them; spec-tables.test.ts fails when stale.
 */
import { closeCodes, type CloseRow } from './protocol/close-codes.js';
import { defaults } from './protocol/defaults.js';

export function renderCloseCodeTable(): string {
  const rows = (Object.entries(closeCodes) as [string, CloseRow][]).map(([name, r]) => {
    const code = r.code !== undefined ? String(r.code) : `HTTP ${r.http}`;
    return `| ${code} | \`${name}\` | ${r.sender} | ${r.retry} | ${r.resetSession ? 'yes' : 'no'} | ${r.minDelayMs} | ${r.spec} | ${r.when.replace(/\|/g, '\\|')} |`;
  });
  return [
    '| Code | Name | Sent by | Retry advice | Reset session | Min delay (ms) | Rule | When |',
    '|---:|---|---|---|---|---:|---|---|',
    ...rows,
  ].join('\n');
}

export function renderDefaultsTable(): string {
  const rows = Object.entries(defaults).map(([name, value]) => `| \`${name}\` | ${value} |`);
  return ['| Name | Default |', '|---|---:|', ...rows].join('\n');
}

export const generatedBlocks: Record<string, () => string> = {
  'close-codes': renderCloseCodeTable,
  defaults: renderDefaultsTable,
};

/** Replace every `<!-- BEGIN generated:NAME -->…<!-- END generated:NAME -->` block. */
export function refreshGeneratedBlocks(markdown: string): string {
  return markdown.replace(
    /(<!-- BEGIN generated:([a-z-]+)[^>]*-->)[\s\S]*?(<!-- END generated:\2 -->)/g,
    (whole, begin: string, name: string, end: string) => {
      const render = generatedBlocks[name];
      return render ? `${begin}\n${render()}\n${end}` : whole;
    },
  );
}
