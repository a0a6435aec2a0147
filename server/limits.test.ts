import { afterEach, describe, expect, test } from 'vitest';
import { defaults } from '../spec/protocol/defaults.js';
import { tryConnect } from '../testkit/raw-client.js';
import { optionsFromFlags } from './cli.js';
import { resolveOptions } from './options.js';
import { createServer, type LifelineServer } from './server.js';
import { clockAt } from '../test/support/clock.js';

const servers: LifelineServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('limits are on by default (issue 13)', () => {
  test('HS-5 BP-14 BP-16 CC-8 RS-11 SEQ-8 default options resolve to the limits of spec §17', () => {
    const o = resolveOptions({});
    expect(o).toMatchObject({
      upgradeRatePerSecond: defaults.upgradeRatePerSecond,
      upgradeBurst: defaults.upgradeBurst,
      messageRatePerSecond: defaults.messageRatePerSecond,
      messageBurst: defaults.messageBurst,
      controlRatePerSecond: defaults.controlRatePerSecond,
      controlBurst: defaults.controlBurst,
      maxSessions: defaults.maxSessions,
      maxDetachedSessions: defaults.maxDetachedSessions,
      detachedBudgetBytes: defaults.detachedBudgetBytes,
    });
    expect([defaults.upgradeRatePerSecond, defaults.upgradeBurst, defaults.messageRatePerSecond, defaults.controlRatePerSecond]).toEqual([20, 50, 200, 200]);
  });

  test('HS-5 BP-14 the CLI without limit flags keeps the same defaults', () => {
    const flags = { port: 0, host: '127.0.0.1', path: '/lifeline', demo: false, logLevel: 'info' as const, metrics: false, dedupe: true };
    const o = resolveOptions(optionsFromFlags(flags));
    expect(o.upgradeRatePerSecond).toBe(20);
    expect(o.messageRatePerSecond).toBe(200);
    expect(o.controlRatePerSecond).toBe(200);
    expect(o.maxSessions).toBe(10_000);
    expect(optionsFromFlags({ ...flags, dedupe: false }).dedupeMessageIds).toBe(false);
  });

  test('HS-5 Infinity turns a limit off; a rate alone gets one second of it as its burst', () => {
    const off = resolveOptions({ upgradeRatePerSecond: Infinity, messageRatePerSecond: Infinity, controlRatePerSecond: Infinity, maxSessions: Infinity });
    expect(off.upgradeRatePerSecond).toBeUndefined();
    expect(off.messageRatePerSecond).toBeUndefined();
    expect(off.controlRatePerSecond).toBeUndefined();
    expect(off.maxSessions).toBe(Infinity);
    expect(resolveOptions({ messageRatePerSecond: 400 }).messageBurst).toBe(400);
    expect(() => resolveOptions({ maxSessions: 0 })).toThrow(RangeError);
  });

  test('HS-16 Infinity turns the pending-upgrade caps off too, as every other limit (the benches run so)', () => {
    const off = resolveOptions({ maxPendingUpgradesPerIp: Infinity, maxPendingUpgrades: Infinity });
    expect(off.maxPendingUpgradesPerIp).toBe(Infinity);
    expect(off.maxPendingUpgrades).toBe(Infinity);
    expect(() => resolveOptions({ maxPendingUpgradesPerIp: 0 })).toThrow(RangeError);
    expect(() => resolveOptions({ maxPendingUpgrades: Number.NaN })).toThrow(RangeError);
  });

  test('HS-5 with default options the 51st upgrade from one address within a second gets 429 with Retry-After', async () => {
    const srv = createServer({ clock: clockAt(() => 1000) }); // time stands still: the burst alone, no refill
    servers.push(srv);
    await srv.listen(0, '127.0.0.1');
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await tryConnect(srv.url());
      if (r.ok) {
        statuses.push(101);
        r.client.terminate();
      } else {
        statuses.push(r.refusal.status);
        if (r.refusal.status === 429) expect(Number(r.refusal.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    expect(statuses.slice(0, 50)).toEqual(Array(50).fill(101));
    expect(statuses.slice(50)).toEqual(Array(10).fill(429));
  });
});
