import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createNodeClient } from './node.js';
import { withTransports } from './options-copy.js';
import type { ClientOptions } from './options.js';
import type { Transport } from './transport.js';

// V8's intrinsics, for the one property this module exists for: objects it builds share a map.
setFlagsFromString('--allow-natives-syntax');
const natives = (body: string) => new Function('a', 'b', body) as (a: unknown, b?: unknown) => unknown;
const haveSameMap = natives('return %HaveSameMap(a, b);') as (a: object, b: object) => boolean;
const prepare = natives('%PrepareFunctionForOptimization(a);');
const optimizeNext = natives('%OptimizeFunctionOnNextCall(a);');

const wsT: Transport = () => {
  throw new Error('not opened');
};
const httpT: Transport = () => {
  throw new Error('not opened');
};

/** `fn` optimized by TurboFan (as after a few thousand clients), then two results of `make`, which calls it. */
function twoOptimized<T>(fn: unknown, make: (i: number) => T): [T, T] {
  prepare(fn);
  make(0);
  make(1);
  optimizeNext(fn);
  return [make(2), make(3)];
}

describe('withTransports', () => {
  test('equals the spread it replaces: same keys in the same order, same values', () => {
    const option = fc.option(fc.integer({ min: 0, max: 1e6 }), { nil: undefined });
    fc.assert(
      fc.property(
        fc.record({ url: fc.webUrl(), receiveWindow: option, reconnectBaseMs: option, autoConnect: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ['url'] }),
        fc.boolean(),
        fc.boolean(),
        (options, hasWs, hasHttp) => {
          const t = hasWs ? wsT : undefined;
          const h = hasHttp ? httpT : undefined;
          const spread: Record<string, unknown> = { ...options };
          if (t) spread['transport'] = t;
          if (h) spread['httpTransport'] = h;
          const copy = withTransports<Uint8Array, ClientOptions<Uint8Array>>(options, t, h);
          expect(copy).not.toBe(options);
          expect(Object.entries(copy)).toEqual(Object.entries(spread));
        },
      ),
    );
  });

  test('copies made by optimized code share one map (a spread then stores would not)', () => {
    const copy = (i: number) => withTransports<Uint8Array, ClientOptions<Uint8Array>>({ url: `ws://127.0.0.1:${i}/` }, wsT, httpT);
    const [a, b] = twoOptimized(withTransports, copy);
    expect(haveSameMap(a, b)).toBe(true);
    // The control: what createNodeClient did before, so the check above can fail on this V8.
    const spreadCopy = (o: object) => ({ ...o, transport: wsT, httpTransport: httpT });
    const [c, d] = twoOptimized(spreadCopy, (i) => spreadCopy({ url: `ws://127.0.0.1:${i}/` }));
    expect(haveSameMap(c, d)).toBe(false);
  });

  test("createNodeClient: two clients' options share a map once it is optimized", () => {
    const clients: { close(): void }[] = [];
    const optionsOf = (c: object) => (c as unknown as { core: { options: object } }).core.options;
    const make = (i: number) => {
      const c = createNodeClient({ url: `ws://127.0.0.1:${i + 1}/`, autoConnect: false });
      clients.push(c);
      return optionsOf(c);
    };
    const [a, b] = twoOptimized(createNodeClient, make);
    for (const c of clients) c.close();
    expect(haveSameMap(a, b)).toBe(true);
  });
});
