import { describe, expect, test } from 'vitest';
import { demoPageDefaults, pageOptions } from './page-options.js';

const here = { protocol: 'http:', host: '127.0.0.1:8080' };

describe('demo page options', () => {
  test('inspection is off unless ?inspect asks for it', () => {
    expect(pageOptions('', here).isInspecting).toBe(false);
    expect(pageOptions('?reconnectBaseMs=5', here).isInspecting).toBe(false);
    expect(pageOptions('?inspect=0', here).isInspecting).toBe(false);
    expect(pageOptions('?inspect=false', here).isInspecting).toBe(false);
    expect(pageOptions('?inspect', here).isInspecting).toBe(true);
    expect(pageOptions('?inspect=1', here).isInspecting).toBe(true);
  });

  test('the WebSocket URL follows the page; the tuning has demo defaults that the query overrides', () => {
    expect(pageOptions('', here).wsUrl).toBe('ws://127.0.0.1:8080/lifeline');
    expect(pageOptions('', { protocol: 'https:', host: 'demo.example' }).wsUrl).toBe('wss://demo.example/lifeline');
    expect(pageOptions('?url=ws://127.0.0.1:1/x', here).wsUrl).toBe('ws://127.0.0.1:1/x');
    expect(pageOptions('', here).tuning).toEqual(demoPageDefaults);
    expect(pageOptions('?reconnectBaseMs=100&reconnectCapMs=500&handshakeTimeoutMs=900&reconnectMaxAttempts=abc', here).tuning).toEqual({
      reconnectBaseMs: 100,
      reconnectCapMs: 500,
      reconnectMaxAttempts: demoPageDefaults.reconnectMaxAttempts,
      handshakeTimeoutMs: 900,
    });
  });

  test('the HTTP fallback settings pass through only when given (issue 15)', () => {
    expect(pageOptions('?wsRetryMs=800&httpFallbackAfter=1', here).tuning).toEqual({ ...demoPageDefaults, wsRetryMs: 800, httpFallbackAfter: 1 });
    expect(pageOptions('?wsRetryMs=', here).tuning).toEqual(demoPageDefaults);
    expect(pageOptions('', here).http).toEqual({});
    expect(pageOptions('?httpBufferingDetectMs=300', here).http).toEqual({ bufferingDetectMs: 300 });
  });
});
