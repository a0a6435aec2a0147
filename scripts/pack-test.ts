/**
 * The packaging test (issue 17; `npm run test:package`, a step of .ci/run): the package as a user
 * gets it. `npm pack` (prepack builds dist/), install the tarball into an empty project with no dev
 * dependencies, and there, with plain `node` and nothing from this repository on the path:
 *
 * 1. the tarball holds dist/, LICENSE, README, proto/ and no test, bench, e2e, testkit or CI file,
 *    and every package the shipped JavaScript imports is a runtime dependency;
 * 2. examples/server.mjs (attached to an existing http.Server) and examples/node-client.mjs, which
 *    sends and receives through it; the server drains and exits 0 on SIGTERM;
 * 3. `lifeline --version`, `lifeline serve --help`, `serve --demo` saying it needs a clone, and `lifeline conformance self` on two cases
 *    (one of them runs the compiled reference client adapter as a child process);
 * 4. a TypeScript consumer of every export type-checks against the shipped `.d.ts` (this repo's tsc);
 *    `lifeline/server/redis` imports with plain node, and `lifeline/server` alone loads no ioredis;
 * 5. examples/browser-client.js bundled from the installed package with esbuild (the `browser`
 *    condition) and loaded in headless Chromium from the example server: it connects, sends and
 *    receives.
 *
 * 6. docs/api/ is what TypeDoc makes of the entry points' TSDoc now (scripts/api-docs.ts --check).
 *
 * Prints the tarball's size and file count and the browser bundle's size. `--keep` keeps the temp
 * project; `--no-build` packs the dist/ already built (npm pack --ignore-scripts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { staleApiPages } from './api-docs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const args = new Set(process.argv.slice(2));
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

/** What must never be in the tarball (issue 17: no tests, bench, e2e, CI). */
const FORBIDDEN = [/\.test\.[cm]?[jt]s/, /^(bench|e2e|test|testkit|scripts|\.ci|demo|examples|node_modules)\//, /^dist\/(demo|test|browser\/vendor)\//, /test-support/, /\/mutants\/run\./, /(?<!\.d)\.ts$/];
const REQUIRED = ['LICENSE', 'README.md', 'package.json', 'dist/bin/lifeline.js', 'dist/browser/lifeline-client.js', 'dist/spec/lifeline.md'];

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly { path: string }[];
}

const t0 = performance.now();
const children: ChildProcess[] = [];
const fail = (msg: string): never => {
  throw new Error(msg);
};
function step(name: string): void {
  console.log(`\n[pack-test ${((performance.now() - t0) / 1000).toFixed(1)} s] ${name}`);
}

function run(cmd: string, argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, argv, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) fail(`${cmd} ${argv.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** run(), without blocking the steps that go on meanwhile. */
function runAsync(cmd: string, argv: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${argv.join(' ')} (in ${cwd}) exited ${code}:\n${out}`))));
  });
}

