import { Client } from 'pg';
import { cpuMeter } from './process-cpu';

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

/**
 * Runs `one(n)` for n from 0 to warmUp + count, `atOnce` at a time (each round awaited), and
 * measures the last `count`: PostgreSQL's and this process's CPU per call (µs) and the calls a second.
 */
export async function measureRounds(one: (n: number) => Promise<unknown>, atOnce: number, warmUp: number, count: number) {
  const rounds = async (from: number, to: number) => {
    for (let n = from; n < to; n += atOnce) await Promise.all(Array.from({ length: atOnce }, (_, k) => one(n + k)));
  };
  await rounds(0, warmUp);
  const cpu = cpuMeter(process.pid);
  const started = performance.now();
  await rounds(warmUp, warmUp + count);
  const wallMs = performance.now() - started;
  const { apiMs, pgMs } = cpu();
  return { pgUs: (pgMs * 1000) / count, clientUs: (apiMs * 1000) / count, perSecond: count / (wallMs / 1000) };
}
