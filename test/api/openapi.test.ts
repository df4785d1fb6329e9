import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import express, { Router } from 'express';
import request from 'supertest';
import { z } from 'zod';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { parseExtensionSchema } from '../../shared/scim/schema-definition';
import { logger } from '../../shared/telemetry/logger';
import { buildOpenApiDocument, type OpenApiDocument } from '../../services/api/routes/admin/openapi';
import { adminRoute } from '../../services/api/routes/admin/route-catalog';
import { schemaInputShape } from '../../services/api/routes/admin/shapes';
import { runGroupReconcile } from '../../workers/group-reconcile';
import { redisConnections } from '../support/connections';
import { makeTestApp, PUBLIC_BASE_URL, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { asAdmin, entraUser, scimClient } from '../support/factories';

const SPEC = `${PUBLIC_BASE_URL}/admin/v1/openapi.json`;
const ADMIN_BASE = '/admin/v1';
// The document's own address: served beside the admin router, without a token; it does not list itself.
const NOT_AN_OPERATION = new Set([`GET ${ADMIN_BASE}/openapi.json`]);

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
  slash?: boolean;
}

/** "METHOD /path/{param}" of every route Express holds under /admin/v1, read from its router stack. */
function adminRoutesOf(app: unknown): string[] {
  const walk = (stack: readonly Layer[], prefix: string): string[] =>
    stack.flatMap((layer) => {
      if (layer.route) return Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${prefix}${layer.route!.path}`);
      if (layer.handle?.stack) return walk(layer.handle.stack, prefix + (layer.slash || typeof layer.rawPath !== 'string' ? '' : layer.rawPath));
      return [];
    });
  const { stack } = (app as { router: { stack: Layer[] } }).router;
  return walk(stack, '')
    .filter((r) => r.split(' ')[1].startsWith(`${ADMIN_BASE}/`) && !NOT_AN_OPERATION.has(r))
    .map((r) => r.replace(ADMIN_BASE, '').replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
}

const documentedOperations = (doc: OpenApiDocument) =>
  Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));

/** Routes Express serves that the document does not list, and the reverse. */
function drift(app: unknown, doc: OpenApiDocument) {
  const served = adminRoutesOf(app);
  const documented = documentedOperations(doc);
  return { undocumented: served.filter((r) => !documented.includes(r)), notServed: documented.filter((o) => !served.includes(o)) };
}

describe('admin API › OpenAPI 3.1 document', () => {
  const prefix = `test-openapi-${process.pid}-${Date.now().toString(36)}`;
  const connections = redisConnections();
  const queues = {
    auditExport: createQueue(QUEUES.auditExport, { connection: connections.connect(), prefix }),
    groupReconcile: createQueue(QUEUES.groupReconcile, { connection: connections.connect(), prefix }),
    webhookDelivery: createQueue(QUEUES.webhookDelivery, { connection: connections.connect(), prefix }),
  };
  let t: TestApp;
  let doc: OpenApiDocument;

  before(async () => {
    t = makeTestApp({ queues });
    doc = (await request(t.app).get('/admin/v1/openapi.json').expect(200)).body;
  });
  after(async () => {
    for (const q of Object.values(queues)) {
      await q.obliterate({ force: true });
      await q.close();
    }
    connections.disconnectAll();
    await t.close();
  });

  it('GET /admin/v1/openapi.json › without a token › 200 JSON that the OpenAPI 3.1 validator accepts', async () => {
    const res = await request(t.app).get('/admin/v1/openapi.json');

    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const validator = new Validator();
    const result = await validator.validate(res.body);
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
    // The same validator refuses a broken copy, so the check above can fail.
    const { info: _info, ...broken } = res.body;
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  it('the document › its server, security and errors › PUBLIC_BASE_URL/admin/v1, the admin token as bearer or the console session, the SCIM error on every 4xx and 5xx', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(
      doc.servers.map((s) => s.url),
      [`${PUBLIC_BASE_URL}/admin/v1`],
    );
    assert.deepEqual(doc.components.securitySchemes.adminToken, { type: 'http', scheme: 'bearer', description: 'The operator secret, ADMIN_TOKEN' });
    assert.deepEqual(doc.security, [{ adminToken: [] }, { operatorSession: [] }]);
    assert.deepEqual(doc.components.schemas.ScimError.properties?.schemas, {
      type: 'array',
      prefixItems: [{ type: 'string', const: 'urn:ietf:params:scim:api:messages:2.0:Error' }],
      items: false,
      minItems: 1,
      maxItems: 1,
    });
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        assert.ok(op.responses['401'] && op.responses['5XX'], `${method} ${path} documents 401 and 5XX`);
        for (const [status, r] of Object.entries(op.responses).filter(([s]) => /^[45]/.test(s))) {
          assert.deepEqual(r.content, { 'application/scim+json': { schema: { $ref: '#/components/schemas/ScimError' } } }, `${method} ${path} ${status}`);
        }
      }
    }
  });

  it('every route on the admin router › compared with the document › each is documented and each operation is served', () => {
    const served = adminRoutesOf(t.app);
    assert.ok(served.length >= 38, `found ${served.length} admin routes`);
    assert.deepEqual(drift(t.app, doc), { undocumented: [], notServed: [] });
  });

  it('a route registered on the admin router without adminRoute › compared with the document › reported undocumented', () => {
    const router = Router();
    adminRoute(
      router,
      { method: 'get', path: '/things', operationId: 'listThings', tag: 'Things', summary: 'List things', responses: { 200: 'Things' } },
      (_i, _req, res) => {
        res.end();
      },
    );
    router.post('/things/:thingId/poke', (_req, res) => {
      res.end();
    });
    const app = express();
    app.use('/admin/v1', router);

    assert.deepEqual(drift(app, buildOpenApiDocument(router, { publicBaseUrl: PUBLIC_BASE_URL })), {
      undocumented: ['POST /things/{thingId}/poke'],
      notServed: [],
    });
  });

  it('adminRoute › params that do not match the path › throws when registered', () => {
    assert.throws(
      () =>
        adminRoute(
          Router(),
          // @ts-expect-error: the compiler refuses it too
          { method: 'get', path: '/things/{thingId}', operationId: 'x', tag: 'x', summary: 'x', params: { otherId: { description: 'x' } }, responses: {} },
          () => {},
        ),
      /params documents \[otherId\], the path has \[thingId\]/,
    );
  });

  it('real answers of every operation › a tenant from creation to deletion › each status is documented and each body matches its documented schema', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: SPEC, components: doc.components });
    const seen = new Set<string>();

    /** Sends the request, then checks its status and body against the operation's documentation. */
    async function call(method: 'get' | 'post' | 'patch' | 'delete', template: string, params: Record<string, string>, body?: object, token = true) {
      const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params[name]));
      let req = request(t.app)[method](`${ADMIN_BASE}${path}`);
      if (token) req = asAdmin(req);
      const res = await (body === undefined ? req : req.send(body));
      const op = doc.paths[template]?.[method];
      assert.ok(op, `${method.toUpperCase()} ${template} is documented`);
      const status = String(res.status);
      const documented = op.responses[status] ?? op.responses[`${status[0]}XX`];
      assert.ok(documented, `${method.toUpperCase()} ${template} answered ${status}, which it does not document: ${JSON.stringify(res.body)}`);
      const media = documented.content?.['application/scim+json'];
      if (media?.schema) {
        const validate = ajv.compile(JSON.parse(JSON.stringify(media.schema).replaceAll('"#/components/', `"${SPEC}#/components/`)));
        assert.ok(validate(res.body), `${method.toUpperCase()} ${template} ${status}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(res.body)}`);
      } else if (!documented.content) {
        assert.equal(res.text ?? '', '', `${method.toUpperCase()} ${template} ${status} documents no body`);
      }
      seen.add(op.operationId);
      return res;
    }

    // Tenants and directories.
    const tenant = (await call('post', '/tenants', {}, { name: `openapi-${randomUUID()}` })).body;
    const tenantId: string = tenant.id;
    await call('get', '/tenants', {});
    await call('get', '/tenants/{tenantId}', { tenantId });
    const created = (await call('post', '/tenants/{tenantId}/directories', { tenantId }, { name: 'Contoso', provider: 'entra' })).body;
    const directoryId: string = created.id;
    await call('get', '/tenants/{tenantId}/directories', { tenantId });
    await call('get', '/failing-directories', {});
    await call('get', '/directories/{directoryId}', { directoryId });
    assert.deepEqual((await call('patch', '/directories/{directoryId}', { directoryId }, { rateLimit: { requestsPerSecond: 50 } })).body.rateLimit, {
      requestsPerSecond: 50,
      burst: 100,
    });
    const key = (await call('post', '/directories/{directoryId}/keys', { directoryId }, {})).body;
    await call('get', '/directories/{directoryId}/keys', { directoryId });
    const regenerated = (await call('post', '/directories/{directoryId}/keys/{keyId}/regenerate', { directoryId, keyId: key.id })).body;
    await call('delete', '/directories/{directoryId}/keys/{keyId}', { directoryId, keyId: regenerated.id });
    const link = (await call('post', '/directories/{directoryId}/setup-links', { directoryId }, {})).body;
    await call('get', '/directories/{directoryId}/setup-links', { directoryId });
    await call('delete', '/directories/{directoryId}/setup-links/{linkId}', { directoryId, linkId: link.id });

    // Extension schemas; the platform-wide one optional and removed at once (it reaches every directory of the test database).
    const urn = (scope: string) => `urn:ietf:params:scim:schemas:extension:openapi${scope}${Date.now().toString(36)}${process.pid}:2.0:User`;
    const platformUrn = urn('platform');
    await call('post', '/schemas', {}, { id: platformUrn, attributes: [{ name: 'note', type: 'string' }] });
    try {
      await call('get', '/schemas', {});
    } finally {
      await call('delete', '/schemas/{urn}', { urn: platformUrn });
    }
    const directoryUrn = urn('directory');
    const tracking = { name: 'tracking', type: 'complex', subAttributes: [{ name: 'id', type: 'string', uniqueness: 'server' }] };
    await call(
      'post',
      '/directories/{directoryId}/schemas',
      { directoryId },
      { id: directoryUrn, attributes: [{ name: 'userPrincipalNames', type: 'string', multiValued: true }, tracking] },
    );
    await call('get', '/directories/{directoryId}/schemas', { directoryId });
    await call('delete', '/directories/{directoryId}/schemas/{urn}', { directoryId, urn: directoryUrn });

    // A SCIM write, then its event.
    await scimClient(t.app, created.key.token).post('/Users', entraUser()).expect(201);
    // The feed shows an event once no older transaction (another suite's) is still open: wait for it.
    const events = await eventually('the user.created event in the feed', async () => {
      const page = (await call('get', '/tenants/{tenantId}/events', { tenantId })).body;
      return page.data.length > 0 ? page : undefined;
    });
    assert.equal(events.data[0].type, 'user.created');

    // Webhooks, with a delivery and an attempt as the relay and the worker write them.
    const webhook = (await call('post', '/tenants/{tenantId}/webhooks', { tenantId }, { url: 'http://127.0.0.1:9/hook', events: ['user.created'] })).body;
    const webhookId: string = webhook.id;
    await call('get', '/tenants/{tenantId}/webhooks', { tenantId });
    await call('get', '/tenants/{tenantId}/webhooks/{webhookId}', { tenantId, webhookId });
    await call('patch', '/tenants/{tenantId}/webhooks/{webhookId}', { tenantId, webhookId }, { description: 'the app' });
    await call('post', '/tenants/{tenantId}/webhooks/{webhookId}/rotate-secret', { tenantId, webhookId }, { overlapSeconds: 60 });
    const deliveryId = randomUUID();
    await t.db.acrossTenants().exec(
      `WITH d AS (
         INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status, attempts, last_status, last_error)
         VALUES ($1, $2, $3, $4, 'user.created', 'dead', 1, 500, 'HTTP 500') RETURNING id)
       INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
       SELECT d.id, $2, 1, now(), 12, 500, 'HTTP 500', 'oops' FROM d`,
      [deliveryId, tenantId, webhookId, events.data[0].id],
    );
    const page = (await call('get', '/tenants/{tenantId}/webhooks/{webhookId}/deliveries', { tenantId, webhookId })).body;
    assert.deepEqual(
      page.data.map((d: { id: string }) => d.id),
      [deliveryId],
    );
    const detail = (await call('get', '/tenants/{tenantId}/webhooks/{webhookId}/deliveries/{deliveryId}', { tenantId, webhookId, deliveryId })).body;
    assert.equal(detail.attempts.length, 1);
    await call('post', '/tenants/{tenantId}/webhooks/{webhookId}/deliveries/{deliveryId}/replay', { tenantId, webhookId, deliveryId });
    await call('post', '/tenants/{tenantId}/webhooks/{webhookId}/replay', { tenantId, webhookId }, { status: 'dead' });
    const tested = (await call('post', '/tenants/{tenantId}/webhooks/{webhookId}/test', { tenantId, webhookId })).body;
    assert.equal(tested.eventType, 'webhook.test');
    await call('delete', '/tenants/{tenantId}/webhooks/{webhookId}', { tenantId, webhookId });

    // An audit export, queued (not run: its download is the documented 409).
    const now = Date.now();
    const exported = (
      await call('post', '/tenants/{tenantId}/exports', { tenantId }, { from: new Date(now - 3600_000).toISOString(), to: new Date(now).toISOString() })
    ).body;
    await call('get', '/tenants/{tenantId}/exports', { tenantId });
    await call('get', '/tenants/{tenantId}/exports/{exportId}', { tenantId, exportId: exported.id });
    assert.equal((await call('get', '/tenants/{tenantId}/exports/{exportId}/download', { tenantId, exportId: exported.id })).status, 409);

    // A reconciliation, run by the worker's own code so its report is the real one.
    const reconciliation = (await call('post', '/directories/{directoryId}/reconcile', { directoryId }, {})).body;
    await runGroupReconcile({ repos: t.repos, logger }, reconciliation.id, { reportId: reconciliation.id, tenantId, directoryId, reemitGroupIds: [] });
    const done = (await call('get', '/directories/{directoryId}/reconcile/{jobId}', { directoryId, jobId: reconciliation.id })).body;
    assert.equal(done.status, 'done');
    assert.ok(done.report, 'the report is there, and matched its schema');

    // Error answers: the SCIM error body.
    assert.equal((await call('get', '/tenants/{tenantId}', { tenantId: randomUUID() })).status, 404);
    assert.equal((await call('post', '/tenants', {}, {})).status, 400);
    assert.equal((await call('get', '/tenants', {}, undefined, false)).status, 401);

    await call('delete', '/directories/{directoryId}', { directoryId });

    const all = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    assert.deepEqual(
      all.filter((id) => !seen.has(id)),
      [],
      'every operation was called',
    );
  });

  it("an extension schema's documented body › against the parser that checks it › both accept what the guides post and refuse malformed ones", () => {
    const documented = z.toJSONSchema(schemaInputShape, { io: 'input' });
    const ajv = new Ajv2020({ strict: false });
    const accepts = ajv.compile(documented);
    const urn = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
    const good: object[] = [
      {
        id: urn,
        name: 'ActivTrak User',
        attributes: [
          { name: 'userPrincipalNames', type: 'string', multiValued: true },
          { name: 'tracking', type: 'complex', subAttributes: [{ name: 'enabled', type: 'boolean' }] },
        ],
      },
      {
        id: urn,
        resourceType: 'User',
        required: true,
        attributes: [{ name: 'level', type: 'integer', mutability: 'readOnly', returned: 'always', uniqueness: 'server', canonicalValues: ['1'] }],
      },
    ];
    for (const body of good) {
      assert.doesNotThrow(() => parseExtensionSchema(body));
      assert.ok(accepts(body), `documented schema accepts ${JSON.stringify(body)}: ${ajv.errorsText(accepts.errors)}`);
    }
    const bad: object[] = [
      { name: 'x', attributes: [{ name: 'a', type: 'string' }] },
      { id: urn, attributes: [] },
      { id: urn, attributes: [{ name: 'a', type: 'text' }] },
      { id: urn, attributes: [{ name: 'a', type: 'string', mutability: 'sometimes' }] },
      {
        id: urn,
        attributes: [{ name: 'a', type: 'complex', subAttributes: [{ name: 'b', type: 'complex', subAttributes: [{ name: 'c', type: 'string' }] }] }],
      },
      { id: urn, resourceType: 'Printer', attributes: [{ name: 'a', type: 'string' }] },
      { id: urn, required: 'yes', attributes: [{ name: 'a', type: 'string' }] },
    ];
    for (const body of bad) {
      assert.throws(() => parseExtensionSchema(body), `the parser refuses ${JSON.stringify(body)}`);
      assert.equal(accepts(body), false, `documented schema refuses ${JSON.stringify(body)}`);
    }
  });

  it('GET /docs › the Admin API section › lists every operation with its method, path, summary, body fields and responses', async () => {
    const res = await request(t.app).get('/docs').expect(200);
    const html = res.text;

    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const heading = `<h4 id="op-${op.operationId}"><code>${method.toUpperCase()} ${ADMIN_BASE}${path}</code></h4>`;
        assert.ok(html.includes(heading), `lists ${heading}`);
      }
    }
    const section = (id: string) => html.slice(html.indexOf(`id="op-${id}"`), html.indexOf('<h4', html.indexOf(`id="op-${id}"`) + 1));
    const createDirectory = section('createDirectory');
    assert.ok(createDirectory.includes('<p>Create a directory and its first key.</p>'));
    assert.ok(createDirectory.includes('<tr><td><code>name</code></td><td>string</td><td>yes</td><td>(1–200 characters)</td></tr>'), createDirectory);
    assert.ok(
      createDirectory.includes('<code>201</code> The directory, with its first key and token: <a href="#schema-CreatedDirectory">CreatedDirectory</a>'),
    );
    assert.ok(section('setDirectoryRateLimit').includes('<code>rateLimit.requestsPerSecond</code></td><td>integer</td><td>yes</td>'));
    assert.ok(section('listTenantEvents').includes('<code>limit</code></td><td>integer (query)</td><td>no</td><td>Events per page (1–1000; default 100)</td>'));
    assert.ok(html.includes('<h4 id="schema-ScimError">ScimError</h4>'));
    assert.ok(html.includes(`<a href="${SPEC}"><code>${SPEC}</code></a>`));
    assert.ok(!/<script|<link|src=/i.test(html), 'no scripts or outside assets');
    assert.match(res.headers['content-security-policy'], /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*';/);
  });
});