/** Start a long-running child; resolves with the first match of `ready` in its stdout. */
function start(cmd: string, argv: readonly string[], cwd: string, ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: no ${ready} within 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')} exited ${code} before ${ready}:\n${out}`));
    });
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Bare specifiers the shipped JavaScript imports, each to be a dependency or a Node builtin. */
async function checkImports(project: string): Promise<number> {
  const dir = join(project, 'node_modules', pkg.name);
  // tsc's output (the browser bundle in dist/browser/ has no imports left).
  const files = run('find', ['dist', '-name', '*.js', '-not', '-path', 'dist/browser/*'], dir).trim().split('\n');
  const builtins = new Set(builtinModules);
  const wanted = new Set<string>();
  for (const f of files) {
    const src = await readFile(join(dir, f), 'utf8');
    // Import statements and literal dynamic imports (the compiled output is tsc's, one per line).
    for (const m of src.matchAll(/^(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"'./][^"']*)["']|^import\s*["']([^"'./][^"']*)["']|\bimport\(\s*["']([^"'./][^"']*)["']\s*\)/gm)) wanted.add((m[1] ?? m[2] ?? m[3]) as string);
  }
  for (const spec of wanted) {
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
    if (spec.startsWith('node:') || builtins.has(spec)) continue;
    if (!(name in pkg.dependencies)) fail(`dist imports ${spec}, which is not in dependencies`);
  }
  return wanted.size;
}

const CONSUMER = `// Every public entry point, as a TypeScript user imports it (issue 17).
import { createServer as createHttpServer } from 'node:http';
import { createServer, createTicketIssuer, ticketAuthenticator, MemoryHub, type LifelineServerOptions, type LifelineSession } from '${pkg.name}/server';
import { RedisBroker, RedisSessionStore, RedisUnavailableError, BrokerUnavailableError, type RedisBrokerOptions, type RedisSessionStoreOptions } from '${pkg.name}/server/redis';
import { createBrowserClient, createClient, type ClientEvent, type WelcomeInfo } from '${pkg.name}/client';
import { createNodeClient } from '${pkg.name}/client/node';
import { catalogue, runConformance, type ConformanceOptions } from '${pkg.name}/conformance';
import { closeCodes, decode, encode, create, EnvelopeSchema, type CloseCodeName } from '${pkg.name}/protocol';

const tickets = createTicketIssuer({ ttlMs: 30_000 });
const options: LifelineServerOptions = { httpServer: createHttpServer(), authenticate: ticketAuthenticator(tickets) };
const server = createServer(options);
server.on('message', (session: LifelineSession, m) => session.send({ payload: m.payload }));
const client = createNodeClient({ url: 'ws://127.0.0.1:1/lifeline', autoConnect: false });
const off: () => void = client.on('welcome', (w: WelcomeInfo) => w.sessionId.length);
client.onEvent((e: ClientEvent<Uint8Array>) => e.type);
const ready: Promise<WelcomeInfo> = client.ready();
const sent: Promise<void> = client.send('x');
const id: string = client.post(new Uint8Array([1]));
const subscribed: Promise<void> = client.subscribe(['a', 'b']);
createClient({ url: 'ws://x/lifeline', autoConnect: false }).unsubscribe('a');
createBrowserClient({ url: 'ws://x/lifeline', autoConnect: false, channels: ['chat'], getToken: () => 't' }).close();
const name: CloseCodeName = 'HEARTBEAT_TIMEOUT';
const code: number | undefined = closeCodes[name].code;
const r = decode(encode(create(EnvelopeSchema, { body: { case: 'ack', value: { seq: 1n } } })));
const cases: number = catalogue.length;
const run: (o: ConformanceOptions) => Promise<unknown> = runConformance;
// @ts-expect-error: the shipped types reject a misspelt option
createServer({ heartbeatIntervalMS: 1 });
// Several nodes (issue 14): the Redis entry's constructors and errors; an in-process hub from lifeline/server.
const storeOptions: RedisSessionStoreOptions = { redis: 'redis://127.0.0.1:1/0', prefix: 'app:' };
const brokerOptions: RedisBrokerOptions = { redis: 'redis://127.0.0.1:1/0' };
const multi = (): LifelineServerOptions => ({ sessionStore: new RedisSessionStore(storeOptions), broker: new RedisBroker(brokerOptions) });
const hubbed: LifelineServerOptions = { broker: new MemoryHub().broker('n1') };
const away: Error[] = [new RedisUnavailableError('x'), new BrokerUnavailableError('x')];
export { off, ready, sent, id, subscribed, code, r, cases, run, multi, hubbed, away };
`;

async function typeCheck(project: string): Promise<void> {
  await writeFile(join(project, 'consumer.ts'), CONSUMER);
  // ioredis's own declarations import 'redis-errors', which ships none: any project that type-checks
  // ioredis with skipLibCheck false needs this line, with or without Lifeline (lifeline/server/redis
  // names ioredis's Redis type). Lifeline's own .d.ts are still checked in full.
  await writeFile(join(project, 'redis-errors.d.ts'), "declare module 'redis-errors';\n");
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        // A consumer has @types/node; this one borrows the repo's rather than downloading it.
        typeRoots: [join(root, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['consumer.ts', 'redis-errors.d.ts'],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await runAsync(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], project);
}

async function browserCheck(project: string, httpUrl: string): Promise<number> {
  const out = join(project, 'bundle.js');
  await build({ entryPoints: [join(project, 'browser-client.js')], bundle: true, format: 'esm', platform: 'browser', outfile: out, absWorkingDir: project, logLevel: 'warning', minify: true });
  const bytes = (await stat(out)).size;
  if (!existsSync(CHROMIUM)) {
    console.log(`  ${CHROMIUM} missing: bundle built (${bytes} B), browser run skipped (scripts/install-system-deps.sh installs it)`);
    return bytes;
  }
  const profile = await mkdtemp(join(tmpdir(), 'lifeline-pack-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(httpUrl);
    const log = page.locator('#log');
    await log.filter({ hasText: 'state: connected' }).waitFor({ timeout: 20_000 });
    await page.click('button');
    await log.filter({ hasText: '[chat] alice: hello from the browser' }).waitFor({ timeout: 20_000 });
    if (errors.length) fail(`page errors: ${errors.join('; ')}`);
    console.log(`  Chromium: ${(await log.textContent())?.trim().replace(/\n/g, ' | ')}`);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
  return bytes;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'lifeline-pack-'));
  const project = join(work, 'app');
  try {
    step(args.has('--no-build') ? 'npm pack --ignore-scripts (dist/ as built)' : 'npm pack (prepack: npm run build)');
    const packJson = run('npm', ['pack', '--json', '--pack-destination', work, ...(args.has('--no-build') ? ['--ignore-scripts'] : [])], root);
    const packed = (JSON.parse(packJson.slice(packJson.indexOf('[\n'))) as PackResult[])[0] ?? fail('npm pack printed no result');
    const paths = packed.files.map((f) => f.path);
    for (const p of paths) for (const re of FORBIDDEN) if (re.test(p)) fail(`the tarball holds ${p} (matches ${re})`);
    for (const p of REQUIRED) if (!paths.includes(p)) fail(`the tarball lacks ${p}`);
    const tarball = join(work, packed.filename);
    console.log(`  ${packed.filename}: ${(packed.size / 1024).toFixed(1)} KiB, ${packed.entryCount} files (${(packed.unpackedSize / 1024).toFixed(1)} KiB unpacked)`);

    // TypeDoc needs only the sources: it runs beside the steps below (two cores), awaited at the end.
    const docsCheck = staleApiPages();
    docsCheck.catch(() => {}); // awaited below; not unhandled meanwhile

    step('install the tarball into an empty project (no dev dependencies)');
    await cp(join(root, 'examples'), project, { recursive: true });
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'lifeline-pack-test-app', private: true, type: 'module' }, null, 2));
    run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball], project);
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild']) if (existsSync(join(project, 'node_modules', dev))) fail(`${dev} was installed: it must not be a runtime dependency`);
    console.log(`  ${await checkImports(project)} bare imports in dist/, each a dependency or a Node builtin`);

    // Nothing of this repository may be found from the project: plain node, its own node_modules.
    const env = { ...process.env, NODE_OPTIONS: '', NODE_PATH: '', PORT: '0' };
    const bin = join(project, 'node_modules', '.bin', 'lifeline');

    // tsc on the consumer runs beside the node steps below, awaited after them.
    const typeChecked = typeCheck(project);
    typeChecked.catch(() => {});

    step('lifeline/server/redis imports with plain node; lifeline/server loads no ioredis');
    const entryCheck = `import { createRequire } from 'node:module';
const single = await import('${pkg.name}/server');
const ioredisLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/ioredis/'));
if (typeof single.MemoryHub !== 'function' || typeof single.BrokerUnavailableError !== 'function') throw new Error('lifeline/server lacks MemoryHub or BrokerUnavailableError');
if (ioredisLoaded()) throw new Error('lifeline/server loaded ioredis');
const redis = await import('${pkg.name}/server/redis');
for (const k of ['RedisSessionStore', 'RedisBroker', 'RedisUnavailableError', 'BrokerUnavailableError']) if (typeof redis[k] !== 'function') throw new Error('lifeline/server/redis lacks ' + k);
if (!ioredisLoaded()) throw new Error('lifeline/server/redis did not load ioredis');
console.log(Object.keys(redis).length);`;
    await writeFile(join(project, 'entries.mjs'), entryCheck);
    console.log(`  lifeline/server/redis: ${run(process.execPath, ['entries.mjs'], project, env).trim()} exports; lifeline/server without ioredis`);

    step('lifeline --version, lifeline serve --help');
    const version = run(bin, ['--version'], project, env).trim();
    if (version !== pkg.version) fail(`lifeline --version printed ${version}, package.json says ${pkg.version}`);
    const help = run(bin, ['serve', '--help'], project, env);
    for (const s of ['--port', '--auth-tokens-file', '(default: 25000)']) if (!help.includes(s)) fail(`serve --help lacks ${s}`);
    console.log(`  lifeline --version: ${version}; serve --help: ${help.split('\n').length} lines`);
    // The package leaves the demo out (its page bundles Mermaid); --demo must say so, not crash.
    const demo = spawnSync(bin, ['serve', '--demo', '--port', '0'], { cwd: project, env, encoding: 'utf8', timeout: 20_000 });
    if (demo.status !== 1 || !demo.stderr.includes('--demo runs from a clone')) fail(`lifeline serve --demo in the package: exit ${demo.status}\n${demo.stdout}\n${demo.stderr}`);
    console.log(`  lifeline serve --demo: ${demo.stderr.trim()}`);

    step('lifeline conformance self: one server-mode and one client-mode case (the compiled client adapter)');
    const conf = run(bin, ['conformance', 'self', '--quiet', '--case', 'HS-1/plain-get-426', 'HS-10/client-handshake-timeout-4201'], project, env);
    if (!/2 cases: 2 pass/.test(conf)) fail(`lifeline conformance self:\n${conf}`);
    console.log(`  ${conf.split('\n').find((l) => l.includes('cases:'))}`);

    step('examples/server.mjs and examples/node-client.mjs with plain node');
    const server = await start(process.execPath, ['server.mjs'], project, /listening on (http:\/\/\S+)/, env);
    const httpUrl = server.match[1] as string;
    const wsUrl = `${httpUrl.replace(/^http/, 'ws')}lifeline`;
    const client = await start(process.execPath, ['node-client.mjs'], project, /\[chat\] alice: hello from Node/, { ...env, LIFELINE_URL: wsUrl });
    const clientCode = await exited(client.child, 10_000);
    if (clientCode !== 0) fail(`node-client.mjs exited ${clientCode}:\n${client.output()}`);
    console.log(`  node-client.mjs: ${client.output().trim()}`);


    step('the browser client bundled from the package with esbuild, in headless Chromium');
    const bundleBytes = await browserCheck(project, httpUrl);
    const gz = gzipSync(await readFile(join(project, 'bundle.js'))).length;

    server.child.kill('SIGTERM');
    const serverCode = await exited(server.child, 15_000);
    if (serverCode !== 0) fail(`server.mjs exited ${serverCode} on SIGTERM:\n${server.output()}`);

    step('a TypeScript consumer against the shipped .d.ts (started after the install)');
    await typeChecked;
    console.log('  consumer.ts type-checks (strict, NodeNext, skipLibCheck false)');

    step('docs/api/ is the TSDoc of the public entry points (TypeDoc, started after npm pack)');
    const stale = await docsCheck;
    if (stale.length) fail(`docs/api/ is stale (${stale.join(', ')}): run \`npm run docs:api\` and commit the result`);
    console.log('  docs/api/ is current');

    console.log(
      `\npack-test passed in ${((performance.now() - t0) / 1000).toFixed(1)} s: tarball ${(packed.size / 1024).toFixed(1)} KiB, ${packed.entryCount} files; ` +
        `browser example bundle ${(bundleBytes / 1024).toFixed(1)} KiB minified (${(gz / 1024).toFixed(1)} KiB gzip)`,
    );
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (args.has('--keep')) console.log(`kept ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`\npack-test FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
