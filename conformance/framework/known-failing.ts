/**
 * Known-failing lists (issue 18, runner item 12), as in connectrpc/conformance: an implementation
 * checks in the cases it knows it fails, each with its reason. A listed case that fails or errors
 * does not fail the run (it is reported as known); a listed case that passes does, so the list
 * shrinks as the implementation gets fixed and cannot hide a case that would now pass.
 *
 * File format (UTF-8 text): one entry per line, a case id or a glob over ids (`CC-2/after-10*`),
 * then whitespace, then the reason (required). Blank lines and lines starting with `#` are ignored.
 *
 *     # our watchdog fires one interval late, see issue 12
 *     HB-4/heartbeat-timeout-4200   watchdog armed one interval late (issue 12)
 */
import { readFileSync } from 'node:fs';

export interface KnownFailing {
  readonly pattern: string;
  readonly reason: string;
  /** 1-based line in the file, for messages. */
  readonly line: number;
}

const globToRegExp = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

/** Parse a known-failing list; throws naming the line when an entry has no reason. */
export function parseKnownFailing(text: string, source = 'known-failing list'): KnownFailing[] {
  const out: KnownFailing[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)\s+(.*\S)$/.exec(line);
    if (!m) throw new Error(`${source}:${i + 1}: "${line}" has no reason; write the case id, whitespace, then why it is known to fail`);
    out.push({ pattern: m[1] as string, reason: m[2] as string, line: i + 1 });
  });
  return out;
}

export function loadKnownFailing(file: string): KnownFailing[] {
  return parseKnownFailing(readFileSync(file, 'utf8'), file);
}

/** The entry that lists case `id`, if any. */
export function knownEntryFor(list: readonly KnownFailing[], id: string): KnownFailing | undefined {
  return list.find((k) => k.pattern === id || globToRegExp(k.pattern).test(id));
}

/** Entries that name no case of the catalogue (a typo or a removed case): they would silently list nothing. */
export function staleEntries(list: readonly KnownFailing[], ids: readonly string[]): KnownFailing[] {
  return list.filter((k) => !ids.some((id) => k.pattern === id || globToRegExp(k.pattern).test(id)));
}
