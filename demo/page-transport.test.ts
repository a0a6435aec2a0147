import { describe, expect, test } from 'vitest';
import { transportBadge, TransportWatch } from './page-transport.js';

describe('demo page: transport display', () => {
  test('the badge says ws or http, and that it is the last connection while not connected', () => {
    expect(transportBadge(undefined, false)).toEqual({ text: '–', detail: 'not connected yet' });
    expect(transportBadge('ws', true)).toEqual({ text: 'ws', detail: 'WebSocket' });
    expect(transportBadge('ws', false).detail).toBe('WebSocket (last connection)');
    const http = transportBadge('http', true);
    expect(http.text).toBe('http');
    expect(http.detail).toMatch(/^HTTP: WebSocket did not open/);
    expect(http.detail).toContain('retries WebSocket');
    expect(transportBadge('http', false).detail).toMatch(/\(last connection\)$/);
    // While reconnecting, the carrier of the next attempt (client.transport) is named too.
    expect(transportBadge('ws', false, 'http').detail).toBe('WebSocket (last connection; next attempt over http)');
    expect(transportBadge(undefined, false, 'ws').detail).toBe('not connected yet; next attempt over ws');
    expect(transportBadge('ws', true, 'ws').detail).toBe('WebSocket');
  });

  test('the watch logs a switch only when the transport of a Welcome differs from the one before', () => {
    const w = new TransportWatch();
    expect(w.state).toEqual({ current: undefined, toHttp: 0, toWs: 0 });
    expect(w.onWelcome('ws', 'new')).toBeUndefined(); // the first connection is no switch
    expect(w.onWelcome('ws', 'resumed')).toBeUndefined();
    expect(w.onWelcome('http', 'resumed')).toBe('transport ws → http: WebSocket did not open, the session runs over HTTP (RESUMED)');
    expect(w.onWelcome('http', 'resumed')).toBeUndefined();
    expect(w.onWelcome('ws', 'resumed')).toBe('transport http → ws: WebSocket works again, the session moved back (RESUMED)');
    expect(w.state).toEqual({ current: 'ws', toHttp: 1, toWs: 1 });
    expect(w.summary).toBe('1 to http · 1 back to ws');
  });

  test('HT-20 a page that starts behind a blocking proxy: its first Welcome over http is a fallback (the client starts on ws)', () => {
    const w = new TransportWatch();
    expect(w.onWelcome('http', 'new')).toBe('transport ws → http: WebSocket did not open, the session runs over HTTP (NEW)');
    expect(w.state).toEqual({ current: 'http', toHttp: 1, toWs: 0 });
    expect(w.onWelcome('ws', 'resumed')).toMatch(/^transport http → ws/);
    expect(w.summary).toBe('1 to http · 1 back to ws');
  });
});
