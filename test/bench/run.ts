/**
 * `npm run bench`: SCIM throughput against a real listening API process, with the machine's raw
 * limits measured in the same run so figures can be read as ratios. Prints a table and writes
 * bench-results/<timestamp>.json. Bounded: every scenario stops itself (duration or amount).
 *
 * Environment: BENCH_DATABASE_URL (default scim_bench through PostgreSQL's Unix socket, else
 * postgres://postgres@127.0.0.1:5432/scim_bench; dropped and recreated), BENCH_USERS (default
 * 100000), BENCH_SECONDS (default 10 per scenario), BENCH_ONLY, BENCH_CPU_PROF, BENCH_API_DIST and the webhook
 * figures' BENCH_WEBHOOK_RATE, BENCH_WEBHOOK_SECONDS, BENCH_GROUP_SIZE, BENCH_EXPORT_EVENTS, and the noisy
 * neighbour's BENCH_QUIET_RATE (default 40), BENCH_NOISY_LIMIT (50), BENCH_NOISY_RATE (500) and BENCH_NOISY_SECONDS (6 × BENCH_SECONDS: three rounds of 20 s alone and 20 s beside at the default); BENCH_API_PORT.
 * Tenants at once (tenants-at-once.ts, BENCH_ONLY=tenants): BENCH_TENANTS_RAMP (tenants per step, default
 * "10,20,30,40,50,60"), BENCH_TENANTS_SECONDS (the window of each tenant's cycle a step measures, default 60),
 * BENCH_TENANT_USERS (users per tenant's cycle, default 2000), BENCH_TENANT_GROUPS (50), BENCH_TENANT_RATE
 * (requests/s per tenant, default 25: Entra's pace), BENCH_TENANTS_DRAIN (longest wait for a step's
 * webhooks, default 120 s), BENCH_TENANTS_CLIENTS (load-generator processes, default 2) and
 * BENCH_TENANTS_CLIENT_NICE (their nice value, default 10; 0 before session 12). Its raw baseline
 * (raw-scim-server.ts; BENCH_ONLY=raw or raw-paced): the same clients and pace against a bare
 * server doing one PostgreSQL statement per request, ramped by BENCH_RAW_TENANTS_RAMP (default
 * "40,80,120,160,200").
 * When BENCH_ONLY selects tenants or raw-paced alone, the BENCH_USERS prefill is skipped.
 * The pages scenario (pages.ts) loads the setup page and the console in Debian's chromium.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { buildWeb } from '../../infra/scripts/build-web';
import { runLoad, type LoadOptions, type LoadResult } from './load';
import { childPids, cpuMeter } from './process-cpu';
import { type Prefilled, prefillDirectory } from './prefill';
import { peakRssMiB, rssMiB } from './process-memory';
import { pageLoadTable, runPageLoadBench } from './pages';
import { noisyNeighbourTable, runNoisyNeighbourBench } from './noisy-neighbour';
import { runTenantsBench, tenantsTable } from './tenants-at-once';
import { makeLoopbackCertificate, runWebhookBench } from './webhooks';
import { UUID_V7 } from '../../shared/db/sql';

const root = path.resolve(__dirname, '..', '..');
/**
 * PostgreSQL's Unix socket when there is one: API, worker and pgbench all reach the same server
 * the way a co-located deployment would, without loopback TCP's cost on every query (its share of
 * the filter figure is in BENCHMARKS.md). The raw baseline uses the same path, so ratios stay fair.
 */
const PG_SOCKET_DIR = '/var/run/postgresql';
const DB_URL =
  process.env.BENCH_DATABASE_URL ??
  (existsSync(`${PG_SOCKET_DIR}/.s.PGSQL.5432`)
    ? `postgres://postgres@localhost/scim_bench?host=${PG_SOCKET_DIR}`
    : 'postgres://postgres@127.0.0.1:5432/scim_bench');
