import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * The conformance self runs are the longest files by far (about 1.5 min each on the loaded 2-core
 * machine, the next one 25 s): start them first, so that a clean clone (no vitest cache of
 * durations to sort by) does not start one of them last and finish a minute and a half late.
 */
const FIRST = ['conformance/conformance-client.test.ts', 'conformance/conformance-server.test.ts'];
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = FIRST.findIndex((p) => f.moduleId.endsWith(p));
      return i < 0 ? FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map((x) => x.f);
  }
}

export default defineConfig({
  test: {
    include: ['{spec,server,client,conformance,bench,scripts,test,testkit,e2e,demo}/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Socket tests share loopback ports and timers; two workers match the 2-core machines.
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
  },
});
