/**
 * The real app on a real listening port, for the HTTP fuzz suites: raw requests through
 * node:http (so malformed paths reach the server exactly as written), a directory with users,
 * a group and an extension schema to aim at, and the stored state to compare before and after.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import request from 'supertest';
import { clientErrorHandler } from '../../services/api/middleware/errors';
import { config } from '../../shared/config';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { asAdmin, ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, scimClient, USER_SCHEMA, type TestDirectory } from '../support/factories';

export const FUZZ_EXTENSION = 'urn:ietf:params:scim:schemas:extension:fuzz:2.0:User';

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

export interface FuzzTarget {
  readonly dir: TestDirectory;
  readonly userId: string;
  readonly otherUserId: string;
  readonly groupId: string;
  /** A webhook endpoint of the tenant (pointing at a closed loopback port; nothing is delivered). */
  readonly webhookId: string;
  /** One raw request; `auth` picks the directory's key, the admin token or none. */
  send(
    method: string,
    path: string,
    options?: { auth?: 'scim' | 'admin' | 'none'; body?: string | Buffer; contentType?: string; contentEncoding?: string },
  ): Promise<Answer>;
  /** What a rejected request must leave as it was: row counts and the fixtures' stored rows. */
  stored(): Promise<unknown>;
  close(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const t: TestApp = makeTestApp();
  const server = http.createServer(t.app).listen(0, '127.0.0.1');
  server.on('clientError', clientErrorHandler);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const direct = new Client({ connectionString: config.DATABASE_URL });
  await direct.connect();

  const dir = await makeDirectory(t.app);
  await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
    .send({
      id: FUZZ_EXTENSION,
      name: 'FuzzUser',
      attributes: [
        { name: 'level', type: 'integer' },
        { name: 'score', type: 'decimal' },
        { name: 'tracking', type: 'boolean' },
        { name: 'lastSeen', type: 'dateTime' },
        { name: 'homepage', type: 'reference' },
        {
          name: 'aliases',
          type: 'complex',
          multiValued: true,
          subAttributes: [
            { name: 'value', type: 'string' },
            { name: 'primary', type: 'boolean' },
          ],
        },
      ],
    })
    .expect(201);
  const scim = scimClient(t.app, dir.token);
  const other = (await scim.post('/Users', entraUser()).expect(201)).body;
  const user = (
    await scim
      .post(
        '/Users',
        entraUser({
          schemas: [USER_SCHEMA, ENTERPRISE, FUZZ_EXTENSION],
          title: 'Engineer',
          [ENTERPRISE]: { employeeNumber: '7', manager: { value: other.id } },
          [FUZZ_EXTENSION]: { level: 3, aliases: [{ value: 'a' }] },
        }),
      )
      .expect(201)
  ).body;
  const webhook = (
    await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks`))
      .send({ url: 'http://127.0.0.1:9/hook' })
      .expect(201)
  ).body;
  const group = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `fuzz-${dir.directoryId}`, members: [{ value: user.id }] }).expect(201))
    .body;

  const send: FuzzTarget['send'] = (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const auth = options.auth ?? 'scim';
      const headers: http.OutgoingHttpHeaders = {};
      if (auth !== 'none') headers.authorization = `Bearer ${auth === 'admin' ? ADMIN_TOKEN : dir.token}`;
      if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/scim+json';
      if (options.contentEncoding) headers['content-encoding'] = options.contentEncoding;
      const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
      req.on('error', reject);
      req.end(options.body);
    });

  const stored = async () =>
    (
      await direct.query(
        `SELECT (SELECT count(*) FROM scim_users WHERE directory_id = $1) AS users,
                (SELECT count(*) FROM scim_groups WHERE directory_id = $1) AS groups,
                (SELECT count(*) FROM group_members WHERE directory_id = $1) AS members,
                (SELECT count(*) FROM events WHERE directory_id = $1) AS events,
                (SELECT count(*) FROM api_keys WHERE directory_id = $1 AND revoked_at IS NULL) AS keys,
                (SELECT count(*) FROM extension_schemas WHERE directory_id = $1) AS schemas,
                (SELECT count(*) FROM directories WHERE tenant_id = $2) AS directories,
                (SELECT data::text || version FROM scim_users WHERE directory_id = $1 AND id = $3) AS "user",
                (SELECT data::text || version FROM scim_groups WHERE directory_id = $1 AND id = $4) AS "group",
                (SELECT string_agg(concat_ws('|', id, url, description, event_types, status, secret_ciphertext, previous_secret_ciphertext), ',' ORDER BY id)
                   FROM webhook_endpoints WHERE tenant_id = $2) AS webhooks`,
        [dir.directoryId, dir.tenantId, user.id, group.id],
      )
    ).rows[0];

  return {
    dir,
    userId: user.id,
    otherUserId: other.id,
    groupId: group.id,
    webhookId: webhook.id,
    send,
    stored,
    close: async () => {
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await direct.end();
      await t.close();
    },
  };
}

/** A JSON SCIM error body: what every 4xx must be. */
export function isScimError(answer: Answer): boolean {
  if (!/^application\/scim\+json/.test(String(answer.headers['content-type']))) return false;
  try {
    const body = JSON.parse(answer.text) as { schemas?: unknown; status?: unknown };
    return Array.isArray(body.schemas) && body.schemas[0] === 'urn:ietf:params:scim:api:messages:2.0:Error' && body.status === String(answer.status);
  } catch {
    return false;
  }
}
