// Checks the operator examples shipped in ops/: the alert rules name metrics that exist and fire
// when they should (promtool, when installed), and the proxy configs are valid and do their job.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { parse } from 'yaml';
import { defaults } from '../../spec/protocol/defaults.js';
import { createLifelineMetrics } from './metrics.js';

const ops = fileURLToPath(new URL('../../ops/', import.meta.url));
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const run = (cmd: string, args: string[], cwd = ops) => spawnSync(cmd, args, { cwd, encoding: 'utf8' });

/** A dead peer is dropped within interval × (missed_max + 1) plus one interval of sweep (HB-3), in seconds. */
const detectionBoundS = (defaults.heartbeatIntervalMs * (defaults.heartbeatMissedMax + 2)) / 1000;

interface Rule {
  alert?: string;
  expr?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('ops/prometheus alert rules', () => {
  const doc = parse(readFileSync(join(ops, 'prometheus/lifeline-alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);

  test('every alert names only metrics the exporter registers', async () => {
    const registered = new Set<string>();
    for (const m of await createLifelineMetrics().registry.getMetricsAsJSON()) {
      registered.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) registered.add(m.name + s);
    }
    expect(rules.map((r) => r.alert)).toEqual(['LifelineAbnormalCloses', 'LifelineHeartbeatSweepDrift', 'LifelineStateDigestMismatch']);
    for (const rule of rules) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      const names = rule.expr?.match(/\blifeline_[a-z_]+/g) ?? [];
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(registered, `${rule.alert}: ${name}`).toContain(name);
    }
    // The sources' alert, exactly: codes 1006–1009, rate over 5 m, threshold 0.1.
    expect(rules[0]?.expr).toContain('lifeline_closes_total{code=~"100[6-9]"}[5m]');
    expect(rules[0]?.expr).toMatch(/> 0\.1$/);
    expect(rules[1]?.expr).toContain('lifeline_heartbeat_interval_seconds');
  });

  test.skipIf(!has('promtool'))('promtool checks the rules and their unit tests pass', () => {
    const check = run('promtool', ['check', 'rules', 'prometheus/lifeline-alerts.yml']);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const unit = run('promtool', ['test', 'rules', 'lifeline-alerts.test.yml'], join(ops, 'prometheus'));
    expect(unit.status, unit.stdout + unit.stderr).toBe(0);
    expect(unit.stdout).toContain('SUCCESS');
  });
});

describe('ops proxy and Kubernetes examples', () => {
  test('timeouts exceed the detection bound; Kubernetes drains within its grace period', () => {
    const nginx = readFileSync(join(ops, 'nginx/lifeline.conf'), 'utf8');
    for (const d of ['proxy_read_timeout', 'proxy_send_timeout']) {
      const s = Number(new RegExp(`${d} (\\d+)s;`).exec(nginx)?.[1]);
      expect(s, d).toBeGreaterThan(detectionBoundS);
    }
    expect(nginx).toMatch(/proxy_http_version 1\.1;/);
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginx).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    const haproxy = readFileSync(join(ops, 'haproxy/lifeline.cfg'), 'utf8');
    expect(Number(/timeout tunnel\s+(\d+)s/.exec(haproxy)?.[1])).toBeGreaterThan(detectionBoundS);
    expect(haproxy).toMatch(/cookie \w+ insert/);

    const service = parse(readFileSync(join(ops, 'kubernetes/service.yaml'), 'utf8'));
    expect(service.spec.sessionAffinity).toBe('ClientIP');
    const deployment = parse(readFileSync(join(ops, 'kubernetes/deployment.yaml'), 'utf8'));
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    const preStopS = Number(container.lifecycle.preStop.exec.command[1]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopS + defaults.drainDeadlineMs / 1000);
  });

  test.skipIf(!has('haproxy'))('haproxy accepts the HAProxy example', () => {
    const r = run('haproxy', ['-c', '-f', 'haproxy/lifeline.cfg']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  describe.skipIf(!has('nginx'))('nginx example', () => {
    let dir: string | undefined;
    let proxy: ChildProcess | undefined;
    let backend: WebSocketServer | undefined;
    afterEach(async () => {
      proxy?.kill('SIGTERM');
      if (proxy && proxy.exitCode === null) await new Promise((r) => proxy?.once('exit', r));
      await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
      if (dir) rmSync(dir, { recursive: true, force: true });
      proxy = backend = dir = undefined;
    });

    test('SEC-2 proxies a WebSocket upgrade end to end and logs no ticket', async () => {
      backend = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('lifeline.v1') ? 'lifeline.v1' : false) });
      backend.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
      await new Promise((r) => backend?.once('listening', r));
      const backendPort = (backend.address() as AddressInfo).port;
      const port = await freePort();
      dir = mkdtempSync(join(tmpdir(), 'lifeline-nginx-'));
      // The shipped file, pointed at loopback: only addresses and the log path change.
      const site = readFileSync(join(ops, 'nginx/lifeline.conf'), 'utf8')
        .replace(/^\s*server 10\.0\.0\.\d+:8080;\n/gm, '')
        .replace('hash $remote_addr consistent;', `hash $remote_addr consistent;\n  server 127.0.0.1:${backendPort};`)
        .replace('listen 80;', `listen 127.0.0.1:${port};`)
        .replace('/var/log/nginx/lifeline.log', join(dir, 'lifeline.log'));
      expect(site).toContain(`server 127.0.0.1:${backendPort};`);
      writeFileSync(join(dir, 'site.conf'), site);
      writeFileSync(
        join(dir, 'nginx.conf'),
        [
          'daemon off;',
          'master_process off;',
          `pid ${join(dir, 'nginx.pid')};`,
          `error_log ${join(dir, 'error.log')};`,
          'events {}',
          `http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; include ${join(dir, 'site.conf')}; }`,
        ].join('\n'),
      );
      proxy = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
      const secret = 'tkt-5ecret-0f-the-test';
      await vi.waitFor(
        async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/lifeline?ticket=${secret}`, 'lifeline.v1');
          const echoed = await new Promise<Buffer>((resolve, reject) => {
            ws.once('open', () => ws.send(Buffer.from([1, 2, 3])));
            ws.once('message', (d) => resolve(d as Buffer));
            ws.once('error', reject);
          });
          expect(ws.protocol).toBe('lifeline.v1');
          expect([...echoed]).toEqual([1, 2, 3]);
          ws.close(1000);
          await new Promise((r) => ws.once('close', r));
        },
        { timeout: 10_000, interval: 100 },
      );
      await vi.waitFor(() => expect(readFileSync(join(dir as string, 'lifeline.log'), 'utf8')).toMatch(/"GET \/lifeline" 101 /), { timeout: 5_000 });
      expect(readFileSync(join(dir, 'lifeline.log'), 'utf8')).not.toContain(secret);
    });
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}
