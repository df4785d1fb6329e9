/**
 * `npm test`: makes sure PostgreSQL and Redis answer, recreates the test database, applies
 * migrations, then runs every *.test.ts under test/ with node's test runner.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

const root = path.resolve(__dirname, '..', '..');
process.env.NODE_ENV = 'test';
process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/scim_test';
process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
process.env.OTEL_SDK_DISABLED ??= 'true';
// Two suites at once start APIs and workers against one PostgreSQL (max_connections 100): each
// process keeps two connections open rather than its whole pool (test/db/pool.test.ts sets its own).
process.env.DB_POOL_MIN ??= '2';

/** The whole run's deadline: it takes 5–8 minutes on the CI machine. */
const RUN_DEADLINE_MS = 40 * 60_000;

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'bench' ? [] : findTests(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

async function recreateDatabase(url: string) {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  if (!/^[a-z0-9_]*test[a-z0-9_]*$/.test(name)) throw new Error(`refusing to drop "${name}": test databases must have "test" in their name`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await client.end();
}

async function main() {
  // Required here, not imported at the top: config must see the env set above.
  const { ensureServices } = require('../../infra/scripts/ensure-services') as typeof import('../../infra/scripts/ensure-services');
  // PostgreSQL itself, even when DATABASE_URL is a PgBouncer (DATABASE_POOL_MODE=transaction).
  const direct = process.env.DATABASE_DIRECT_URL || process.env.DATABASE_URL!;
  await ensureServices({ database: direct, redis: process.env.REDIS_URL! });
  await recreateDatabase(direct);
  const { migrate } = require('../../infra/scripts/migrate') as typeof import('../../infra/scripts/migrate');
  await migrate(direct);

  // The browser tests and the page routes serve the built pages.
  const { buildWeb } = require('../../infra/scripts/build-web') as typeof import('../../infra/scripts/build-web');
  buildWeb();

  const filter = process.argv.slice(2);
  const files = findTests(path.join(root, 'test'))
    .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
    .sort();
  // No --test-force-exit: with files running side by side it ends a file's process before its
  // last verdicts reach the runner, which then counts fewer tests than ran, and still exits 0
  // (Node.js issue 64833; 2 to 6 of about 1,600 here). A file that leaves a handle open would
  // instead keep the run alive; the deadline turns that into a loud failure.
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
    stdio: 'inherit',
    cwd: root,
    env: process.env,
    timeout: RUN_DEADLINE_MS,
    killSignal: 'SIGKILL',
  });
  if (result.error)
    console.error(`the tests did not finish within ${RUN_DEADLINE_MS / 60_000} minutes: a test file left something open (${result.error.message})`);
  process.exit(result.status ?? 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
