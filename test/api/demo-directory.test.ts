/**
 * What `npm start` prepares for a newcomer (infra/scripts/demo-directory.ts), then the README's
 * next steps through the real app. On a database of its own: the demo tenant and directory have
 * fixed names, and the README registers the vendor extension platform-wide, which would reach
 * every directory of the shared test database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { prepareDemoDirectory } from '../../infra/scripts/demo-directory';
import { migrate } from '../../infra/scripts/migrate';
import { createApp } from '../../services/api/app';
import { config } from '../../shared/config';
import { repositoriesFor } from '../../shared/db/repositories';
import { ExtensionSchemaRepository } from '../../shared/db/repositories/extension-schemas';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { parseExtensionSchema } from '../../shared/scim/schema-definition';
import { logger } from '../../shared/telemetry/logger';
import { ADMIN_TOKEN, PUBLIC_BASE_URL } from '../support/app';
import { asAdmin, scimClient } from '../support/factories';
import { dropDatabase } from '../support/private-database';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';

/** The README's "Connecting Microsoft Entra ID" extension, verbatim. */
const README_SCHEMA = {
  id: ACTIVTRAK,
  name: 'ActivTrakUser',
  attributes: [
    { name: 'userPrincipalNames', type: 'complex', multiValued: true, subAttributes: [{ name: 'value', type: 'string' }] },
    { name: 'tracking', type: 'boolean' },
  ],
};

const privateUrl = () => {
  const url = new URL(config.DATABASE_URL);
  url.pathname = `${url.pathname}_demo`;
  return url.toString();
};

