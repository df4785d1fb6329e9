import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_TOKEN } from '../support/app';
import { entraUser } from '../support/factories';
import { startReceiver, type Receiver } from '../support/receiver';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis';
import { startOtlpReceiver, SPAN_KIND, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver';
import { compiledBuild, spawnEntry, waitForStatus, type Spawned } from './processes';

/** Every wait of this file is bounded by this. */
const WAIT_MS = 30_000;

async function json(res: Response): Promise<Record<string, any>> {
  const body = await res.text();
  assert.ok(res.ok, `${res.status} ${body}`);
  return JSON.parse(body);
}

/** The span and its ancestors among `spans`, nearest first. */
function ancestry(span: ReceivedSpan, spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = [span];
  for (let s = span; s.parentSpanId && byId.has(s.parentSpanId) && chain.length < 100; ) {
    s = byId.get(s.parentSpanId)!;
    chain.push(s);
  }
  return chain;
}

for (const protocol of ['http/json', 'http/protobuf'] as const) {
  describe(`OpenTelemetry › ${protocol} › one trace from the SCIM request to the webhook call`, () => {
    let redis: PrivateRedis;
    let database: PrivateDatabase;
    let otlp: OtlpReceiver;
    let hooks: Receiver;
    let api: Spawned;
    let worker: Spawned;
    let apiBase: string;
    before(async () => {
      // The compiled processes, as production runs them (see compiledBuild for why not tsx).
      const [build, ...started] = await Promise.all([
        compiledBuild(),
        startPrivateRedis(),
        startOtlpReceiver(),
        startReceiver(),
        createPrivateDatabase('otel'),
      ]);
      [redis, otlp, hooks, database] = started;
      const otel = {
        OTEL_SDK_DISABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        // Flush spans every 100 ms instead of every 5 s.
        OTEL_BSP_SCHEDULE_DELAY: '100',
        REDIS_URL: redis.url,
        DATABASE_URL: database.url,
      };
      const [apiPort, workerPort] = [await freePort(), await freePort()];
      apiBase = `http://127.0.0.1:${apiPort}`;
      api = spawnEntry('services/api/server.ts', { ...otel, PORT: String(apiPort), ADMIN_TOKEN }, { compiledIn: build });
      worker = spawnEntry('workers/main.ts', { ...otel, WORKER_METRICS_PORT: String(workerPort) }, { compiledIn: build });
      await Promise.all([waitForStatus(`${apiBase}/readyz`, 200, WAIT_MS, api), waitForStatus(`http://127.0.0.1:${workerPort}/readyz`, 200, WAIT_MS, worker)]);
    });
    after(async () => {
      await Promise.all([api?.kill(), worker?.kill()]);
      await Promise.all([redis?.close(), otlp?.close(), hooks?.close(), database?.drop()]);
    });

    it('POST /Users › webhook endpoint registered › scim-api server span, scim-worker consumer span and webhook client span share the receiver’s trace id; no secret or PII in any attribute', async () => {
      const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };
      const tenant = await json(
        await fetch(`${apiBase}/admin/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ name: `otel-${Date.now()}` }) }),
      );
      const directory = await json(
        await fetch(`${apiBase}/admin/v1/tenants/${tenant.id}/directories`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ name: 'otel', provider: 'entra' }),
        }),
      );
      // Vendors often put a token in the webhook URL: it must not reach the client span.
      const urlToken = `tok-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      const endpoint = await json(
        await fetch(`${apiBase}/admin/v1/tenants/${tenant.id}/webhooks`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ url: `${hooks.url}?key=${urlToken}` }),
        }),
      );
      const scim = { Authorization: `Bearer ${directory.key.token}`, 'Content-Type': 'application/scim+json' };
      const user = entraUser();

      const created = await fetch(`${apiBase}/scim/v2/Users`, { method: 'POST', headers: scim, body: JSON.stringify(user) });
      assert.equal(created.status, 201);
      await created.arrayBuffer();
      // A filter names the user: its value must not reach a span either.
      const filter = encodeURIComponent(`userName eq "${user.userName}"`);
      assert.equal((await fetch(`${apiBase}/scim/v2/Users?filter=${filter}`, { headers: scim })).status, 200);

      const [delivered] = await hooks.waitFor(1, WAIT_MS);
      const traceparent = String(delivered.headers.traceparent ?? '');
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent);
      assert.ok(match, `the receiver got a W3C traceparent (got "${traceparent}")`);
      const traceId = match[1];

      const inTrace = (spans: readonly ReceivedSpan[]) => spans.filter((s) => s.traceId === traceId);
      const find = (spans: readonly ReceivedSpan[]) => ({
        server: inTrace(spans).find((s) => s.service === 'scim-api' && s.kind === SPAN_KIND.server && s.attributes['http.request.method'] === 'POST'),
        consumer: inTrace(spans).find((s) => s.service === 'scim-worker' && s.kind === SPAN_KIND.consumer),
        client: inTrace(spans).find((s) => s.service === 'scim-worker' && s.kind === SPAN_KIND.client && s.spanId === match[2]),
      });
      await otlp
        .waitUntil((spans) => Object.values(find(spans)).every(Boolean), WAIT_MS)
        .catch((e) => {
          require('node:fs').writeFileSync(
            '/tmp/spans.json',
            JSON.stringify({ traceparent, spans: otlp.spans, api: api.output(), worker: worker.output() }, null, 1),
          );
          throw e;
        });
      const { server, consumer, client } = find(otlp.spans);
      assert.ok(server && consumer && client);

      assert.ok(otlp.contentTypes.has(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf'), `exported as ${protocol}`);
      assert.equal(server.parentSpanId, '', 'the SCIM request starts the trace (Entra sends no traceparent)');
      assert.equal(server.attributes['http.route'], '/scim/v2/Users');
      assert.equal(server.attributes['tenant.id'], tenant.id);
      assert.equal(server.attributes['directory.id'], directory.id);
      assert.equal(consumer.attributes['tenant.id'], tenant.id);
      assert.equal(consumer.attributes['directory.id'], directory.id);
      assert.ok(ancestry(consumer, otlp.spans).includes(server), "the job's consumer span descends from the SCIM request's server span");
      assert.ok(ancestry(client, otlp.spans).includes(consumer), 'the webhook call descends from the consumer span');
      assert.equal(client.attributes['http.response.status_code'], 200);
      assert.equal(client.attributes['url.full'], `${hooks.url}?key=REDACTED`);

      // Never a secret or a user's data in any attribute of any span either process exported.
      const forbidden = [directory.key.token, endpoint.secret, urlToken, ADMIN_TOKEN, user.userName, user.emails[0].value, user.externalId];
      for (const span of otlp.spans) {
        for (const [key, value] of Object.entries(span.attributes)) {
          for (const secret of forbidden) {
            assert.ok(!String(value).includes(secret), `${span.service} span "${span.name}" attribute ${key} leaks a secret or PII`);
          }
        }
      }
    });
  });
}
