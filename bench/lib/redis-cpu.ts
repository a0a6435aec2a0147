/** Redis's own CPU (INFO cpu: system + user seconds since it started), read before and after a probe's run. */
import type { Redis } from 'ioredis';

export async function redisCpuSeconds(r: Redis): Promise<number> {
  const info = String(await r.info('cpu'));
  const get = (key: string) => Number(new RegExp(`\\b${key}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user');
}
