import { describe, expect, it } from 'vitest';
import { brokerContract, message } from './broker-contract.js';
import { BrokerUnavailableError, TRIMMED, type Publication } from './broker.js';
import { MemoryHub, type HubBroker } from './memory-hub.js';

brokerContract('MemoryHub', () => {
  const hub = new MemoryHub();
  return Promise.resolve({
    node: (id: string) => hub.broker(id),
    setAvailable: (available: boolean) => Promise.resolve(hub.setAvailable(available)),
    setNodeAvailable: (b, available) => Promise.resolve((b as HubBroker).setAvailable(available)),
    trim: (channel, keep) => Promise.resolve(hub.trim(channel, keep)),
    dispose: () => Promise.resolve(),
  });
});

describe('MemoryHub', () => {
  const recorder = (b: HubBroker) => {
    const got: Publication[] = [];
    b.bind((p) => {
      got.push(p);
      return 2;
    });
    return got;
  };

  it('delivers synchronously to every joined node before publish resolves, with positions 0-<n> per channel', async () => {
    const hub = new MemoryHub();
    const [a, b] = [hub.broker('a'), hub.broker('b')];
    const [ga, gb] = [recorder(a), recorder(b)];
    a.join('x');
    b.join('x');
    const done = a.publish(message('x', '1'));
    expect(ga.map((p) => p.position)).toEqual(['0-1']);
    expect(gb.map((p) => p.position)).toEqual(['0-1']);
    expect(await done).toBe(2);
    await b.publish(message('y', 'elsewhere'));
    await b.publish(message('x', '2'));
    expect(ga.map((p) => `${p.channel} ${p.position}`)).toEqual(['x 0-1', 'x 0-2']);
  });

  it('bounds each channel to maxLen: since before the window is TRIMMED', async () => {
    const hub = new MemoryHub({ maxLen: 3 });
    const a = hub.broker();
    for (let i = 0; i < 5; i++) await a.publish(message('x', `${i}`));
    expect(await a.since('x', '0-1')).toBe(TRIMMED);
    expect(((await a.since('x', '0-2')) as Publication[]).map((p) => p.position)).toEqual(['0-3', '0-4', '0-5']);
  });

  it('joins at the current last position: what came before is for since', async () => {
    const hub = new MemoryHub();
    const a = hub.broker('a');
    const got = recorder(a);
    await a.publish(message('x', 'before'));
    a.join('x');
    await a.publish(message('x', 'after'));
    expect(got.map((p) => p.position)).toEqual(['0-2']);
  });

  it('a node leaving from inside a delivery gets nothing more, and a publish from inside a delivery keeps the order on every node', async () => {
    const hub = new MemoryHub();
    const [a, b] = [hub.broker('a'), hub.broker('b')];
    const gb = recorder(b);
    const ga: string[] = [];
    a.bind((p) => {
      ga.push(p.position as string);
      if (p.position === '0-1') void a.publish(message('x', 'nested'));
      return 1;
    });
    a.join('x');
    b.join('x');
    await b.publish(message('x', 'outer'));
    expect(ga).toEqual(['0-1', '0-2']);
    expect(gb.map((p) => p.position)).toEqual(['0-1', '0-2']);
  });

  it('a closed broker is not ready and rejects publish', async () => {
    const hub = new MemoryHub();
    const a = hub.broker('a');
    await a.close();
    expect(a.health.isReady()).toBe(false);
    await expect(a.publish(message('x', '1'))).rejects.toBeInstanceOf(BrokerUnavailableError);
  });
});
