/**
 * Heap after a full GC, for the flood tests (issue 13): boundedness by memory with a generous bound,
 * never by timing. vitest does not start Node with --expose-gc; V8 lets a running process ask for it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap used after two full collections, in MiB. */
export function heapAfterGcMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
}
