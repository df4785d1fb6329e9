import { Client } from 'pg';

/** The bench database `npm run bench` leaves behind, where the microbenchmarks run (BENCH_DATABASE_URL). */
export const MICROBENCH_DB_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@localhost/scim_bench?host=/var/run/postgresql';

/**
 * What a microbenchmark comparing builds starts from: the builds named on its command line
 * (directories like dist/) and the bench database's `count` newest directories.
 */
export async function buildsAndDirectories(count: number): Promise<{ builds: string[]; directories: { directoryId: string; tenantId: string }[] }> {
  process.env.OTEL_SDK_DISABLED = 'true';
  const builds = process.argv.slice(2);
  if (builds.length === 0) throw new Error('name one or more builds (directories like dist/)');
  const client = new Client({ connectionString: MICROBENCH_DB_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; tenant_id: string }>('SELECT id, tenant_id FROM directories ORDER BY created_at DESC LIMIT $1', [count]);
    if (rows.length < count) throw new Error(`the bench database has ${rows.length} directories; run npm run bench first`);
    return { builds, directories: rows.map((r) => ({ directoryId: r.id, tenantId: r.tenant_id })) };
  } finally {
    await client.end();
  }
}
