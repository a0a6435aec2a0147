import { describe, expect, test } from 'vitest';
import { originAllowlist } from './options.js';
import { ownOrigins } from './own-origins.js';

describe('the demo\'s own origins (SEC-1)', () => {
  test('SEC-1 loopback listeners are reached as 127.0.0.1, localhost and [::1], each with the port', () => {
    expect(ownOrigins('127.0.0.1', 8080).sort()).toEqual(['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://localhost:8080']);
    expect(ownOrigins('localhost', 80)).toContain('http://localhost'); // the default port is not written
  });

  test('SEC-1 a named host is its own origin; every origin passes the exact-allowlist check', () => {
    expect(ownOrigins('Demo.Example', 8443)).toContain('http://demo.example:8443');
    for (const host of ['127.0.0.1', '0.0.0.0', '::', 'demo.example']) expect(() => originAllowlist(ownOrigins(host, 9000))).not.toThrow();
  });

  test('SEC-9 allowlist entries a browser never sends are refused at start with what to write', () => {
    expect(() => originAllowlist(['https://app.example/'])).toThrow(/did you mean 'https:\/\/app.example'/);
    expect(() => originAllowlist(['https://App.Example'])).toThrow(/did you mean/);
    expect(() => originAllowlist(['null'])).toThrow(/opaque/);
    expect(() => originAllowlist(['app.example'])).toThrow(/not an (http\(s\) )?origin/);
    expect([...originAllowlist(['https://app.example', 'http://127.0.0.1:8080'])]).toHaveLength(2);
  });
});
