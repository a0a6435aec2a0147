/**
 * Seeds: one suite seed, one derived seed per case, so `--seed S --case ID`
 * replays a case exactly whatever else runs before it.
 */

/** A small, fast, well-mixed 32-bit PRNG returning [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of the case id mixed with the suite seed: stable across runs and case selections. */
export function caseSeed(suiteSeed: number, caseId: string): number {
  let h = 0x811c9dc5 ^ (suiteSeed >>> 0);
  for (let i = 0; i < caseId.length; i++) {
    h ^= caseId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // fast-check wants a 32-bit signed int
  return h | 0;
}

/** A suite seed for runs that give none. */
export function freshSeed(): number {
  return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}
