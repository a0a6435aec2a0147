/**
 * Behind a real proxy (issue 13): Debian's nginx in front, with a proxy_read_timeout of 1 s (the
 * ops/nginx location, test-sized). An idle session whose heartbeat interval is below the proxy's
 * timeout stays open past it (HB-10), while one whose interval is above it is cut by nginx (the
 * control that proves the timeout is in force); a drain and a resume work through the proxy.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { hasNginx, Nginx } from '../testkit/nginx.js';
import { numbered, port, publishNumbered, Rig, sleep } from './support.js';

const PROXY_TIMEOUT_S = 1;
const wait = { timeout: 15_000, interval: 10 };

let rig: Rig;
let nginx: Nginx | undefined;
afterEach(async () => {
  await rig?.cleanup();
  await nginx?.close();
  nginx = undefined;
});

describe.skipIf(!hasNginx())('e2e: behind nginx', () => {
  test('HB-10 an idle session with an interval below proxy_read_timeout outlives it; one above is cut by nginx', async () => {
    rig = new Rig();
    const beating = await rig.server({ heartbeatIntervalMs: 300 }); // < 1 s
    const quiet = await rig.server({ heartbeatIntervalMs: 20_000 }); // > 1 s: nothing crosses the proxy
    nginx = await Nginx.start({ proxyTimeoutS: PROXY_TIMEOUT_S, routes: [{ prefix: '/a/', upstreamPort: port(beating) }, { prefix: '/q/', upstreamPort: port(quiet) }] });
    const a = rig.client(nginx.url('/a/'), { channels: ['e2e'] });
    const q = rig.client(nginx.url('/q/'), { channels: ['e2e'] });
    await vi.waitFor(() => expect([a.client.state, q.client.state]).toEqual(['connected', 'connected']), wait);
    const t0 = performance.now();
    // Three proxy timeouts of idleness: no application traffic at all.
    await vi.waitFor(() => expect(q.log.of('closed').length).toBeGreaterThan(0), { timeout: 3 * PROXY_TIMEOUT_S * 1000 + 5000, interval: 20 });
    // From the last thing the quiet server sent (its Welcome) to nginx's cut.
    const at = (type: string) => q.log.events.find((x) => x.e.type === type)?.at ?? Number.NaN;
    const quietCutMs = at('closed') - at('welcome');
    const rest = 3 * PROXY_TIMEOUT_S * 1000 - (performance.now() - t0);
    if (rest > 0) await sleep(rest);
    console.log(`behind nginx (proxy_read_timeout ${PROXY_TIMEOUT_S} s): session without heartbeats cut after ${Math.round(quietCutMs)} ms; heartbeating session open after ${Math.round(performance.now() - t0)} ms`);
    // The control: nginx cut the silent one (no close frame from Lifeline: 1006); nginx's own timer
    // granularity decides exactly when (0.7-2 s measured), so only the fact is checked.
    expect(q.log.of('closed')[0]?.code).toBe(1006);
    // The heartbeating one: still the same connection, never closed, and it still carries messages.
    expect(a.log.of('closed')).toHaveLength(0);
    expect(a.log.of('welcome')).toHaveLength(1);
    expect(a.client.state).toBe('connected');
    await publishNumbered(beating, 1, 5);
    await vi.waitFor(() => expect(a.log.messages()).toEqual(numbered('S', 1, 5)), wait);
  }, 30_000);

  test('DR-2 DR-4 RS-2 a drain and a resume after the proxy restarts work through nginx; nothing lost or duplicated', async () => {
    rig = new Rig();
    const server = await rig.server({ heartbeatIntervalMs: 300, retryAfterSeconds: 1 });
    nginx = await Nginx.start({ proxyTimeoutS: PROXY_TIMEOUT_S, routes: [{ prefix: '/a/', upstreamPort: port(server) }] });
    const { client, log } = rig.client(nginx.url('/a/'), { channels: ['e2e'] });
    await vi.waitFor(() => expect(client.state).toBe('connected'), wait);
    await publishNumbered(server, 1, 10);
    await vi.waitFor(() => expect(log.messages()).toHaveLength(10), wait);

    // Drain: the notice crosses the proxy; the server comes back into service afterwards.
    const drained = server.drain({ deadlineMs: 1500, spreadMs: 300 });
    await vi.waitFor(() => expect(log.of('drain')).toHaveLength(1), wait);
    await drained; // every socket gone: the client left at its slot (1001) or the server closed it (1012)
    expect(log.of('closed').map((c) => c.code).some((c) => c === 1001 || c === 1012)).toBe(true);
    await server.endDrain();
    await vi.waitFor(() => expect(client.state).toBe('connected'), wait);
    expect(log.of('welcome').at(-1)).toMatchObject({ outcome: 'resumed' }); // the drained session is kept (RS-1)
    await publishNumbered(server, 11, 20);
    await vi.waitFor(() => expect(log.messages()).toHaveLength(20), wait);

    // The proxy goes away under the session (its connections drop without a Lifeline close);
    // what is published meanwhile is replayed on the resume through the restarted proxy (RS-2).
    const welcomes = log.of('welcome').length;
    await nginx.stop();
    await vi.waitFor(() => expect(client.state).not.toBe('connected'), wait);
    await publishNumbered(server, 21, 30);
    await nginx.restart();
    await vi.waitFor(() => expect(log.of('welcome').length).toBe(welcomes + 1), wait);
    expect(log.of('welcome').at(-1)).toMatchObject({ outcome: 'resumed', reason: 'REPLAYED' });
    await vi.waitFor(() => expect(log.messages()).toHaveLength(30), wait);
    expect(log.messages()).toEqual(numbered('S', 1, 30));
  }, 40_000);
});
