/**
 * Property tests of the HTTP surface through the real app on a listening port: arbitrary JSON
 * (and non-JSON) bodies for every SCIM and admin write, and arbitrary URL paths and query
 * strings. Run counts, budgets and replaying a failure: see ./arbitraries.ts (FUZZ_SEED,
 * FUZZ_RUNS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { GROUP_SCHEMA, USER_SCHEMA } from '../support/factories';
import { bodyText, edgeNumber, fuzzParameters, hostileJson, hostileString, patchBody, resourceBody, urlPiece, USER_PATHS } from './arbitraries';
import { FUZZ_EXTENSION, isScimError, startFuzzTarget, type FuzzTarget } from './http-support';

const USER_ATTRIBUTES = [
  'userName',
  'displayName',
  'title',
  'active',
  'externalId',
  'name',
  'emails',
  'phoneNumbers',
  'addresses',
  'roles',
  'password',
  'id',
  'meta',
  'groups',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  FUZZ_EXTENSION,
];
const GROUP_ATTRIBUTES = ['displayName', 'externalId', 'members', 'id', 'meta'];
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

/** Percent-encodes every byte but unreserved ones; a lone surrogate goes out as U+FFFD's bytes. */
const encode = (text: string) =>
  [...Buffer.from(text)]
    .map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`))
    .join('');

interface Write {
  readonly method: string;
  readonly path: string;
  readonly auth: 'scim' | 'admin';
  readonly body: string | Buffer;
  readonly contentType?: string;
  readonly contentEncoding?: string;
}

/** Mostly the text as UTF-8; sometimes compressed (whole or cut short) or with bytes that are not UTF-8 spliced in. */
const encodedBody = (text: string) =>
  fc.oneof(
    { weight: 16, arbitrary: fc.constant({ body: text as string | Buffer, contentEncoding: undefined as string | undefined }) },
    { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br').map((encoding) => ({ body: compress(encoding, text), contentEncoding: encoding })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'), fc.nat())
        .map(([encoding, cut]) => ({ body: compress(encoding, text).subarray(0, cut % 64), contentEncoding: encoding })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.nat())
        .map(([bytes, at]) => ({ body: splice(Buffer.from(text), at, bytes), contentEncoding: undefined })),
    },
  );

function compress(encoding: string, text: string): Buffer {
  if (encoding === 'gzip') return gzipSync(text);
  if (encoding === 'deflate') return deflateSync(text);
  if (encoding === 'br') return brotliCompressSync(text);
  return Buffer.from(text);
}

const splice = (buffer: Buffer, at: number, bytes: Uint8Array) =>
  Buffer.concat([buffer.subarray(0, at % (buffer.length + 1)), bytes, buffer.subarray(at % (buffer.length + 1))]);

function writes(target: FuzzTarget): fc.Arbitrary<Write> {
  const { userId, groupId, otherUserId, dir } = target;
  const ids = [userId, otherUserId, groupId];
  const user = resourceBody(USER_SCHEMA, USER_ATTRIBUTES, 'userName');
  const group = resourceBody(GROUP_SCHEMA, GROUP_ATTRIBUTES, 'displayName').map((g) =>
    typeof g === 'object' && g !== null && !Array.isArray(g) && 'members' in g ? g : { ...(g as object), members: [{ value: userId }] },
  );
  // Never the fixtures themselves: a bulk DELETE of them would blunt every later input.
  const bulkPath = fc.constantFrom(
    '/Users',
    '/Groups',
    `/Users/${otherUserId}`,
    '/Users/bulkId:a',
    '/Groups/00000000-0000-0000-0000-000000000000',
    '/Printers',
    '',
    'Users',
  );
  const bulkOp = fc.record(
    {
      method: fc.oneof(fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'post', 'GET'), hostileString(6)),
      path: fc.oneof(bulkPath, hostileString(20)),
      bulkId: fc.oneof(fc.constantFrom('a', 'b'), hostileString(6)),
      data: fc.oneof(user, group, patchBody(USER_PATHS, ids)),
      version: fc.oneof(fc.constant('W/"1"'), hostileString(6)),
    },
    { requiredKeys: ['method', 'path'] },
  );
  const bulk = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record(
        {
          schemas: fc.constant([BULK_REQUEST]),
          failOnErrors: fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 3 })),
          Operations: fc.array(bulkOp, { minLength: 1, maxLength: 4 }),
        },
        { requiredKeys: ['schemas', 'Operations'] },
      ),
    },
    { weight: 1, arbitrary: hostileJson },
  );
  const search = fc.oneof(
    fc.record(
      {
        schemas: fc.constant([SEARCH_REQUEST]),
        filter: fc.oneof(hostileString(), hostileJson),
        attributes: hostileJson,
        excludedAttributes: hostileJson,
        sortBy: hostileJson,
        sortOrder: hostileJson,
        startIndex: hostileJson,
        count: hostileJson,
      },
      { requiredKeys: ['schemas'] },
    ),
    hostileJson,
  );
  const named = (extra: Record<string, fc.Arbitrary<unknown>> = {}) =>
    fc.oneof({ weight: 4, arbitrary: fc.record({ name: hostileString(), ...extra }, { requiredKeys: [] }) }, { weight: 1, arbitrary: hostileJson });
  const schema = fc.oneof(
    fc.record(
      {
        id: fc.oneof(fc.constantFrom('urn:ietf:params:scim:schemas:extension:fuzzed:2.0:User', `${FUZZ_EXTENSION}`, 'urn:x', ''), hostileString(20)),
        name: hostileString(10),
        attributes: fc.array(
          fc.record(
            {
              name: hostileString(10),
              type: fc.oneof(fc.constantFrom('string', 'boolean', 'decimal', 'integer', 'dateTime', 'reference', 'complex', 'binary'), hostileString(6)),
              multiValued: hostileJson,
              subAttributes: hostileJson,
            },
            { requiredKeys: ['name', 'type'] },
          ),
          { maxLength: 3 },
        ),
      },
      { requiredKeys: ['id'] },
    ),
    hostileJson,
  );
  // Only loopback, private literals and names the hosts file answers: a webhook URL is resolved when it is checked.
  const webhookUrl = fc.constantFrom(
    'http://127.0.0.1:9/hook',
    'https://localhost/hook',
    'http://[::1]/x',
    'http://10.0.0.1/x',
    'ftp://127.0.0.1/',
    'not a url',
    '',
    'https://127.0.0.1:99999/',
  );

  const write = (method: string, path: string, auth: Write['auth'], body: fc.Arbitrary<unknown>) =>
    fc
      .tuple(
        bodyText(body).chain(encodedBody),
        fc.oneof(
          { weight: 12, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'application/scim+json; charset=latin1') },
        ),
      )
      .map(([encoded, contentType]) => ({ method, path, auth, ...encoded, contentType }));
  return fc.oneof(
    write('POST', '/scim/v2/Users', 'scim', user),
    write('PUT', `/scim/v2/Users/${userId}`, 'scim', user),
    write('POST', '/scim/v2/Groups', 'scim', group),
    write('PUT', `/scim/v2/Groups/${groupId}`, 'scim', group),
    write('POST', '/scim/v2/Bulk', 'scim', bulk),
    write('POST', '/scim/v2/Users/.search', 'scim', search),
    write('POST', '/scim/v1/Groups/.search', 'scim', search),
    write('POST', '/admin/v1/tenants', 'admin', named()),
    write(
      'POST',
      `/admin/v1/tenants/${dir.tenantId}/directories`,
      'admin',
      named({ provider: fc.oneof(fc.constantFrom('entra', 'okta', 'generic'), hostileJson), keyName: hostileJson }),
    ),
    write('POST', `/admin/v1/directories/${dir.directoryId}/keys`, 'admin', named()),
    write('POST', `/admin/v1/directories/${dir.directoryId}/schemas`, 'admin', schema),
    write(
      'POST',
      `/admin/v1/tenants/${dir.tenantId}/webhooks`,
      'admin',
      fc.record({ url: webhookUrl, events: hostileJson, description: hostileJson }, { requiredKeys: ['url'] }),
    ),
    write(
      'PATCH',
      `/admin/v1/tenants/${dir.tenantId}/webhooks/${target.webhookId}`,
      'admin',
      fc.oneof(
        fc.record(
          {
            url: webhookUrl,
            events: fc.oneof(hostileJson, fc.constant(['user.created'])),
            description: hostileJson,
            status: fc.oneof(fc.constantFrom('active', 'disabled'), hostileJson),
          },
          { requiredKeys: [] },
        ),
        hostileJson,
      ),
    ),
    write(
      'POST',
      `/admin/v1/tenants/${dir.tenantId}/webhooks/${target.webhookId}/rotate-secret`,
      'admin',
      fc.oneof(fc.record({ overlapSeconds: fc.oneof(edgeNumber, hostileJson) }), hostileJson),
    ),
  );
}

type UrlRequest = { method: string; path: string; auth: 'scim' | 'admin' | 'none' };

function urls(target: FuzzTarget): fc.Arbitrary<UrlRequest> {
  const { userId, groupId, dir } = target;
  const id = fc.oneof(fc.constantFrom(userId, groupId, dir.tenantId, dir.directoryId, FUZZ_EXTENSION, encodeURIComponent(FUZZ_EXTENSION)), urlPiece);
  // The app's routes, each parameter an id of ours or an arbitrary piece; the key that opens them.
  const routed = fc.oneof(
    fc
      .tuple(fc.constantFrom('/scim/v2', '/scim/v1'), fc.constantFrom('Users', 'Groups', 'Schemas', 'ResourceTypes', 'ServiceProviderConfig'), id)
      .map(([base, type, x]) => ({ path: `${base}/${type}/${x}`, auth: 'scim' as const })),
    fc
      .tuple(fc.constantFrom('/scim/v2', '/scim/v1'), fc.constantFrom('Users', 'Groups', 'Bulk', 'Users/.search', 'Schemas', ''))
      .map(([base, type]) => ({ path: `${base}/${type}`, auth: 'scim' as const })),
    fc
      .tuple(
        fc.constantFrom(
          'tenants/{x}',
          'tenants/{x}/events',
          'tenants/{x}/directories',
          'directories/{x}',
          'directories/{x}/keys',
          'directories/{x}/schemas',
          'tenants/{x}/webhooks',
          'tenants/{x}/webhooks/{x}',
          'tenants/{x}/webhooks/{x}/deliveries',
          'tenants/{x}/exports/{x}',
          'directories/{x}/reconcile/{x}',
          'schemas',
          'schemas/{x}',
        ),
        id,
        id,
      )
      .map(([template, x, y]) => ({ path: `/admin/v1/${template.replace('{x}', x).replace('{x}', y)}`, auth: 'admin' as const })),
  );
  const segment = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('Users', 'Groups', 'Bulk', '.search', 'Schemas', 'tenants', 'directories', 'keys', 'events', 'webhooks') },
    { weight: 3, arbitrary: id },
  );
  const composed = fc
    .tuple(
      fc.constantFrom('/scim/v2', '/scim/v1', '/admin/v1', '', '/scim', '/admin/queues', '/healthz', '/v2', '/SCIM/V2'),
      fc.array(segment, { maxLength: 4 }),
      fc.constantFrom('scim', 'admin', 'none'),
    )
    .map(([start, segments, auth]) => ({ path: `${start}/${segments.join('/')}`.replace(/^\/\//, '/'), auth: auth as UrlRequest['auth'] }));
  const param = fc.tuple(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          'filter',
          'attributes',
          'excludedAttributes',
          'sortBy',
          'sortOrder',
          'startIndex',
          'count',
          'after',
          'limit',
          'status',
          'aadOptscim062020',
        ),
      },
      { weight: 1, arbitrary: urlPiece },
    ),
    fc.oneof(
      urlPiece,
      hostileString(30).map(encode),
      fc.constantFrom('userName eq "x"', 'emails[type eq "work"].value pr', '-1', '1e999', 'descending').map(encode),
    ),
  );
  return fc
    .tuple(
      fc.constantFrom('GET', 'GET', 'GET', 'HEAD'),
      fc.oneof({ weight: 3, arbitrary: routed }, { weight: 1, arbitrary: composed }),
      fc.array(param, { maxLength: 3 }),
      fc.boolean(),
    )
    .map(([method, { path, auth }, params, slash]) => {
      const query = params.length ? `?${params.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join('&')}` : '';
      return { method, path: `${path}${slash ? '/' : ''}${query}`, auth };
    });
}

describe('fuzz › request bodies and URLs through the app', { timeout: 90_000 }, () => {
  let target: FuzzTarget;
  before(async () => {
    target = await startFuzzTarget();
  });
  after(() => target.close());

  it('POST/PUT to /Users, /Groups, /Bulk, /.search and admin POSTs › arbitrary bodies › never 5xx; a rejected one stores nothing', async (t) => {
    const params = fuzzParameters<[Write]>(800, 10_000);
    t.diagnostic(`seed ${params.seed}`);
    await fc.assert(
      fc.asyncProperty(writes(target), async (write) => {
        const before = await target.stored();

        const res = await target.send(write.method, write.path, write);

        assert.ok(res.status < 500, `${write.method} ${write.path} answered ${res.status}: ${res.text.slice(0, 300)}`);
        if (res.status >= 400) {
          assert.ok(isScimError(res), `a ${res.status} without a SCIM error body: ${res.text.slice(0, 200)}`);
          assert.deepEqual(await target.stored(), before);
        }
        if (write.path.endsWith('/Bulk') && res.status === 200) {
          for (const op of JSON.parse(res.text).Operations as { status: string; response?: unknown }[]) {
            assert.ok(Number(op.status) < 500, `a bulk operation answered ${op.status}: ${String(JSON.stringify(op.response)).slice(0, 300)}`);
          }
        }
      }),
      params,
    );
  });

  it('GET and HEAD › arbitrary paths and query strings (percent-escapes good and bad, unicode, dot segments) › never 5xx; errors are SCIM errors', async (t) => {
    const params = fuzzParameters<[UrlRequest]>(1_500, 8_000);
    t.diagnostic(`seed ${params.seed}`);
    await fc.assert(
      fc.asyncProperty(urls(target), async ({ method, path, auth }) => {
        const res = await target.send(method, path, { auth });

        assert.ok(res.status < 500, `${method} ${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
        if (res.status >= 400 && method === 'GET')
          assert.ok(isScimError(res), `${method} ${path}: a ${res.status} without a SCIM error body: ${res.text.slice(0, 200)}`);
      }),
      params,
    );
  });
});