describe('npm start › the demo directory', () => {
  const url = privateUrl();
  let db: Database;
  let app: ReturnType<typeof createApp>;

  before(async () => {
    await dropDatabase(url);
    await migrate(url);
    db = createDatabase({ url, poolMax: 3 });
    app = createApp({
      repos: repositoriesFor(db, config),
      logger,
      adminToken: ADMIN_TOKEN,
      publicBaseUrl: PUBLIC_BASE_URL,
      region: 'us',
      maxPayloadBytes: 1_048_576,
      maxPageSize: 1000,
      maxBulkOperations: 1000,
    });
  });
  after(async () => {
    await db.close();
    await dropDatabase(url);
  });

  const liveDemoKeys = async (directoryId: string) =>
    (
      await repositoriesFor(db, config)
        .forDirectory({ tenantId: '' as never, directoryId: directoryId as never })
        .apiKeys.list()
    ).filter((k) => k.revokedAt === null);

  it('first start, then README step 4 › the platform-wide POST › 201, and the demo directory has the extension', async () => {
    const demo = await prepareDemoDirectory(db, 'us');
    assert.equal((await asAdmin(request(app).get(`/admin/v1/directories/${demo.directoryId}/schemas`))).body.data.length, 0);

    const res = await asAdmin(request(app).post('/admin/v1/schemas')).send(README_SCHEMA);

    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.scope, 'platform');
    const schemas = await scimClient(app, demo.token, '/scim/v1').get('/Schemas').expect(200);
    assert.ok(schemas.body.Resources.some((s: { id: string }) => s.id === ACTIVTRAK));
    await asAdmin(request(app).delete(`/admin/v1/schemas/${ACTIVTRAK}`)).expect(204);
  });

  it('a start after an older one registered the extension on the demo directory › that copy is removed, so the README POST › 201', async () => {
    const first = await prepareDemoDirectory(db, 'us');
    // What earlier versions of demo-directory.ts stored on the demo directory.
    await new ExtensionSchemaRepository(db).create(
      parseExtensionSchema({ ...README_SCHEMA, description: 'Example vendor extension from the Entra setup guide' }),
      { tenantId: first.tenantId, directoryId: first.directoryId },
    );
    assert.equal((await asAdmin(request(app).post('/admin/v1/schemas')).send(README_SCHEMA)).status, 409);

    const again = await prepareDemoDirectory(db, 'us', first.token);

    assert.equal(again.directoryId, first.directoryId);
    assert.equal((await asAdmin(request(app).post('/admin/v1/schemas')).send(README_SCHEMA)).status, 201);
    await asAdmin(request(app).delete(`/admin/v1/schemas/${ACTIVTRAK}`)).expect(204);
  });

  it('an extension the operator registered on the demo directory › kept', async () => {
    const demo = await prepareDemoDirectory(db, 'us');
    await asAdmin(request(app).post(`/admin/v1/directories/${demo.directoryId}/schemas`))
      .send(README_SCHEMA)
      .expect(201);

    await prepareDemoDirectory(db, 'us', demo.token);

    const own = await asAdmin(request(app).get(`/admin/v1/directories/${demo.directoryId}/schemas`)).expect(200);
    assert.deepEqual(
      own.body.data.map((s: { id: string }) => s.id),
      [ACTIVTRAK],
    );
    await asAdmin(request(app).delete(`/admin/v1/directories/${demo.directoryId}/schemas/${ACTIVTRAK}`)).expect(204);
  });

  it('restarts with the token printed last time › the same directory and token, no new key', async () => {
    const first = await prepareDemoDirectory(db, 'us');
    const before = await liveDemoKeys(first.directoryId);

    const second = await prepareDemoDirectory(db, 'us', first.token);
    const third = await prepareDemoDirectory(db, 'us', second.token);

    assert.equal(first.reused, false);
    assert.deepEqual([second.reused, third.reused], [true, true]);
    assert.deepEqual([second.directoryId, third.directoryId], [first.directoryId, first.directoryId]);
    assert.equal(third.token, first.token);
    assert.deepEqual(await liveDemoKeys(first.directoryId), before);
    await scimClient(app, third.token, '/scim/v1').get('/Users').expect(200);
  });

  it('restarts without a working previous token › one new demo key, every earlier one revoked (401), an operator key kept', async () => {
    const first = await prepareDemoDirectory(db, 'us');
    const operatorKey = (
      await asAdmin(request(app).post(`/admin/v1/directories/${first.directoryId}/keys`))
        .send({ name: 'Contoso Entra' })
        .expect(201)
    ).body;
    const lost = await prepareDemoDirectory(db, 'us');
    const revokedElsewhere = await prepareDemoDirectory(db, 'us', 'scim_us_not-a-key');

    const live = await liveDemoKeys(first.directoryId);

    assert.deepEqual(
      live.map((k) => k.id).sort(),
      [operatorKey.id, (await repositoriesFor(db, config).operator.keys.resolve(revokedElsewhere.token))!.keyId].sort(),
    );
    assert.equal(revokedElsewhere.reused, false);
    await scimClient(app, revokedElsewhere.token).get('/Users').expect(200);
    await scimClient(app, operatorKey.token).get('/Users').expect(200);
    for (const old of [first.token, lost.token]) assert.equal((await scimClient(app, old).get('/Users')).status, 401);
  });

  it('a previous token of another directory › not reused: the demo gets its own key', async () => {
    const demo = await prepareDemoDirectory(db, 'us');
    const tenant = (await asAdmin(request(app).post('/admin/v1/tenants')).send({ name: 'Contoso' }).expect(201)).body;
    const other = (
      await asAdmin(request(app).post(`/admin/v1/tenants/${tenant.id}/directories`))
        .send({ name: 'Contoso Entra', provider: 'entra' })
        .expect(201)
    ).body;

    const next = await prepareDemoDirectory(db, 'us', other.key.token);

    assert.equal(next.reused, false);
    assert.equal(next.directoryId, demo.directoryId);
    assert.equal((await repositoriesFor(db, config).operator.keys.resolve(next.token))?.directoryId, demo.directoryId);
    await scimClient(app, other.key.token).get('/Users').expect(200);
  });
});
