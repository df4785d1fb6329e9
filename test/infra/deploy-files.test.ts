import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../../shared/config';
import {
  alertQueries,
  dashboardQueries,
  exposedNames,
  metricNamesIn,
  readYamlDocuments,
  scalingQueries,
  unknownMetrics,
} from '../../infra/scripts/monitoring-queries';

/**
 * The deployment files under infra/ agree with the code: commands name compiled entry points,
 * probes name the health paths and ports the processes serve, every variable is one the
 * configuration reads (and the configuration accepts the values), and the pods run as non-root
 * with resources set. promtool, docker-compose and kubectl check the files' own syntax
 * (infra/scripts/validate-infra.sh); test/e2e/deployment.test.ts runs the processes with them.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const read = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');

type Obj = Record<string, any>;

/** Variable names of .env.example (`NAME=` lines), the list of what shared/config.ts reads. */
const ENV_EXAMPLE = new Set([...read('.env.example').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
/** Read by the OpenTelemetry SDK and the AWS SDK themselves, not by our configuration. */
const isStandardVariable = (name: string) => /^(OTEL|AWS)_/.test(name);
const unknownVariables = (names: Iterable<string>) => [...names].filter((n) => !ENV_EXAMPLE.has(n) && !isStandardVariable(n));

/** Secrets in the shape production requires, for configuration checks only. */
const SAMPLE_SECRETS = {
  DATABASE_URL: 'postgres://scim:pw@postgres.internal:5432/scim',
  REDIS_URL: 'redis://redis.internal:6379',
  ADMIN_TOKEN: 'kJ8vQ2mXr7TzL4pWn9YcB3hF6dGs1aEu',
  WEBHOOK_ENCRYPTION_KEY: 'a'.repeat(32) + 'b'.repeat(32),
};

/** `dist/services/api/server.js` → `services/api/server.ts`, the source tsconfig.build.json compiles it from. */
function sourceOf(entry: string): string {
  const m = /^dist\/(.+)\.js$/.exec(entry);
  assert.ok(m, `${entry} is not a compiled file under dist/`);
  return `${m[1]}.ts`;
}

// ----- Kubernetes -----

const kustomization = readYamlDocuments('k8s/kustomization.yaml')[0] as Obj;
const manifestFiles = (kustomization.resources as string[]).filter((r) => r.endsWith('.yaml'));
const objects = manifestFiles.flatMap((file) => readYamlDocuments(`k8s/${file}`) as Obj[]).filter(Boolean);
const find = (kind: string, name: string): Obj => {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `no ${kind} ${name} in ${manifestFiles.join(', ')}`);
  return found;
};
const configMap = find('ConfigMap', 'scim-config').data as Record<string, string>;
const secretExample = (readYamlDocuments('k8s/secret.example.yaml')[0] as Obj).stringData as Record<string, string>;
const api = find('Deployment', 'scim-api');
const worker = find('Deployment', 'scim-worker');
const migrateJob = find('Job', 'scim-migrate');
const podSpecs: [string, Obj][] = [
  ['scim-api', api.spec.template.spec],
  ['scim-worker', worker.spec.template.spec],
  ['scim-migrate', migrateJob.spec.template.spec],
];
const containerPort = (container: Obj, port: string | number) =>
  typeof port === 'number' ? port : (container.ports as Obj[]).find((p) => p.name === port)?.containerPort;

describe('deployment files › Kubernetes', () => {
  it('kustomization › every manifest in infra/k8s › listed, the example Secret not', () => {
    const present = readdirSync(path.join(ROOT, 'infra/k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    assert.deepEqual([...manifestFiles].sort(), present.filter((f) => f !== 'secret.example.yaml').sort());
    assert.ok(!manifestFiles.includes('secret.example.yaml'), 'secret values are never applied from the repository');
    for (const dir of (kustomization.resources as string[]).filter((r) => !r.endsWith('.yaml'))) {
      assert.ok(existsSync(path.join(ROOT, 'infra/k8s', dir, 'kustomization.yaml')), `${dir} has no kustomization.yaml`);
    }
    const monitoring = readYamlDocuments('monitoring/kustomization.yaml')[0] as Obj;
    for (const generator of monitoring.configMapGenerator as Obj[]) {
      for (const file of generator.files as string[]) assert.ok(existsSync(path.join(ROOT, 'infra/monitoring', file.split('=').pop()!)), file);
    }
  });

  it('containers › API, worker and migrations › one image, each running a compiled entry point that exists', () => {
    const image = (kustomization.images as Obj[])[0].name;
    const expected = { 'scim-api': 'dist/services/api/server.js', 'scim-worker': 'dist/workers/main.js', 'scim-migrate': 'dist/infra/scripts/migrate.js' };
    for (const [name, spec] of podSpecs) {
      const [container] = spec.containers as Obj[];
      assert.equal(container.image, image, name);
      assert.deepEqual(container.args, [expected[name as keyof typeof expected]], name);
      assert.ok(existsSync(path.join(ROOT, sourceOf(container.args[0]))), `${name}: ${container.args[0]} has no source`);
    }
    const build = JSON.parse(read('tsconfig.build.json'));
    assert.equal(build.compilerOptions.outDir, 'dist');
    assert.equal(build.compilerOptions.rootDir, '.');
    for (const dir of ['services', 'workers', 'shared', 'infra']) assert.ok(build.include.includes(dir), `tsconfig.build.json compiles ${dir}`);
  });

  it('pods › every one › non-root, no privilege escalation, read-only root, requests and limits set', () => {
    for (const [name, spec] of podSpecs) {
      assert.equal(spec.securityContext?.runAsNonRoot, true, name);
      assert.ok(spec.securityContext.runAsUser > 0, name);
      for (const c of spec.containers as Obj[]) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}/${c.name}`);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}/${c.name}`);
        for (const kind of ['requests', 'limits']) {
          assert.ok(c.resources?.[kind]?.cpu && c.resources?.[kind]?.memory, `${name}/${c.name} ${kind}`);
        }
        assert.deepEqual(
          (c.envFrom as Obj[]).map((e) => e.configMapRef?.name ?? e.secretRef?.name),
          ['scim-config', 'scim-secrets'],
          `${name}/${c.name} takes its settings and secrets from the environment`,
        );
      }
    }
  });

  it('probes › API and worker › /healthz for liveness, /readyz for readiness, on PORT and WORKER_METRICS_PORT', () => {
    const cases: [Obj, string][] = [
      [api, configMap.PORT],
      [worker, configMap.WORKER_METRICS_PORT],
    ];
    for (const [deployment, port] of cases) {
      const [c] = deployment.spec.template.spec.containers as Obj[];
      const name = deployment.metadata.name;
      assert.equal(c.livenessProbe.httpGet.path, '/healthz', name);
      assert.equal(c.readinessProbe.httpGet.path, '/readyz', name);
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        assert.equal(containerPort(c, c[probe].httpGet.port), Number(port), `${name} ${probe}`);
      }
      assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/port'], port, `${name} is scraped on its metrics port`);
    }
  });

  it('scaling › API on CPU, workers on queue depth › both target their Deployment', () => {
    const hpa = find('HorizontalPodAutoscaler', 'scim-api');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scim-api' });
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
    const scaled = find('ScaledObject', 'scim-worker');
    assert.equal(scaled.spec.scaleTargetRef.name, 'scim-worker');
    assert.ok(
      scalingQueries().some((q) => metricNamesIn(q.expr).includes('scim_queue_jobs')),
      'scaled on the queue depth gauge',
    );
  });

  it('disruption budgets › API and worker › each selects its Deployment’s pods', () => {
    for (const deployment of [api, worker]) {
      const pdb = find('PodDisruptionBudget', deployment.metadata.name);
      const labels = deployment.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v, `${deployment.metadata.name} ${k}`);
      assert.deepEqual(deployment.spec.selector.matchLabels, pdb.spec.selector.matchLabels);
    }
  });

  it('worker shutdown › grace period › longer than WORKER_DRAIN_TIMEOUT_MS', () => {
    assert.ok(worker.spec.template.spec.terminationGracePeriodSeconds * 1000 > Number(configMap.WORKER_DRAIN_TIMEOUT_MS));
  });

  it('variables › ConfigMap and Secret › names the configuration reads, secrets only in the Secret, values accepted', () => {
    assert.deepEqual(unknownVariables(Object.keys(configMap)), []);
    assert.deepEqual(unknownVariables(Object.keys(secretExample)), []);
    for (const secret of Object.keys(SAMPLE_SECRETS)) {
      assert.ok(secret in secretExample, `${secret} in secret.example.yaml`);
      assert.ok(!(secret in configMap), `${secret} is not in the ConfigMap`);
    }
    assert.deepEqual(
      Object.entries(secretExample).filter(([, v]) => v !== ''),
      [],
      'no secret value is committed',
    );
    const config = parseConfig({ ...configMap, ...SAMPLE_SECRETS });
    assert.equal(config.NODE_ENV, 'production');
  });
});