const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ONLY = process.env.BENCH_ONLY?.split(',');
/** BENCH_ONLY=filter,page runs just the scenarios whose names contain those words (for profiling). */
const want = (name: string) => !ONLY || ONLY.some((w) => name.toLowerCase().includes(w.toLowerCase()));
/** BENCH_API_DIST: another build of the API and the worker (a directory like dist/), for A/B runs of two versions. */
const API_DIST = path.resolve(root, process.env.BENCH_API_DIST ?? 'dist');
/** BENCH_API_PORT: where the bench's API listens (default 3901), e.g. a free port when two benches share a machine. */
const API_PORT = Number(process.env.BENCH_API_PORT ?? 3901);
const RAW_PORT = 3902;
const ADMIN = 'bench-admin-token-0123456789-abcdefghij';

const log = (s: string) => console.log(`[bench] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** API and worker run as in production; loopback webhooks are allowed by name for the receiver. */
const productionEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  NODE_ENV: 'production',
  DATABASE_URL: DB_URL,
  PORT: String(API_PORT),
  ADMIN_TOKEN: ADMIN,
  LOG_LEVEL: 'warn',
  WEBHOOK_ENCRYPTION_KEY: '0'.repeat(64),
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WORKER_METRICS_PORT: '0',
  // A PUT of a 50,000-member group is about 2.4 MB, past the 1 MiB default (README: MAX_PAYLOAD_BYTES).
  MAX_PAYLOAD_BYTES: String(8 * 1_048_576),
});

function writeResults(name: string, data: unknown) {
  const dir = path.join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${name}.json`), JSON.stringify(data, null, 2));
}

async function recreateDatabase(): Promise<void> {
  const admin = new URL(DB_URL);
  const name = admin.pathname.slice(1);
  if (!name.includes('bench')) throw new Error(`refusing to drop "${name}": the bench database name must contain "bench"`);
  admin.pathname = '/postgres';
  const c = new Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await c.end();
  execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'infra/scripts/migrate.ts')], {
    env: { ...process.env, DATABASE_URL: DB_URL },
    stdio: 'inherit',
  });
}

/** BENCH_CPU_PROF=<dir>: API and worker write V8 CPU profiles there when they exit. */
const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];

async function startApi(): Promise<ChildProcess> {
  // An API left behind by an interrupted bench would answer in place of this one, unnoticed.
  const stale = await fetch(`http://127.0.0.1:${API_PORT}/healthz`).then(
    () => true,
    () => false,
  );
  if (stale) throw new Error(`something already answers on port ${API_PORT} (an API left by an earlier bench?); stop it or set BENCH_API_PORT`);
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  buildWeb();
  // The API runs as deployed: compiled JavaScript, production mode, tracing on (no exporter).
  const child = spawn(
    process.execPath,
    [...profile, ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), path.join(API_DIST, 'services/api/server.js')],
    {
      env: productionEnv(),
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  await waitForPort(API_PORT);
  return child;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status < 500) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function adminPost(p: string, body: unknown) {
  const res = await fetch(`http://127.0.0.1:${API_PORT}/admin/v1${p}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`admin ${p}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<Record<string, any>>;
}

/** Sets a directory's request limit (PATCH /admin/v1/directories/{id}). */
async function setRateLimit(directoryId: string, rateLimit: { requestsPerSecond: number; burst: number } | null) {
  const res = await fetch(`http://127.0.0.1:${API_PORT}/admin/v1/directories/${directoryId}`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ rateLimit }),
  });
  if (res.status !== 200) throw new Error(`rate limit of ${directoryId}: ${res.status} ${await res.text()}`);
}

/**
 * Runs `work` with a raw server of this folder (raw-http-server.ts, raw-scim-server.ts) listening
 * on RAW_PORT, and stops it afterwards; fails if the server ends before it says it is ready.
 */
async function withRawServer<T>(file: string, env: Record<string, string>, work: (pid: number) => Promise<T>): Promise<T> {
  const server = fork(path.join(__dirname, file), [], { env: { ...process.env, PORT: String(RAW_PORT), ...env }, execArgv: ['--import', 'tsx'] });
  try {
    await new Promise((ready, failed) => {
      server.once('message', ready);
      server.once('exit', (code) => failed(new Error(`${file} ended with code ${code} before it was ready`)));
    });
    return await work(server.pid!);
  } finally {
    server.kill('SIGTERM');
  }
}

