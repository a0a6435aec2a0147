/**
 * The Socket.IO contender of the two-node scenario (issue 14): Socket.IO 4 with
 * `@socket.io/redis-streams-adapter` (its Redis Streams adapter, the one that keeps connection
 * state recovery working across nodes) and `connectionStateRecovery` on; websocket transport only,
 * compression off, as every Socket.IO row of the bench (contenders/baselines.ts).
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server as IoServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { closeHttp, listenHttp } from './baselines.js';

export interface IoRedisNode {
  readonly io: IoServer;
  readonly port: number;
  /** Close the server: every client is disconnected (transport close) and reconnects elsewhere. */
  close(): Promise<void>;
}

export async function startIoRedis(redisUrl: string, recoveryMs: number): Promise<IoRedisNode> {
  const redis = new Redis(redisUrl);
  const http = createServer();
  const io = new IoServer(http, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    maxHttpBufferSize: 1024 * 1024,
    adapter: createAdapter(redis),
    connectionStateRecovery: { maxDisconnectionDuration: recoveryMs, skipMiddlewares: true },
  });
  const port = await listenHttp(http);
  return {
    io,
    port,
    close: async () => {
      await new Promise<void>((r) => void io.close(() => r()));
      await closeHttp(http).catch(() => undefined);
      redis.disconnect();
    },
  };
}
