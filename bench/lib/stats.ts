/** Small statistics and formatting helpers shared by the bench scenarios. */

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Nearest-rank quantile on a copy (q in [0, 1]); NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i] as number;
}

/** Quantile over an already sorted typed array (no copy). */
export function sortedQuantile(s: Float64Array, q: number): number {
  if (s.length === 0) return Number.NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i] as number;
}

/** Growable Float64 sample buffer (latencies), bounded so a runaway run cannot eat memory. */
export class Samples {
  private buf: Float64Array;
  n = 0;
  constructor(private readonly max = 2_000_000) {
    this.buf = new Float64Array(1024);
  }
  push(x: number): void {
    if (this.n >= this.max) return;
    if (this.n === this.buf.length) {
      const next = new Float64Array(Math.min(this.max, this.buf.length * 2));
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = x;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.n).sort();
  }
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '—';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function ratio(x: number, base: number): string {
  if (!Number.isFinite(x) || !Number.isFinite(base) || base === 0) return '—';
  return `${(x / base).toFixed(2)}×`;
}

/** Render a Markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = header.map((_, i) => rows.some((r) => /^[\d—.,×%µ+-]/.test(r[i] ?? '') && i > 0));
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const sep = header.map((_, i) => (right[i] ? '---:' : '---'));
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

/** Rotate a list by k (interleaving: each repetition starts with a different contender). */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  if (n === 0) return [];
  const s = ((k % n) + n) % n;
  return [...xs.slice(s), ...xs.slice(0, s)];
}
