import type http from 'node:http';
import type { Queue } from 'bullmq';
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

/**
 * A worker suite's teardown, in the order that leaves nothing behind: the worker (it holds
 * jobs), its queue's keys on the suite's prefix, the suite's Redis connections, then the app.
 */
export async function closeWorkerSuite(suite: {
  worker: { close(): Promise<void> };
  queue: Queue;
  connections: { disconnectAll(): void };
  app: { close(): Promise<void> };
}): Promise<void> {
  await suite.worker.close();
  await suite.queue.obliterate({ force: true });
  await suite.queue.close();
  suite.connections.disconnectAll();
  await suite.app.close();
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
