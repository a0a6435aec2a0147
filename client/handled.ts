/**
 * The promise, marked as handled: one the application ignores never becomes an unhandled rejection
 * (which stops Node), while a caller who awaits it still sees the rejection.
 */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