function rawHttp(): Promise<LoadResult> {
  return withRawServer('raw-http-server.ts', {}, () =>
    runLoad({ name: 'raw node:http JSON', url: `http://127.0.0.1:${RAW_PORT}`, duration: SECONDS, next: () => ({ path: '/' }) }),
  );
}

/** Raw commit rate: pgbench, 50 clients, one transaction inserting a user row and an event row. */
function rawCommit(ids: { tenantId: string; directoryId: string }): LoadResult {
  const script = path.join(os.tmpdir(), `scim-bench-${process.pid}.sql`);
  writeFileSync(
    script,
    `BEGIN;
INSERT INTO scim_users (directory_id, id, tenant_id, user_name, data) VALUES ('${ids.directoryId}', gen_random_uuid(), '${ids.tenantId}', 'raw-' || :client_id || '-' || random(), '{"userName":"raw"}');
INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data) VALUES (${UUID_V7}, '${ids.tenantId}', '${ids.directoryId}', 'user.created', 'User', gen_random_uuid(), '{}');
COMMIT;
`,
  );
  const out = execFileSync(
    'pgbench',
    ['-n', '-c', '50', '-j', '2', '-T', String(SECONDS), '-f', script, '-r', DB_URL.replace('postgres://', 'postgresql://')],
    { encoding: 'utf8' },
  );
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? 0);
  return { name: 'raw PG tx (user+event insert), pgbench', requests: Math.round(tps * SECONDS), rps: tps, p50: latency, p99: NaN, non2xx: 0, errors: 0 };
}

