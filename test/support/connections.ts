import type http from 'node:http';
import type { Redis } from 'ioredis';
import type request from 'supertest';
import { config } from '../../shared/config';
import { createRedis } from '../../shared/queue/redis';

/**
 * Redis connections for one suite: `connect()` opens one on the test Redis (queues and workers
 * each take their own), `disconnectAll()` in after() closes every one of them.
 */
export function redisConnections() {
  const opened: Redis[] = [];
  return {
    connect: (): Redis => {
      const c = createRedis(config.REDIS_URL);
      opened.push(c);
      return c;
    },
    disconnectAll: (): void => {
      for (const c of opened) c.disconnect();
    },
  };
}

/** supertest parser keeping a binary body (a gzip download) as one Buffer. */
export function binaryBody(response: request.Response, done: (err: Error | null, body: Buffer) => void): void {
  // Under Node, superagent hands the parser the raw response stream.
  const res = response as unknown as http.IncomingMessage;
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => done(null, Buffer.concat(chunks)));
  res.on('error', (err) => done(err, Buffer.alloc(0)));
}
