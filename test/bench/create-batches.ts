/**
 * What a user create costs PostgreSQL when creates arrive one at a time, five at once or twenty
 * at once (shared/db/repositories/resource-inserts.ts gathers those of one event-loop turn into
 * one statement): a microbenchmark, not part of `npm run bench`. Each create is the bench's 1.2 KB
 * Entra user with its user.created event, spread over eight directories, written through each
 * build's own UserRepository. Pass builds (directories like dist/, e.g. two `tsc -p
 * tsconfig.build.json --outDir …` outputs) to compare them; it runs on the bench database
 * `npm run bench` leaves behind (BENCH_DATABASE_URL) and deletes what it wrote:
 *
 *   node --import tsx test/bench/create-batches.ts .scratch/before .scratch/after
 *
 * A build named twice is measured twice, in the order given (interleave them: the first
 * measurement of a run also warms the database's cache).
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { buildsAndDirectories, measureRounds, MICROBENCH_DB_URL as DB_URL } from './microbench';
import { entraCreateUser } from './tenants-at-once';

const DIRECTORIES = 8;
const CREATES = 3_000;
/** BENCH_AT_ONCE=1,5: only those. */
const AT_ONCE = (process.env.BENCH_AT_ONCE ?? '1,5,20').split(',').map(Number);

interface Scope {
  readonly tenantId: string;
  readonly directoryId: string;
}

async function measure(build: string, scopes: readonly Scope[], atOnce: number) {
  const { createDatabase } = require(path.resolve(build, 'shared/db/sequelize.js')) as typeof import('../../shared/db/sequelize');
  const { UserRepository } = require(path.resolve(build, 'shared/db/repositories/users.js')) as typeof import('../../shared/db/repositories/users');
  const { outboxRow } = require(path.resolve(build, 'shared/db/outbox.js')) as typeof import('../../shared/db/outbox');
  const db = createDatabase({ url: DB_URL, poolMax: 20 });
  const label = `cb-${randomUUID().slice(0, 8)}`;
  const create = (n: number) => {
    const scope = scopes[n % scopes.length] as never as import('../../shared/db/repositories/scope').DirectoryScope;
    const id = randomUUID();
    const data = JSON.parse(entraCreateUser(label, n));
    const event = outboxRow({
      tenantId: scope.tenantId,
      directoryId: scope.directoryId,
      type: 'user.created',
      resourceType: 'User',
      resourceId: id,
      actor: 'bench',
      data: { resource: data },
    });
    return new UserRepository(db, scope).insert(id, data, undefined, { event });
  };
  try {
    return await measureRounds(create, atOnce, 300, CREATES);
  } finally {
    await db.close();
    const client = new Client({ connectionString: DB_URL });
    await client.connect();
    await client.query(`DELETE FROM scim_users WHERE user_name LIKE $1`, [`%${label}%`]);
    await client.end();
  }
}

async function main() {
  const { builds, directories: scopes } = await buildsAndDirectories(DIRECTORIES);
  for (const atOnce of AT_ONCE) {
    for (const build of builds) {
      const r = await measure(build, scopes, atOnce);
      console.log(
        `${build}, ${atOnce} at once: PostgreSQL ${r.pgUs.toFixed(0)} µs CPU a create, this process ${r.clientUs.toFixed(0)} µs, ${r.perSecond.toFixed(0)} creates/s`,
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
