/**
 * The parts of XINFO STREAM's answer RedisBroker uses (issue 14): the stream's ends and its
 * counters, which say whether entries were trimmed. Redis 7 is required for the counters
 * (entries-added, recorded-first-entry-id); on an older Redis `added` is undefined.
 *
 * Trimming (XADD MAXLEN ~, XTRIM) takes the oldest entries first and leaves max-deleted-entry-id
 * alone (that one is XDEL's), so "entries after P were trimmed" reads: some entry was removed, and
 * P is older than the first entry held. Redis keeps no id of the newest trimmed entry, so when P
 * itself was the newest one trimmed, nothing after it is lost, yet this answers true: `since`
 * errs on the side of a resync, never of a silent loss (rare: P is then ~maxLen publications old).
 */
import { comparePositions } from './broker.js';

export interface StreamInfo {
  /** Entries held now. */
  readonly length: number;
  /** The id of the last entry ever added ("0-0" for none). */
  readonly lastId: string;
  /** The id of the first entry held (undefined when empty). */
  readonly firstId: string | undefined;
  /** The largest id removed by XDEL ("0-0": none); undefined before Redis 7. */
  readonly maxDeletedId: string | undefined;
  /** Entries ever added; undefined before Redis 7. */
  readonly added: number | undefined;
}

/** XINFO STREAM's flat [name, value, …] reply (strings or Buffers) as a StreamInfo. */
export function streamInfo(raw: unknown): StreamInfo {
  const f = new Map<string, unknown>();
  if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) f.set(String(raw[i]), raw[i + 1]);
  const str = (name: string) => {
    const v = f.get(name);
    return v === undefined || v === null ? undefined : String(v);
  };
  const num = (name: string) => {
    const v = str(name);
    return v === undefined ? undefined : Number(v);
  };
  const length = num('length') ?? 0;
  const firstEntry = f.get('first-entry');
  const firstId = length === 0 ? undefined : Array.isArray(firstEntry) ? String(firstEntry[0]) : str('recorded-first-entry-id');
  return { length, lastId: str('last-generated-id') ?? '0-0', firstId, maxDeletedId: str('max-deleted-entry-id'), added: num('entries-added') };
}

/** Whether entries after `position` were removed from the stream (see the module note for the one over-report). */
export function isTrimmedAfter(info: StreamInfo, position: string): boolean {
  if (info.maxDeletedId !== undefined && comparePositions(info.maxDeletedId, position) > 0) return true; // XDEL
  const removed = info.added === undefined ? undefined : info.added - info.length;
  if (removed === 0) return false;
  if (info.firstId === undefined) return comparePositions(position, info.lastId) < 0; // all trimmed
  if (removed === undefined && position === '0-0') return false; // Redis 6: cannot tell; assume nothing
  return comparePositions(position, info.firstId) < 0;
}