// ----- docker compose -----

const compose = readYamlDocuments('docker/docker-compose.yml')[0] as Obj;
const services = compose.services as Record<string, Obj>;

/** The environment as compose would give it with nothing set: `${X:-default}` → default, `${X:?…}` → a sample. */
function composeEnvironment(service: Obj): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment as Record<string, string>).map(([k, v]) => [
      k,
      String(v).replace(/\$\{(\w+)(?::-([^}]*)|:\?[^}]*)\}/g, (_m, name: string, fallback?: string) =>
        fallback !== undefined ? fallback : SAMPLE_SECRETS[name as keyof typeof SAMPLE_SECRETS],
      ),
    ]),
  );
}

describe('deployment files › docker compose', () => {
  it('services › the platform and its dependencies › all present', () => {
    for (const name of ['migrate', 'api', 'worker', 'postgres', 'redis', 'jaeger', 'prometheus', 'grafana']) assert.ok(services[name], name);
  });

  it('start order › API and worker › after migrations complete and PostgreSQL and Redis are healthy', () => {
    for (const name of ['api', 'worker']) {
      assert.deepEqual(services[name].depends_on, {
        migrate: { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
      });
    }
  });

  it('commands › API, worker and migrations › the same compiled entry points as on Kubernetes', () => {
    assert.deepEqual(services.api.command, api.spec.template.spec.containers[0].args);
    assert.deepEqual(services.worker.command, worker.spec.template.spec.containers[0].args);
    assert.deepEqual(services.migrate.command, migrateJob.spec.template.spec.containers[0].args);
  });

  it('redis › queues › append-only persistence and no eviction', () => {
    const command = (services.redis.command as string[]).join(' ');
    assert.match(command, /--appendonly yes/);
    assert.match(command, /--maxmemory-policy noeviction/);
  });

  it('variables › API, worker and migrations › names the configuration reads, values accepted in production', () => {
    for (const name of ['migrate', 'api', 'worker']) {
      const env = composeEnvironment(services[name]);
      assert.deepEqual(unknownVariables(Object.keys(env)), [], name);
      assert.equal(parseConfig(env).NODE_ENV, 'production', name);
    }
  });

  it('prometheus › scrape jobs › the API on PORT and the worker on WORKER_METRICS_PORT, with the alert rules', () => {
    const prometheus = readYamlDocuments('monitoring/prometheus.yml')[0] as Obj;
    const portOf = (job: string) => (prometheus.scrape_configs as Obj[]).find((s) => s.job_name === job)?.dns_sd_configs[0].port;
    assert.equal(portOf('scim-api'), Number(composeEnvironment(services.api).PORT));
    assert.equal(portOf('scim-worker'), Number(composeEnvironment(services.worker).WORKER_METRICS_PORT));
    assert.deepEqual(prometheus.rule_files, ['alerts.yml']);
  });

  it('mounted files › every bind mount › exists in the repository', () => {
    const mounts = Object.values(services).flatMap((s) => (s.volumes as string[] | undefined) ?? []);
    const binds = mounts.filter((m) => m.startsWith('.')).map((m) => m.split(':')[0]);
    assert.ok(binds.length >= 5, binds.join(', '));
    for (const bind of binds) assert.ok(existsSync(path.join(ROOT, 'infra/docker', bind)), bind);
  });
});

// ----- Dockerfile -----

describe('deployment files › Dockerfile', () => {
  const dockerfile = read('infra/docker/Dockerfile');
  const stages = dockerfile.split(/^(?=FROM )/m).slice(1);
  const runtime = stages.at(-1)!;

  it('stages › dependencies, build, production dependencies, runtime › on Node 20 slim (Debian)', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.deepEqual(
      // The base image variable written as its name: `FROM ${NODE_IMAGE} AS deps` → ['NODE_IMAGE', 'deps'].
      stages.map((s) =>
        /^FROM (\S+) AS (\S+)/
          .exec(s)
          ?.slice(1)
          .map((word) => word.replace(/^\$\{(\w+)\}$/, '$1')),
      ),
      [
        ['NODE_IMAGE', 'deps'],
        ['deps', 'build'],
        ['NODE_IMAGE', 'prod-deps'],
        ['NODE_IMAGE', 'runtime'],
      ],
    );
    assert.match(stages[1], /^RUN npm run build$/m);
    assert.match(stages[2], /^RUN npm ci --omit=dev\b/m);
  });

  it('runtime › the final image › production dependencies and dist only, a numeric non-root user, no HEALTHCHECK', () => {
    assert.deepEqual(
      [...runtime.matchAll(/^COPY --from=(\S+) (\S+)/gm)].map((m) => [m[1], m[2]]),
      [
        ['prod-deps', '/app/node_modules'],
        ['build', '/app/dist'],
      ],
    );
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(runtime);
    assert.ok(user && Number(user[1]) > 0, 'USER is a numeric uid other than root');
    assert.doesNotMatch(dockerfile, /^HEALTHCHECK/m);
    assert.match(runtime, /^ENTRYPOINT \["node", "--enable-source-maps"\]$/m);
    assert.match(runtime, /^CMD \["dist\/services\/api\/server\.js"\]$/m);
  });

  it('.dockerignore › local state and secrets › never sent to the build', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.env', '.data', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});

// ----- queries -----

describe('deployment files › PromQL metric names', () => {
  const cases: [string, string[]][] = [
    ['rate(scim_http_requests_total{status="5xx"}[5m])', ['scim_http_requests_total']],
    ['histogram_quantile(0.99, sum by (le, route) (rate(scim_http_request_duration_seconds_bucket[5m])))', ['scim_http_request_duration_seconds_bucket']],
    ['sum(rate(a_total[5m])) / sum(rate(b_total[5m])) > 0.02', ['a_total', 'b_total']],
    ['max by (queue) (x) > 0 and on (queue) y offset 5m', ['x', 'y']],
    ['label_replace(m{route=~"/scim/.+ and more"}, "dst", "$1", "src", "(.*)")', ['m']],
    ['sum without (instance) (c) * 1e3 unless vector(0)', ['c']],
    ['up == 0', ['up']],
  ];
  for (const [expr, names] of cases) {
    it(`metric names › ${expr} › ${names.join(', ')}`, () => {
      assert.deepEqual(metricNamesIn(expr), names);
    });
  }

  it('exposed names › histogram and counter TYPE lines › a histogram through its _bucket, _sum and _count', () => {
    const exposed = exposedNames('# HELP a_seconds A.\n# TYPE a_seconds histogram\n# TYPE b_total counter\nb_total 3\n');
    assert.deepEqual([...exposed].sort(), ['a_seconds_bucket', 'a_seconds_count', 'a_seconds_sum', 'b_total']);
  });

  it('unknown metrics › a name nobody exposes › reported with its source; Prometheus’s own up is not', () => {
    const queries = [
      { source: 'panel A', expr: 'rate(scim_made_up_total[5m])' },
      { source: 'panel B', expr: 'up == 0 or rate(b_total[5m]) > 0' },
    ];
    assert.deepEqual(unknownMetrics(queries, new Set(['b_total'])), ['panel A: scim_made_up_total']);
  });

  it('query sources › alerts, dashboard and scaling triggers › all read', () => {
    // Guards the metric-name check of test/e2e/deployment.test.ts against passing on nothing.
    assert.ok(alertQueries().length >= 8);
    assert.ok(dashboardQueries().length >= 20);
    assert.equal(scalingQueries().length, 2);
  });
});
