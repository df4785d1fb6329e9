import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { checkRedisServer, createRedis } from '../../shared/queue/redis';
import type { Logger } from '../../shared/telemetry/logger';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A JSON logger whose lines the test can read. */
function capturedLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug', base: undefined, formatters: { level: (label) => ({ level: label }) } }, stream) as unknown as Logger;
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('Redis connections', () => {
  let redis: PrivateRedis;
  before(async () => {
    redis = await startPrivateRedis();
  });
  after(() => redis.close());

  it('createRedis › Redis stopped while connected › errors logged as JSON at most once per interval, with the count left out', async () => {
    const captured = capturedLogger();
    const connection = createRedis(redis.url, { logger: captured.logger, errorLogIntervalMs: 500 });
    try {
      await connection.ping();
      await redis.stop();
      await sleep(2600);
      const errors = captured.lines().filter((l) => l.msg === 'redis connection error');
      assert.ok(errors.length >= 2, `${errors.length} lines`);
      assert.ok(errors.length <= 6, `${errors.length} lines in 2.6 s at one per 500 ms`);
      for (const line of errors) assert.equal(line.level, 'warn');
      const times = errors.map((l) => Number(l.time));
      for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 500, 'spaced by the interval');
      assert.equal(errors[0].suppressed, 0);
      assert.ok(
        errors.slice(1).some((l) => Number(l.suppressed) > 0),
        'later lines count the reconnect errors left out',
      );
    } finally {
      connection.disconnect();
      await redis.start();
    }
  });

  it('checkRedisServer › no persistence, then an evicting policy › one warning naming each problem; once fixed › no warning', async () => {
    const admin = createRedis(redis.url);
    try {
      const noPersistence = capturedLogger();
      const first = await checkRedisServer(admin, noPersistence.logger);
      assert.equal(first.checked, true);
      assert.equal(first.problems.length, 1, 'the private Redis runs without AOF or save points');
      assert.equal(noPersistence.lines().filter((l) => l.level === 'warn').length, 1);

      await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      const evicting = capturedLogger();
      assert.equal((await checkRedisServer(admin, evicting.logger)).problems.length, 2);
      assert.equal(evicting.lines().filter((l) => l.level === 'warn').length, 1, 'one line for both');

      await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      // RDB save points count as persistence (nothing is written before an hour and a change).
      await admin.call('CONFIG', 'SET', 'save', '3600 1');
      const fixed = capturedLogger();
      assert.deepEqual(await checkRedisServer(admin, fixed.logger), { checked: true, problems: [] });
      assert.equal(fixed.lines().length, 0);
    } finally {
      await admin.call('CONFIG', 'SET', 'save', '');
      admin.disconnect();
    }
  });

  it('checkRedisServer › CONFIG refused (as on managed Redis) › a warning that it could not be checked, never an error', async () => {
    const admin = createRedis(redis.url);
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pass', '~*', '&*', '+@all', '-config');
    const limited = createRedis(`redis://limited:limited-pass@127.0.0.1:${redis.port}`);
    try {
      const captured = capturedLogger();
      const result = await checkRedisServer(limited, captured.logger);
      assert.deepEqual(result, { checked: false, problems: [] });
      assert.equal(captured.lines().filter((l) => l.level === 'warn').length, 1);
    } finally {
      limited.disconnect();
      await admin.call('ACL', 'DELUSER', 'limited');
      admin.disconnect();
    }
  });
});
