/** Machine facts for bench/RESULTS.md: ratios travel between machines, absolute numbers do not. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IS_COMPILED, REPO_ROOT } from './paths.js';
import { CORES, HAS_TASKSET } from './proc.js';

const ROOT = REPO_ROOT;

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function hardNofile(): string {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
    return line ? (line.split(/\s+/).slice(3, 5).join(' / ') ?? '?') : '?';
  } catch {
    return '?';
  }
}

export async function machineInfo(placement: 'pinned' | 'shared' = 'pinned'): Promise<[string, string][]> {
  const cpu = cpus()[0]?.model ?? 'unknown';
  return [
    ['CPU', `${cpu}, ${CORES} cores`],
    [
      'processes',
      placement === 'pinned' && HAS_TASKSET && CORES >= 2
        ? 'server pinned to core 0, load generator to core 1 (taskset); 1 core each (each section says how its processes ran)'
        : `unpinned, ${CORES} core(s) shared${placement === 'shared' ? ' (--shared)' : ''}`,
    ],
    ['memory', `${(totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['load average at end (1/5/15 min)', loadavg().map((x) => x.toFixed(2)).join(' / ')],
    ['open files (soft / hard)', hardNofile()],
    ['Node', process.version],
    ['code run', IS_COMPILED ? 'JavaScript compiled by tsc (tsconfig.bench.json), plain node: as the package ships' : 'TypeScript under tsx (esbuild keepNames: every named closure carries an own name property); not representative'],
    ['ws', version('ws')],
    ['socket.io / socket.io-client', `${version('socket.io')} / ${version('socket.io-client')}`],
    ['@bufbuild/protobuf', version('@bufbuild/protobuf')],
    ['xstate', version('xstate')],
  ];
}
