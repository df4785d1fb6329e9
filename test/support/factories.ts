import request from 'supertest';
import type { App } from 'supertest/types';
import { ADMIN_TOKEN } from './app';

export interface TestDirectory {
  readonly tenantId: string;
  readonly directoryId: string;
  readonly token: string;
  readonly keyId: string;
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

/** A fresh tenant with one directory and its key, made through the admin API. */
export async function makeDirectory(app: App, options: { provider?: string; tenantId?: string } = {}): Promise<TestDirectory> {
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN_TOKEN}`);
  let tenantId = options.tenantId;
  if (!tenantId) {
    const tenant = await admin(request(app).post('/admin/v1/tenants'))
      .send({ name: unique('tenant') })
      .expect(201);
    tenantId = tenant.body.id as string;
  }
  const dir = await admin(request(app).post(`/admin/v1/tenants/${tenantId}/directories`))
    .send({ name: unique('directory'), provider: options.provider ?? 'entra' })
    .expect(201);
  return { tenantId, directoryId: dir.body.id, token: dir.body.key.token, keyId: dir.body.key.id };
}

/** Admin-authenticated request helper. */
export const asAdmin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN_TOKEN}`);

/** A SCIM client bound to one directory's key, sending what Entra sends (no User-Agent). */
export function scimClient(app: App, token: string, base = '/scim/v2') {
  const auth = (r: request.Test) => r.set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/scim+json').unset('User-Agent');
  return {
    get: (path: string) => auth(request(app).get(base + path)),
    post: (path: string, body?: unknown) => auth(request(app).post(base + path)).send(body as object),
    put: (path: string, body?: unknown) => auth(request(app).put(base + path)).send(body as object),
    patch: (path: string, body?: unknown) => auth(request(app).patch(base + path)).send(body as object),
    delete: (path: string) =>
      request(app)
        .delete(base + path)
        .set('Authorization', `Bearer ${token}`)
        .unset('User-Agent'),
  };
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';

/** The ActivTrak extension as the seeds' guide has the operator register it (test/api/seeds.test.ts keeps the guide's own words). */
export const activTrakSchema = () => ({
  id: ACTIVTRAK,
  name: 'ActivTrakUser',
  attributes: [
    { name: 'userPrincipalNames', type: 'complex', multiValued: true, subAttributes: [{ name: 'value', type: 'string' }] },
    { name: 'tracking', type: 'boolean' },
  ],
});
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
/** The group schema Entra sends beside, or instead of, the core Group URN. */
export const ADSCIM_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';

/** A user body as Entra sends it, with a unique userName. */
export function entraUser(overrides: Record<string, unknown> = {}) {
  const name = unique('user');
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: name,
    userName: `${name}@contoso.example`,
    active: true,
    emails: [{ primary: true, type: 'work', value: `${name}@contoso.example` }],
    meta: { resourceType: 'User' },
    name: { formatted: 'Given Family', familyName: 'Family', givenName: 'Given' },
    roles: [],
    ...overrides,
  };
}

export const patchOp = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });
