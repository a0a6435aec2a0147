/**
 * Reconnect slots for a drain (DR-3): N clients told to come back over a window of
 * W ms so that no 100 ms slice gets more than 1.5× its even share (N × 100 / W).
 *
 * Client i gets slice k = ⌊i·K/N⌋ of the K = ⌊W/100⌋ aligned slices and a uniform
 * position inside it. That is the stratified "client i of N → [i·W/N, (i+1)·W/N)"
 * scheme with strata snapped to slice boundaries: plain strata of width W/N can
 * put ⌈share⌉ + 1 clients in one slice where they straddle it, which breaks the
 * 1.5× bound whenever the share is below 4; snapped, a slice holds ⌊N/K⌋ or
 * ⌈N/K⌉ clients, and the randomness inside a slice still spreads the arrivals.
 *
 * Pure and browser-safe: the random source is injected.
 */

/** The width of the slices DR-3 bounds, in ms. */
export const DRAIN_SLICE_MS = 100;

export interface DrainSpreadOptions {
  /** The spread window W in ms (drainSpreadMs). */
  readonly spreadMs: number;
  /** Uniform in [0, 1); Math.random in production, a seeded source in tests. */
  readonly random: () => number;
  /** Slice width in ms; DR-3 says 100. */
  readonly sliceMs?: number;
}

/** The reconnect_after_ms of client i of n (DR-3), an integer in [0, spreadMs). */
export function drainSlot(i: number, n: number, opts: DrainSpreadOptions): number {
  const w = Math.max(0, Math.floor(opts.spreadMs));
  if (w === 0 || n <= 0) return 0;
  const sliceMs = opts.sliceMs ?? DRAIN_SLICE_MS;
  const k = Math.max(1, Math.floor(w / sliceMs));
  const width = w / k; // = sliceMs when W is a multiple of it, slightly wider otherwise
  const slice = Math.min(k - 1, Math.floor((i * k) / n));
  const r = Math.min(Math.max(opts.random(), 0), 1 - Number.EPSILON);
  return Math.min(w - 1, Math.floor(slice * width + r * width));
}

/** The slots of all n clients of one drain, in order (DR-3). */
export function drainSlots(n: number, opts: DrainSpreadOptions): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = drainSlot(i, n, opts);
  return out;
}
