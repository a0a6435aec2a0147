import { describe, expect, test } from 'vitest';
import { SeqWatch } from './page-seq-watch.js';

describe('demo page: gap counter', () => {
  test('RS-10 a RESUMED Welcome from last + 1 (or lower) is no gap; one past it is', () => {
    const w = new SeqWatch();
    w.onWelcome('new', 1n, 0n);
    w.onWelcome('resumed', 41n, 40n); // exactly the next seq
    w.onWelcome('resumed', 38n, 40n); // 38–40 come again and are discarded as duplicates
    expect(w.state.gaps).toBe(0);
    w.onWelcome('resumed', 43n, 40n); // 41 and 42 never arrive
    expect(w.state.gaps).toBe(1);
    expect(w.state.reasons[0]).toContain('41…42');
    expect(w.state.welcomes).toEqual({ new: 1, resumed: 3, snapshot: 0 });
  });

  test('SD-2 a seq gap the client reports counts; SNAPSHOT, NEW and other drifts do not', () => {
    const w = new SeqWatch();
    w.onWelcome('snapshot', 90n, 10n); // continuity re-established openly by Snapshots (RS-4)
    w.onWelcome('new', 1n, 90n);
    w.onDrift('client', 'version-gap');
    w.onDrift('server', 'server');
    expect(w.state.gaps).toBe(0);
    w.onDrift('client', 'seq-gap');
    expect(w.state.gaps).toBe(1);
    w.observe(7n);
    expect(w.state.lastSeq).toBe(7n);
  });
});