async function main() {
  log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, database ${DB_URL}`);
  await recreateDatabase();
  const api = await startApi();
  try {
    const a = await adminPost('/tenants', { name: 'Bench tenant A' });
    const dirA = await adminPost(`/tenants/${a.id}/directories`, { name: 'Entra A', provider: 'entra' });
    const b = await adminPost('/tenants', { name: 'Bench tenant B' });
    const dirB = await adminPost(`/tenants/${b.id}/directories`, { name: 'Entra B', provider: 'entra' });
    const raw = await adminPost('/tenants', { name: 'Raw baseline' });
    const dirRaw = await adminPost(`/tenants/${raw.id}/directories`, { name: 'Raw', provider: 'generic' });
    // The throughput scenarios measure the API at saturation, far above the default 100 requests/s
    // a directory may make; the limiter still runs (one Redis round trip per request), only its limit is out of reach.
    for (const dir of [dirA, dirB, dirRaw]) await setRateLimit(dir.id, { requestsPerSecond: 100_000, burst: 100_000 });

    const pg = new Client({ connectionString: DB_URL });
    await pg.connect();
    // Every scenario but tenants-at-once runs beside the two prefilled directories (as its figures
    // were always measured); tenants-at-once makes its own tenants and does not need them.
    const prefill = ['raw', 'POST', 'filter', 'PATCH', 'page', 'pages', 'noisy', 'webhook'].some(want);
    const t0 = Date.now();
    let A: Prefilled = { tenantId: a.id, directoryId: dirA.id, userNames: [], groups: {} };
    if (prefill) {
      log(`prefilling ${USERS} users in each of two tenants, groups of 100, 10,000 and ${USERS} members`);
      A = await prefillDirectory(pg, { tenantId: a.id, directoryId: dirA.id }, 'a', USERS, [100, 10_000, USERS]);
      await prefillDirectory(pg, { tenantId: b.id, directoryId: dirB.id }, 'b', USERS, [10_000]);
      log(`prefilled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    await pg.query('VACUUM ANALYZE');
    // The prefill's dirty pages are flushed now, not by a checkpoint in the middle of a scenario.
    await pg.query('CHECKPOINT');

    const url = `http://127.0.0.1:${API_PORT}/scim/v2`;
    const headers = { Authorization: `Bearer ${dirA.key.token}`, 'Content-Type': 'application/scim+json' };
    const results: Measured[] = [];
    /** A SCIM scenario, with the API's and PostgreSQL's CPU per request while it ran. */
    const scenario = async (o: LoadOptions): Promise<Measured> => {
      const stop = cpuMeter(api.pid!);
      const r = await runLoad(o);
      const { apiMs, pgMs } = stop();
      // VmHWM only grows: read after each scenario, it says which one set the peak.
      log(`${o.name}: API RSS ${rssMiB(api.pid!).toFixed(0)} MiB, its peak so far ${peakRssMiB(api.pid!).toFixed(0)} MiB`);
      return { ...r, apiCpuMs: apiMs / r.requests, pgCpuMs: pgMs / r.requests };
    };

    if (want('raw')) results.push(await rawHttp(), rawCommit({ tenantId: raw.id, directoryId: dirRaw.id }));

    let created = 0;
    const createdIds: string[] = [];
    if (want('POST'))
      results.push(
        await scenario({
          name: 'POST /Users',
          url,
          method: 'POST',
          headers,
          duration: SECONDS,
          next: () => {
            const n = ++created;
            return {
              path: '/scim/v2/Users',
              body: {
                schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
                userName: `new${n}@a.example`,
                externalId: `new-${n}`,
                active: true,
                name: { givenName: 'New', familyName: `User${n}` },
                emails: [{ type: 'work', primary: true, value: `new${n}@a.example` }],
              },
            };
          },
        }),
      );
    const fresh = await pg.query<{ id: string }>(`SELECT id FROM scim_users WHERE directory_id = $1 AND user_name LIKE 'new%'`, [A.directoryId]);
    createdIds.push(...fresh.rows.map((r) => r.id));

    if (want('filter'))
      results.push(
        await scenario({
          name: 'GET /Users?filter=userName eq',
          url,
          headers,
          duration: SECONDS,
          next: () => {
            const name = A.userNames[Math.floor(Math.random() * A.userNames.length)];
            return { path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}` };
          },
        }),
      );

    // The three group sizes run in interleaved rounds (100, 10,000, 100,000, 100, …): the machine
    // drifts within minutes, and back-to-back runs would compare the drift, not the sizes.
    const sizes = want('PATCH') ? [100, 10_000, USERS] : [];
    const ROUNDS = 3;
    const perRound = Math.floor(Math.min(createdIds.length, 15_000) / ROUNDS);
    const rounds = new Map<number, Measured[]>(sizes.map((size) => [size, []]));
    for (let round = 0; round < ROUNDS && perRound > 0; round++) {
      for (const size of sizes) {
        let i = round * perRound;
        rounds.get(size)!.push(
          await scenario({
            name: `PATCH /Groups add 1 member (group of ${size.toLocaleString('en')})`,
            url,
            method: 'PATCH',
            headers,
            amount: perRound,
            next: () => ({
              path: `/scim/v2/Groups/${A.groups[size]}`,
              body: {
                schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
                Operations: [{ op: 'Add', path: 'members', value: [{ value: createdIds[i++] }] }],
              },
            }),
          }),
        );
      }
    }
    for (const size of sizes) if (rounds.get(size)!.length) results.push(combineRounds(rounds.get(size)!));

    const total = USERS + createdIds.length;
    if (want('page'))
      results.push(
        await scenario({
          name: 'GET /Users deep page (last 10 %, count=100)',
          url,
          headers,
          duration: SECONDS,
          next: () => ({ path: `/scim/v2/Users?startIndex=${Math.floor(total * 0.9 + Math.random() * (total * 0.1 - 100))}&count=100` }),
        }),
      );

    // With WEB_CONCURRENCY > 1: the primary and every API process, added up.
    const rss = [api.pid!, ...childPids(api.pid!)].reduce((sum, pid) => sum + peakRssMiB(pid), 0);
    if (results.length > 0) report(results, rss);

    if (want('noisy')) {
      const quietTenant = await adminPost('/tenants', { name: 'Quiet tenant' });
      const quietDir = await adminPost(`/tenants/${quietTenant.id}/directories`, { name: 'Quiet Entra', provider: 'entra' });
      const noisyTenant = await adminPost('/tenants', { name: 'Noisy tenant' });
      const noisyDir = await adminPost(`/tenants/${noisyTenant.id}/directories`, { name: 'Noisy Entra', provider: 'entra' });
      const noisyLimit = Number(process.env.BENCH_NOISY_LIMIT ?? 50);
      await setRateLimit(noisyDir.id, { requestsPerSecond: noisyLimit, burst: 2 * noisyLimit });
      const quiet = await prefillDirectory(pg, { tenantId: quietTenant.id, directoryId: quietDir.id }, 'quiet', Math.min(USERS, 10_000), []);
      await pg.query('VACUUM ANALYZE');
      const options = {
        scimUrl: url,
        quiet: { token: quietDir.key.token, userNames: quiet.userNames },
        noisy: { token: noisyDir.key.token },
        noisyLimit,
        quietRate: Number(process.env.BENCH_QUIET_RATE ?? 40),
        noisyRate: Number(process.env.BENCH_NOISY_RATE ?? 500),
        // Three times the other scenarios': at Entra's pace a p99 needs more than 400 samples.
        seconds: Number(process.env.BENCH_NOISY_SECONDS ?? 6 * SECONDS),
        apiPid: api.pid!,
        log,
      };
      const figures = await runNoisyNeighbourBench(options);
      console.log(`\n${noisyNeighbourTable(figures, options)}\n`);
      writeResults('noisy-neighbour', figures);
    }
    if (want('webhook')) {
      const receiverTls = makeLoopbackCertificate();
      const worker = spawn(process.execPath, [...profile, path.join(API_DIST, 'workers/main.js')], {
        env: { ...productionEnv(), NODE_EXTRA_CA_CERTS: receiverTls.certFile },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      try {
        await sleep(2000);
        const figures = await runWebhookBench({
          apiUrl: `http://127.0.0.1:${API_PORT}`,
          adminToken: ADMIN,
          pg,
          workerPid: worker.pid!,
          receiverTls,
          rate: Number(process.env.BENCH_WEBHOOK_RATE ?? 500),
          seconds: Number(process.env.BENCH_WEBHOOK_SECONDS ?? 60),
          groupSize: Number(process.env.BENCH_GROUP_SIZE ?? 50_000),
          exportEvents: Number(process.env.BENCH_EXPORT_EVENTS ?? 1_000_000),
          log,
        });
        writeResults('webhooks', figures);
      } finally {
        worker.kill('SIGTERM');
      }
    }
    if (want('pages')) {
      const link = await adminPost(`/directories/${dirA.id}/setup-links`, {});
      const consoleOf = (p: string) => `/admin/console${p}`;
      const figures = await runPageLoadBench({
        apiUrl: `http://127.0.0.1:${API_PORT}`,
        adminToken: ADMIN,
        pages: [
          { name: `setup page (${USERS} users)`, path: `/setup${new URL(link.url).hash}` },
          { name: 'console: tenants', path: consoleOf('/') },
          { name: 'console: tenant', path: consoleOf(`/tenants/${a.id}`) },
          { name: `console: directory (${USERS} users)`, path: consoleOf(`/directories/${dirA.id}`) },
          { name: 'console: webhooks', path: consoleOf(`/tenants/${a.id}/webhooks`) },
          { name: 'console: events', path: consoleOf(`/tenants/${a.id}/events`) },
          { name: 'console: schemas', path: consoleOf('/schemas') },
        ],
        log,
      });
      if (figures) {
        console.log(`\n${pageLoadTable(figures)}\n`);
        writeResults('pages', figures);
      }
    }
    // Last: its hundreds of tenants would change the console pages' figures.
    const tenantsOptions = {
      pg,
      ramp: (process.env.BENCH_TENANTS_RAMP ?? '10,20,30,40,50,60').split(',').map(Number),
      seconds: Number(process.env.BENCH_TENANTS_SECONDS ?? 60),
      users: Number(process.env.BENCH_TENANT_USERS ?? 2000),
      groups: Number(process.env.BENCH_TENANT_GROUPS ?? 50),
      rate: Number(process.env.BENCH_TENANT_RATE ?? 25),
      drainSeconds: Number(process.env.BENCH_TENANTS_DRAIN ?? 120),
      clients: Number(process.env.BENCH_TENANTS_CLIENTS ?? 2),
      clientNice: Number(process.env.BENCH_TENANTS_CLIENT_NICE ?? 10),
      log,
    };
    if (want('tenants')) {
      const receiverTls = makeLoopbackCertificate();
      const worker = spawn(process.execPath, [...profile, path.join(API_DIST, 'workers/main.js')], {
        env: { ...productionEnv(), NODE_EXTRA_CA_CERTS: receiverTls.certFile },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      try {
        const target = {
          kind: 'platform' as const,
          apiUrl: `http://127.0.0.1:${API_PORT}`,
          adminToken: ADMIN,
          apiPid: api.pid!,
          workerPid: worker.pid!,
          receiverTls,
        };
        const figures = await runTenantsBench({ ...tenantsOptions, target });
        console.log(`\n${tenantsTable(figures)}\n`);
        writeResults('tenants', figures);
      } finally {
        worker.kill('SIGTERM');
      }
    }
    // The raw baseline of tenants at once (BENCH_ONLY=raw or raw-paced), after the platform's
    // steps (whose figures then follow the same scenarios as in earlier sessions), with the API
    // idle and the worker stopped; its own ramp, as a bare server goes further.
    if (want('raw-paced')) {
      const figures = await withRawServer('raw-scim-server.ts', { DATABASE_URL: DB_URL }, (pid) =>
        runTenantsBench({
          ...tenantsOptions,
          ramp: (process.env.BENCH_RAW_TENANTS_RAMP ?? '40,80,120,160,200').split(',').map(Number),
          target: { kind: 'raw', url: `http://127.0.0.1:${RAW_PORT}`, pid },
        }),
      );
      console.log(`\n${tenantsTable(figures)}\n`);
      writeResults('raw-paced', figures);
    }
    await pg.end();
  } finally {
    api.kill('SIGTERM');
  }
}

type Measured = LoadResult & { readonly apiCpuMs?: number; readonly pgCpuMs?: number };

/**
 * One figure from rounds of the same scenario: req/s over their summed time, CPU per request
 * weighted by requests, the median round's p50 and the worst round's p99.
 */
function combineRounds(rounds: readonly Measured[]): Measured {
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const seconds = rounds.reduce((n, r) => n + r.requests / r.rps, 0);
  const weighted = (pick: (r: Measured) => number | undefined) => rounds.reduce((n, r) => n + (pick(r) ?? NaN) * r.requests, 0) / requests;
  const p50s = rounds.map((r) => r.p50).sort((a, b) => a - b);
  return {
    name: `${rounds[0].name}, ${rounds.length} rounds`,
    requests,
    rps: requests / seconds,
    p50: p50s[Math.floor(p50s.length / 2)],
    p99: Math.max(...rounds.map((r) => r.p99)),
    non2xx: rounds.reduce((n, r) => n + r.non2xx, 0),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    apiCpuMs: weighted((r) => r.apiCpuMs),
    pgCpuMs: weighted((r) => r.pgCpuMs),
  };
}

function report(results: Measured[], rssMiB: number) {
  const http = results.find((r) => r.name.startsWith('raw node')) ?? { rps: NaN };
  const commit = results.find((r) => r.name.startsWith('raw PG')) ?? { rps: NaN };
  const rows = results.map((r) => {
    const base = r.name.startsWith('raw')
      ? ''
      : r.name.startsWith('POST') || r.name.startsWith('PATCH')
        ? `${(r.rps / commit.rps).toFixed(2)} × commit`
        : `${(r.rps / http.rps).toFixed(3)} × http`;
    const cpu = (ms?: number) => (ms === undefined ? '–' : ms.toFixed(2));
    return `| ${r.name} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.p50} | ${Number.isNaN(r.p99) ? '–' : r.p99} | ${r.non2xx + r.errors} | ${base} | ${cpu(r.apiCpuMs)} | ${cpu(r.pgCpuMs)} |`;
  });
  const table = [
    '| scenario (50 connections) | requests | req/s | p50 ms | p99 ms | non-2xx+errors | ratio to raw | API CPU ms/req | PostgreSQL CPU ms/req |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|',
    ...rows,
  ].join('\n');
  console.log(`\n${table}\n\nAPI peak RSS: ${rssMiB.toFixed(0)} MiB\n`);
  const dir = path.join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    JSON.stringify({ results, rssMiB, machine: { cores: os.cpus().length, model: os.cpus()[0]?.model } }, null, 2),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
