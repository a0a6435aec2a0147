/** The client connection machine's input from the client's options (machine-input.ts). */
import { describe, expect, test } from 'vitest';
import { machineInputOf } from './machine-input.js';
import type { Transport } from './transport.js';

describe('machine input', () => {
  const http: Transport = () => {
    throw new Error('not opened in this test');
  };

  test('HT-20 carriers: ws and http with an HTTP transport, ws only without; never one without a transport', () => {
    const silence = () => 0;
    expect(machineInputOf({ url: 'ws://127.0.0.1:1' }, Math.random, silence, true).transports).toEqual(['ws', 'http']);
    expect(machineInputOf({ url: 'ws://127.0.0.1:1' }, Math.random, silence, false).transports).toEqual(['ws']);
    expect(machineInputOf({ url: 'ws://127.0.0.1:1', transports: ['http', 'ws'] }, Math.random, silence, false).transports).toEqual(['ws']);
    expect(machineInputOf({ url: 'ws://127.0.0.1:1', transports: ['http', 'ws'], httpTransport: http }, Math.random, silence, true).transports).toEqual(['http', 'ws']);
  });

  test('only the options given reach the machine (it fills in the rest)', () => {
    const input = machineInputOf({ url: 'ws://127.0.0.1:1', reconnectBaseMs: 5, wsRetryCapMs: 9 }, Math.random, () => 0, false);
    expect(Object.keys(input).sort()).toEqual(['random', 'reconnectBaseMs', 'silenceMs', 'transports', 'wsRetryCapMs']);
    expect(input).toMatchObject({ reconnectBaseMs: 5, wsRetryCapMs: 9 });
  });
});
