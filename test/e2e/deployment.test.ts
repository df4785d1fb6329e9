import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { config } from '../../shared/config';
import { alertQueries, dashboardQueries, exposedNames, readYamlDocuments, scalingQueries, unknownMetrics } from '../../infra/scripts/monitoring-queries';
import { dropDatabase } from '../support/private-database';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis';
import { compiledBuild, spawnEntry, waitForStatus, type Spawned } from './processes';

/**
 * The image's three commands, compiled as the Dockerfile builds them, with the Kubernetes
 * ConfigMap's settings (production) and secrets in their place: the migrations job creates and
 * migrates a missing database, the API and the worker answer the probes the manifests name, and
 * every query of the alert rules, the dashboard and the scaling triggers selects only metrics
 * these processes expose.
 */

type Obj = Record<string, any>;

const manifests = ['api.yaml', 'worker.yaml', 'migrate-job.yaml'].flatMap((f) => readYamlDocuments(`k8s/${f}`) as Obj[]).filter(Boolean);
const podSpecOf = (kind: string, name: string): Obj => {
  const found = manifests.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name}`);
  return found.spec.template.spec;
};
const api = podSpecOf('Deployment', 'scim-api').containers[0];
const worker = podSpecOf('Deployment', 'scim-worker').containers[0];
const migrateJob = podSpecOf('Job', 'scim-migrate').containers[0];
const configMap = (readYamlDocuments('k8s/config.yaml')[0] as Obj).data as Record<string, string>;

/** The manifest's `dist/…js` argument inside the test's own build. */
const inBuild = (build: string, arg: string) => path.join(build, arg.replace(/^dist\//, ''));
/** spawnEntry takes the source path of an entry point. */
const sourceEntry = (arg: string) => arg.replace(/^dist\//, '').replace(/\.js$/, '.ts') as Parameters<typeof spawnEntry>[0];

/** Runs the migrations job's command to its end. */
function runMigrations(build: string, env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--enable-source-maps', inBuild(build, migrateJob.args[0])],
      { env: { ...process.env, ...env, NODE_PATH: path.resolve(__dirname, '..', '..', 'node_modules') }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

describe('deployment › compiled commands with the Kubernetes settings', () => {
  let build: string;
  let redis: PrivateRedis | undefined;
  const processes: Spawned[] = [];
  const databaseUrl = (() => {
    const url = new URL(config.DATABASE_URL);
    url.pathname = `${url.pathname}_deploy_${process.pid}`;
    return url.toString();
  })();
  let env: Record<string, string>;
  let apiBase: string;
  let workerBase: string;

  before(async () => {
    // A private Redis: a worker on the shared one would take other suites' jobs.
    [build, redis] = await Promise.all([compiledBuild(), startPrivateRedis()]);
    await dropDatabase(databaseUrl);
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    env = {
      ...configMap,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      ADMIN_TOKEN: randomBytes(32).toString('base64'),
      WEBHOOK_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      // Free ports instead of the manifests' fixed ones: suites run side by side.
      PORT: String(apiPort),
      WORKER_METRICS_PORT: String(workerPort),
      OTEL_SDK_DISABLED: 'true',
    };
    apiBase = `http://127.0.0.1:${apiPort}`;
    workerBase = `http://127.0.0.1:${workerPort}`;
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    await redis?.close();
    await dropDatabase(databaseUrl);
  });

  it('migrations job › database missing › creates and migrates it, exits 0; a second run finds it up to date', async () => {
    const first = await runMigrations(build, env);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /applied: 0001-initial/);
    const second = await runMigrations(build, env);
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /database is up to date/);
  });

  it('API and worker › started with the manifests’ commands › the probes the manifests name answer 200', async () => {
    const targets: [Obj, string][] = [
      [api, apiBase],
      [worker, workerBase],
    ];
    for (const [container] of targets) processes.push(spawnEntry(sourceEntry(container.args[0]), env, { compiledIn: build }));
    for (const [i, [container, base]] of targets.entries()) {
      await waitForStatus(`${base}${container.readinessProbe.httpGet.path}`, 200, 30_000, processes[i]);
      const live = await fetch(`${base}${container.livenessProbe.httpGet.path}`);
      assert.equal(live.status, 200, `${container.name} liveness`);
      const started = await fetch(`${base}${container.startupProbe.httpGet.path}`);
      assert.equal(started.status, 200, `${container.name} startup`);
    }
  });

  it('metrics › alert rules, dashboard and scaling triggers › select only metrics the API or the worker exposes', async () => {
    const exposed = new Set<string>();
    for (const base of [apiBase, workerBase]) {
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      for (const name of exposedNames(await res.text())) exposed.add(name);
    }
    assert.ok(exposed.has('scim_http_requests_total') && exposed.has('scim_webhook_deliveries_total'), [...exposed].join(', '));
    assert.deepEqual(unknownMetrics([...alertQueries(), ...dashboardQueries(), ...scalingQueries()], exposed), []);
  });
});
