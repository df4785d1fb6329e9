/**
 * What a change of scope costs when one process serves many directories: a microbenchmark, not
 * part of `npm run bench`. Every lookup names another directory than the one before, so on a
 * pool smaller than the number of directories nearly every statement finds its connection in
 * another scope (shared/db/scope-carriers.ts). Pass builds (directories like dist/, e.g. two
 * `tsc -p tsconfig.build.json --outDir …` outputs) to compare them in one session, interleaved;
 * it runs on the bench database `npm run bench` leaves behind (BENCH_DATABASE_URL):
 *
 *   node --import tsx test/bench/scope-changes.ts .scratch/before .scratch/after .scratch/before .scratch/after
 */
import path from 'node:path';
import { buildsAndDirectories, MICROBENCH_DB_URL as DB_URL } from './microbench';

const DIRECTORIES = 16;
const CONCURRENT = 16;
const LOOKUPS = 20_000;

async function measure(build: string, directories: readonly string[]): Promise<number[]> {
  // Each build's own data layer, as compiled.
  const { createDatabase } = require(path.resolve(build, 'shared/db/sequelize.js')) as typeof import('../../shared/db/sequelize');
  const db = createDatabase({ url: DB_URL, poolMax: 8 });
  const lookup = (i: number) =>
    db
      .forDirectory({ directoryId: directories[i % directories.length] })
      .query('SELECT id FROM scim_users WHERE directory_id = $1 AND user_name_folded = $2', [directories[i % directories.length], `nobody-${i}@example.com`]);
  try {
    for (let i = 0; i < 2_000; i++) await lookup(i);
    const rounds: number[] = [];
    for (let round = 0; round < 3; round++) {
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENT }, async () => {
          while (next < LOOKUPS) await lookup(next++);
        }),
      );
      rounds.push(LOOKUPS / ((performance.now() - started) / 1000));
    }
    return rounds;
  } finally {
    await db.close();
  }
}

async function main() {
  const { builds, directories } = await buildsAndDirectories(DIRECTORIES);
  const ids = directories.map((d) => d.directoryId);
  for (const build of builds) console.log(`${build}: ${(await measure(build, ids)).map((r) => r.toFixed(0)).join(' / ')} lookups/s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
