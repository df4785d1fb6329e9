import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { ConnectionAcquireTimeoutError, ConnectionRefusedError, DatabaseError, UniqueConstraintError } from 'sequelize';
import { outageReporter } from '../../services/api/middleware/errors';
import { config } from '../../shared/config';
import { isDatabaseUnavailable } from '../../shared/db/errors';
import { createDatabase } from '../../shared/db/sequelize';
import { ScimError } from '../../shared/scim/errors';
import type { Logger } from '../../shared/telemetry/logger';
import { freePort } from '../support/redis';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });
// Sequelize wraps a driver error as `parent` and `original`.
const wrapped = (inner: Error) => new DatabaseError(inner as never);

describe('isDatabaseUnavailable › an outage or refusal, not a bad statement', () => {
  const cases: [string, unknown, boolean][] = [
    ['connection refused (socket)', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), true],
    ['connection reset (socket)', pgError('ECONNRESET'), true],
    ['node-postgres: connection terminated unexpectedly', new Error('Connection terminated unexpectedly'), true],
    ['node-postgres: connect timeout', new Error('Connection terminated due to connection timeout'), true],
    ['node-postgres: client no longer queryable', new Error('Client has encountered a connection error and is not queryable'), true],
    ['57P01 admin_shutdown, wrapped by Sequelize', wrapped(pgError('57P01')), true],
    ['57P03 cannot_connect_now (starting up)', pgError('57P03'), true],
    ['53300 too_many_connections', pgError('53300'), true],
    ['08006 connection_failure', pgError('08006'), true],
    ['25006 read_only_sql_transaction (a write on a standby during failover)', wrapped(pgError('25006')), true],
    ['Sequelize ConnectionRefusedError', new ConnectionRefusedError(pgError('ECONNREFUSED')), true],
    ['Sequelize ConnectionAcquireTimeoutError', new ConnectionAcquireTimeoutError(new Error('Operation timeout')), true],
    ['an error chained as cause', new Error('lookup failed', { cause: pgError('ECONNREFUSED') }), true],
    ['23505 unique_violation', wrapped(pgError('23505')), false],
    ['Sequelize UniqueConstraintError', new UniqueConstraintError({}), false],
    ['22P02 invalid_text_representation', pgError('22P02'), false],
    ['42601 syntax_error', pgError('42601'), false],
    ['57014 query_canceled (statement timeout)', pgError('57014'), false],
    ['a ScimError', new ScimError(400, 'invalidValue', 'x'), false],
    ['a TypeError (a bug)', new TypeError('x is undefined'), false],
    ['null', null, false],
    ['a string', 'ECONNREFUSED', false],
  ];
  for (const [situation, err, expected] of cases) {
    it(`${situation} › ${expected}`, () => {
      assert.equal(isDatabaseUnavailable(err), expected);
    });
  }

  it('a real backend terminated by pg_terminate_backend mid-query › true', async () => {
    const victim = new Client({ connectionString: config.DATABASE_URL });
    const killer = new Client({ connectionString: config.DATABASE_URL });
    await Promise.all([victim.connect(), killer.connect()]);
    victim.on('error', () => undefined);
    try {
      const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const sleeping = victim.query('SELECT pg_sleep(10)').then(
        () => undefined,
        (err: unknown) => err,
      );
      await new Promise((r) => setTimeout(r, 100));
      await killer.query('SELECT pg_terminate_backend($1)', [pid]);

      const err = await sleeping;

      assert.ok(err, 'the query failed');
      assert.equal(isDatabaseUnavailable(err), true);
    } finally {
      await Promise.allSettled([victim.end(), killer.end()]);
    }
  });

  it('a real Database pointed at a closed port › its query rejects with an error that is true', async () => {
    const url = new URL(config.DATABASE_URL);
    url.port = String(await freePort());
    const db = createDatabase({ url: url.toString(), poolMax: 1, connectTimeoutMs: 500, acquireTimeoutMs: 1_000 });
    try {
      const err = await db
        .acrossTenants()
        .query('SELECT 1')
        .then(
          () => undefined,
          (e: unknown) => e,
        );

      assert.equal(isDatabaseUnavailable(err), true);
    } finally {
      await db.close();
    }
  });

  it('a real statement error (22012 division by zero) through a Database › false', async () => {
    const db = createDatabase({ poolMax: 1 });
    try {
      const err = await db
        .acrossTenants()
        .query('SELECT 1/0')
        .then(
          () => undefined,
          (e: unknown) => e,
        );

      assert.ok(err);
      assert.equal(isDatabaseUnavailable(err), false);
    } finally {
      await db.close();
    }
  });
});

describe('outageReporter › refusals are logged once per interval with their count', () => {
  const recorder = () => {
    const lines: Record<string, unknown>[] = [];
    const logger = { error: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
    return { logger, lines };
  };

  it('the first refusal › one line at once, with the driver reason', () => {
    const { logger, lines } = recorder();
    const report = outageReporter(logger, 10_000, () => 1_000);

    report.refused(new ConnectionRefusedError(pgError('ECONNREFUSED')));

    assert.deepEqual(lines, [{ refused: 1, 'db.error': 'ECONNREFUSED' }]);
  });

  it('50 refusals within the interval, then one after it › two lines, the second counting the 50', () => {
    const { logger, lines } = recorder();
    let now = 0;
    const report = outageReporter(logger, 10_000, () => now);

    for (let i = 0; i < 50; i++) {
      report.refused(pgError('57P01'));
      now += 100;
    }
    now = 10_000;
    report.refused(pgError('57P01'));

    assert.deepEqual(lines, [
      { refused: 1, 'db.error': '57P01' },
      { refused: 50, 'db.error': '57P01' },
    ]);
  });
});
