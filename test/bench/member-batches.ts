/**
 * What a one-member Add costs PostgreSQL when Entra's PATCHes reach one group at a time, or eight
 * or twenty groups at once (shared/db/repositories/member-changes.ts gathers the groups' batches
 * of one event-loop turn into one statement): a microbenchmark, not part of `npm run bench`. Each
 * Add is a PATCH's single member operation through each build's own GroupRepository, with its
 * group.user_added event, over groups spread across eight directories. Pass builds (directories
 * like dist/) to compare them; it runs on the bench database `npm run bench` leaves behind
 * (BENCH_DATABASE_URL) and deletes what it wrote:
 *
 *   node --import tsx test/bench/member-batches.ts .scratch/before .scratch/after
 *
 * A build named twice is measured twice, in the order given (interleave them).
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { buildsAndDirectories, measureRounds, MICROBENCH_DB_URL as DB_URL } from './microbench';
import { entraCreateUser } from './tenants-at-once';

const DIRECTORIES = 8;
const ADDS = 3_000;
const WARM_UP = 300;
/** BENCH_AT_ONCE=1,8: only those (groups changed at once, one Add each). */
const AT_ONCE = (process.env.BENCH_AT_ONCE ?? '1,8,20').split(',').map(Number);

type Scope = import('../../shared/db/repositories/scope').DirectoryScope;

async function measure(build: string, scopes: readonly Scope[], atOnce: number) {
  const { createDatabase } = require(path.resolve(build, 'shared/db/sequelize.js')) as typeof import('../../shared/db/sequelize');
  const { UserRepository } = require(path.resolve(build, 'shared/db/repositories/users.js')) as typeof import('../../shared/db/repositories/users');
  const { GroupRepository } = require(path.resolve(build, 'shared/db/repositories/groups.js')) as typeof import('../../shared/db/repositories/groups');
  const db = createDatabase({ url: DB_URL, poolMax: 20 });
  const label = `mb-${randomUUID().slice(0, 8)}`;
  // Twenty groups in each directory, and one user for every Add, made beforehand.
  const groups = await Promise.all(
    Array.from({ length: 20 * scopes.length }, async (_, n) => {
      const scope = scopes[n % scopes.length];
      const id = randomUUID();
      await new GroupRepository(db, scope).insert(id, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `${label} ${n}` });
      return { scope, id };
    }),
  );
  const users: string[] = [];
  for (let n = 0; n < WARM_UP + ADDS; n += 20) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, k) => {
        const id = randomUUID();
        // Each Add's user in the directory of the group it joins (see below).
        await new UserRepository(db, groups[(n + k) % groups.length].scope).insert(id, JSON.parse(entraCreateUser(label, n + k)));
        users[n + k] = id;
      }),
    );
  }
  const add = (n: number) => {
    const group = groups[n % groups.length];
    return new GroupRepository(db, group.scope).changeMembers(group.id, 'add', [users[n]], 'bench');
  };
  // Each round changes `atOnce` different groups (consecutive n fall in different groups).
  try {
    return await measureRounds(add, atOnce, WARM_UP, ADDS);
  } finally {
    await db.close();
    const client = new Client({ connectionString: DB_URL });
    await client.connect();
    await client.query(`DELETE FROM scim_users WHERE user_name LIKE $1`, [`%${label}%`]);
    await client.query(`DELETE FROM scim_groups WHERE display_name LIKE $1`, [`${label}%`]);
    await client.end();
  }
}

async function main() {
  const { builds, directories: scopes } = await buildsAndDirectories(DIRECTORIES);
  for (const atOnce of AT_ONCE) {
    for (const build of builds) {
      const r = await measure(build, scopes as never, atOnce);
      console.log(
        `${build}, ${atOnce} groups at once: PostgreSQL ${r.pgUs.toFixed(0)} µs CPU an Add, this process ${r.clientUs.toFixed(0)} µs, ${r.perSecond.toFixed(0)} Adds/s`,
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
