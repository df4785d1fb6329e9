import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import request from 'supertest';
import type { Response } from 'supertest';
import { clientErrorHandler } from '../../services/api/middleware/errors';
import { ADMIN_TOKEN, makeTestApp, PUBLIC_BASE_URL, type TestApp } from '../support/app';
import { asAdmin, ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA } from '../support/factories';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const SCIM_JSON = /^application\/scim\+json/;
const UNKNOWN_URN = 'urn:ietf:params:scim:schemas:extension:nobody:2.0:User';

/** A SCIM error body with the right status, scimType and media type. */
function assertScimError(res: Response, status: number, scimType?: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text?.slice(0, 300)}`);
  assert.match(res.headers['content-type'] ?? '', SCIM_JSON);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
  assert.equal(res.body.status, String(status));
  assert.equal(res.body.scimType, scimType, res.body.detail);
  assert.equal(typeof res.body.detail, 'string');
}

interface Ctx {
  readonly scim: ReturnType<typeof scimClient>;
  /** An authenticated request with no Content-Type set, for bodies of other media types. */
  readonly raw: (method: 'post' | 'put' | 'patch', path: string) => request.Test;
  readonly user: { id: string; userName: string; meta: { version: string } };
  readonly group: { id: string; meta: { version: string } };
}

interface BadCase {
  readonly name: string;
  readonly status: number;
  readonly scimType?: string;
  readonly send: (c: Ctx) => request.Test;
}

const enc = encodeURIComponent;
const nested = (depth: number) => `${'('.repeat(depth)}userName eq "x"${')'.repeat(depth)}`;
const oversized = () => 'x'.repeat(1_100_000);
// superagent would serialise a Buffer sent as JSON into {"type":"Buffer","data":[…]}.
const asBytes = (body: unknown) => body as string;

// Each case runs in a fresh directory holding one user and one group; afterwards both must be
// unchanged (same body, same meta.version) and no resource may have been added.
const CASES: readonly BadCase[] = [
  // --- bodies that are not SCIM JSON
  { name: 'POST /Users › malformed JSON › 400 invalidSyntax', status: 400, scimType: 'invalidSyntax', send: (c) => c.scim.post('/Users', '{"userName": "x",') },
  {
    name: 'PUT /Users/{id} › malformed JSON › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.put(`/Users/${c.user.id}`, '{"userName": '),
  },
  {
    name: 'PATCH /Users/{id} › malformed JSON › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, '{"Operations": ['),
  },
  {
    name: 'POST /Users › Content-Type text/plain › 415',
    status: 415,
    send: (c) => c.raw('post', '/Users').set('Content-Type', 'text/plain').send(JSON.stringify(entraUser())),
  },
  {
    name: 'PATCH /Users/{id} › Content-Type application/xml › 415',
    status: 415,
    send: (c) => c.raw('patch', `/Users/${c.user.id}`).set('Content-Type', 'application/xml').send('<PatchOp/>'),
  },
  { name: 'POST /Users › form-encoded body › 415', status: 415, send: (c) => c.raw('post', '/Users').type('form').send('userName=x') },
  {
    name: 'POST /Users › a charset other than UTF-8 › 415',
    status: 415,
    send: (c) => c.raw('post', '/Users').set('Content-Type', 'application/scim+json; charset=iso-8859-1').send(JSON.stringify(entraUser())),
  },
  {
    name: 'POST /Users › Content-Encoding gzip over bytes that are not gzip › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) =>
      c
        .raw('post', '/Users')
        .set('Content-Type', 'application/scim+json')
        .set('Content-Encoding', 'gzip')
        .serialize(asBytes)
        .send(Buffer.from(JSON.stringify(entraUser()))),
  },
  {
    name: 'PATCH /Users/{id} › Content-Encoding deflate over a truncated stream › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) =>
      c
        .raw('patch', `/Users/${c.user.id}`)
        .set('Content-Type', 'application/scim+json')
        .set('Content-Encoding', 'deflate')
        .serialize(asBytes)
        .send(deflateSync(JSON.stringify(patchOp({ op: 'replace', path: 'title', value: 'x' }))).subarray(0, 8)),
  },
  // An encoded surrogate and a stray 0xFF: decoding would store U+FFFD in their place.
  {
    name: 'POST /Users › bytes that are not UTF-8 in userName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c
        .raw('post', '/Users')
        .set('Content-Type', 'application/scim+json')
        .serialize(asBytes)
        .send(Buffer.concat([Buffer.from(`{"schemas":["${USER_SCHEMA}"],"userName":"a`), Buffer.from([0xed, 0xa0, 0x80, 0xff]), Buffer.from('"}')])),
  },
  {
    name: 'POST /Users › no body at all (read as {}) › 400 invalidValue, userName missing',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users'),
  },
  { name: 'POST /Users › body over 1 MiB › 413', status: 413, send: (c) => c.scim.post('/Users', entraUser({ displayName: oversized() })) },
  {
    name: 'PATCH /Users/{id} › body over 1 MiB › 413',
    status: 413,
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'title', value: oversized() })),
  },
  { name: 'POST /Users › body is an array › 400 invalidSyntax', status: 400, scimType: 'invalidSyntax', send: (c) => c.scim.post('/Users', [entraUser()]) },
  { name: 'POST /Users › body is a JSON string › 400 invalidSyntax', status: 400, scimType: 'invalidSyntax', send: (c) => c.scim.post('/Users', '"hello"') },
  {
    name: 'PUT /Users/{id} › body is null › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.put(`/Users/${c.user.id}`, 'null'),
  },
  {
    name: 'PATCH /Users/{id} › body is an array › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, [{ op: 'add', path: 'title', value: 'x' }]),
  },

  // --- resources that break the schema
  {
    name: 'POST /Users › no userName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', { schemas: [USER_SCHEMA], displayName: 'x' }),
  },
  {
    name: 'POST /Users › blank userName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ userName: '   ' })),
  },
  {
    name: 'PUT /Users/{id} › no userName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.put(`/Users/${c.user.id}`, { schemas: [USER_SCHEMA], title: 'x' }),
  },
  {
    name: 'POST /Groups › no displayName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Groups', { schemas: [GROUP_SCHEMA] }),
  },
  // A body that does not conform to the request's schemas is invalidSyntax.
  {
    name: 'POST /Users › unknown attribute › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users', entraUser({ favouriteColour: 'blue' })),
  },
  {
    name: 'POST /Users › unknown sub-attribute of name › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users', entraUser({ name: { givenName: 'A', nickname: 'B' } })),
  },
  {
    name: 'POST /Users › userName is a number › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ userName: 42 })),
  },
  {
    name: 'POST /Users › active is "maybe" › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ active: 'maybe' })),
  },
  {
    name: 'PUT /Users/{id} › active is "maybe" › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.put(`/Users/${c.user.id}`, entraUser({ userName: c.user.userName, active: 'maybe' })),
  },
  {
    name: 'POST /Users › emails is a string › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ emails: 'a@example.org' })),
  },
  {
    name: 'POST /Users › name is an array of two › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ name: [{ givenName: 'A' }, { givenName: 'B' }] })),
  },
  {
    name: 'POST /Users › name is a string › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ name: 'Ada Lovelace' })),
  },
  {
    name: 'POST /Users › two primary emails › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c.scim.post(
        '/Users',
        entraUser({
          emails: [
            { value: 'a@x.org', primary: true },
            { value: 'b@x.org', primary: true },
          ],
        }),
      ),
  },
  // Unknown URNs in "schemas" alone are tolerated (Entra's group create sends a non-URN
  // Microsoft schema), but attributes under an unknown schema are not.
  {
    name: 'POST /Users › attributes under an unknown schema URN › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users', entraUser({ schemas: [USER_SCHEMA, UNKNOWN_URN], [UNKNOWN_URN]: { level: 3 } })),
  },
  {
    name: 'POST /Users › "schemas" is a string › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users', entraUser({ schemas: USER_SCHEMA })),
  },
  {
    name: 'POST /Users › a NUL character in userName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', entraUser({ userName: 'nul\u0000user' })),
  },
  {
    name: 'PATCH /Users/{id} › a NUL character in a value › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'title', value: 'a\u0000b' })),
  },
  {
    name: 'PATCH /Users/{id} › a NUL escaped inside a path filter that creates an element › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'phoneNumbers[type eq "a\\u0000"].value', value: '+1 555 0100' })),
  },
  // JSON may escape a lone UTF-16 surrogate; PostgreSQL's text and jsonb cannot hold one.
  {
    name: 'POST /Users › a lone surrogate in userName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', JSON.stringify(entraUser()).replace('"userName":"', '"userName":"\\ud800')),
  },
  {
    name: 'POST /Users › a lone low surrogate in an extension attribute › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c.scim.post('/Users', JSON.stringify(entraUser({ [ENTERPRISE]: { employeeNumber: 'x' } })).replace('"employeeNumber":"x', '"employeeNumber":"\\udc00')),
  },
  {
    name: 'POST /Users › a lone surrogate in an attribute name › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users', JSON.stringify(entraUser()).replace('"active":', '"act\\ud800ive":')),
  },
  {
    name: 'PUT /Users/{id} › a lone surrogate in title › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c.scim.put(`/Users/${c.user.id}`, JSON.stringify(entraUser({ userName: c.user.userName, title: 'x' })).replace('"title":"x', '"title":"\\ud83d')),
  },
  {
    name: 'PATCH /Users/{id} › a lone surrogate in a value › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c.scim.patch(`/Users/${c.user.id}`, JSON.stringify(patchOp({ op: 'replace', path: 'title', value: 'x' })).replace('"value":"x', '"value":"\\ud800')),
  },
  {
    name: 'PATCH /Groups/{id} › a lone surrogate in displayName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c.scim.patch(
        `/Groups/${c.group.id}`,
        JSON.stringify(patchOp({ op: 'replace', path: 'displayName', value: 'x' })).replace('"value":"x', '"value":"\\udfff'),
      ),
  },
  {
    name: 'POST /Groups › a NUL in displayName › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'g\u0000' }),
  },
  {
    name: "POST /Bulk › a lone surrogate inside an operation's data › 400 invalidValue",
    status: 400,
    scimType: 'invalidValue',
    send: (c) =>
      c.scim.post(
        '/Bulk',
        JSON.stringify({ schemas: [BULK_REQUEST], Operations: [{ method: 'POST', path: '/Users', bulkId: 'b', data: entraUser({ title: 'x' }) }] }).replace(
          '"title":"x',
          '"title":"\\ud800',
        ),
      ),
  },
  {
    name: 'PATCH /Users/{id} › a lone surrogate escaped inside a path filter that creates an element › 400 invalidPath',
    status: 400,
    scimType: 'invalidPath',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'add', path: 'emails[type eq "\\ud800"].value', value: 'x@example.org' })),
  },
  {
    name: 'POST /Users › a body nested 100,000 arrays deep › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  },
  {
    name: 'POST /Users/.search › attributes nested 5,000 arrays deep › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users/.search', `{"attributes":${'['.repeat(5000)}"userName"${']'.repeat(5000)}}`),
  },
  {
    name: 'PATCH /Users/{id} › a path-less value nested 5,000 objects deep › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, `{"Operations":[{"op":"replace","value":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}]}`),
  },
  {
    name: 'POST /Bulk › operation data nested 40 levels deep › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Bulk', `{"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}]}`),
  },
  {
    name: 'POST /Groups › a member that is not a user id › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'g', members: [{ value: 'not-a-uuid' }] }),
  },

  // --- list queries
  {
    name: 'GET /Users › filter with an unclosed quote › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('userName eq "abc')}`),
  },
  {
    name: 'GET /Users › filter on an unknown attribute › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('shoeSize eq "9"')}`),
  },
  {
    name: 'GET /Users › filter with an unknown operator › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('userName like "a%"')}`),
  },
  {
    name: 'GET /Users › gt on a boolean › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('active gt true')}`),
  },
  {
    name: 'GET /Users › a 5,000-character filter › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc(`userName eq "${'a'.repeat(4990)}"`)}`),
  },
  {
    name: 'GET /Users › 40 nested parentheses › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc(nested(40))}`),
  },
  {
    name: 'GET /Users › filter given twice › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('userName pr')}&filter=${enc('title pr')}`),
  },
  {
    name: 'GET /Users › a NUL in a filter value › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('userName eq "a\\u0000b"')}`),
  },
  {
    name: 'GET /Users › a lone surrogate escaped in a filter value › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('userName eq "a\\udc00"')}`),
  },
  {
    name: 'GET /Users › a dateTime filter that is no date › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get(`/Users?filter=${enc('meta.created gt "yesterday"')}`),
  },
  {
    name: 'POST /Users/.search › a bad filter in the body › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.post('/Users/.search', { schemas: [SEARCH_REQUEST], filter: 'userName eq' }),
  },
  {
    name: 'POST /Users/.search › filter is a number › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.post('/Users/.search', { schemas: [SEARCH_REQUEST], filter: 7 }),
  },
  {
    name: 'GET /Users › sortBy an unknown attribute › 400 invalidPath',
    status: 400,
    scimType: 'invalidPath',
    send: (c) => c.scim.get('/Users?sortBy=shoeSize'),
  },
  {
    name: 'GET /Users › sortOrder "sideways" › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.get('/Users?sortBy=userName&sortOrder=sideways'),
  },
  { name: 'GET /Users › startIndex=abc › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/Users?startIndex=abc') },
  { name: 'GET /Users › count=abc › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/Users?count=abc') },
  { name: 'GET /Users › count=1.5 › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/Users?count=1.5') },
  {
    name: 'POST /Users/.search › body is an array › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Users/.search', [{ filter: 'userName pr' }]),
  },
  // Objects whose "toString" is no function: String() and Array.join throw on them.
  {
    name: 'POST /Users/.search › attributes holding an object › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users/.search', { schemas: [SEARCH_REQUEST], attributes: [{ toString: 1 }] }),
  },
  {
    name: 'POST /Users/.search › sortOrder is an object › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users/.search', { schemas: [SEARCH_REQUEST], sortBy: 'userName', sortOrder: { toString: 1 } }),
  },
  {
    name: 'POST /Groups/.search › wrong message schema › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Groups/.search', { schemas: [GROUP_SCHEMA], filter: 'displayName pr' }),
  },
  {
    name: 'POST /Users/.search › count is a string of letters › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.post('/Users/.search', { schemas: [SEARCH_REQUEST], count: 'ten' }),
  },

  // --- PATCH bodies
  {
    name: 'PATCH /Users/{id} › no Operations › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, { schemas: [patchOp().schemas[0]] }),
  },
  {
    name: 'PATCH /Users/{id} › Operations is an object › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, { ...patchOp(), Operations: { op: 'add' } }),
  },
  {
    name: 'PATCH /Users/{id} › wrong message schema › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, { schemas: [USER_SCHEMA], Operations: [{ op: 'add', path: 'title', value: 'x' }] }),
  },
  {
    name: 'PATCH /Users/{id} › op "move" › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'move', path: 'title', value: 'x' })),
  },
  {
    name: 'PATCH /Users/{id} › add without a value › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'add', path: 'title' })),
  },
  {
    name: 'PATCH /Users/{id} › remove without a path › 400 noTarget',
    status: 400,
    scimType: 'noTarget',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'remove' })),
  },
  {
    name: 'PATCH /Users/{id} › path to an unknown attribute › 400 invalidPath',
    status: 400,
    scimType: 'invalidPath',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'shoeSize', value: '9' })),
  },
  {
    name: 'PATCH /Users/{id} › path to an unknown sub-attribute › 400 invalidPath',
    status: 400,
    scimType: 'invalidPath',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'name.nickname', value: 'x' })),
  },
  {
    name: 'PATCH /Users/{id} › path with an unclosed "[" › 400 invalidPath',
    status: 400,
    scimType: 'invalidPath',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'emails[type eq "work"', value: 'x' })),
  },
  {
    name: 'PATCH /Users/{id} › replace id › 400 mutability',
    status: 400,
    scimType: 'mutability',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'id', value: randomUUID() })),
  },
  {
    name: 'PATCH /Users/{id} › replace meta.created › 400 mutability',
    status: 400,
    scimType: 'mutability',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'meta.created', value: '2000-01-01T00:00:00Z' })),
  },
  {
    name: 'PATCH /Users/{id} › add to groups (readOnly) › 400 mutability',
    status: 400,
    scimType: 'mutability',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'add', path: 'groups', value: [{ value: c.group.id }] })),
  },
  {
    name: 'PATCH /Users/{id} › active set to "maybe" › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'active', value: 'maybe' })),
  },
  {
    name: 'PATCH /Users/{id} › userName set to a number › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'replace', path: 'userName', value: 42 })),
  },
  {
    name: 'PATCH /Users/{id} › remove userName (required) › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp({ op: 'remove', path: 'userName' })),
  },
  {
    name: 'PATCH /Users/{id} › 2,000 operations › 400 tooMany',
    status: 400,
    scimType: 'tooMany',
    send: (c) => c.scim.patch(`/Users/${c.user.id}`, patchOp(...Array.from({ length: 2000 }, (_, i) => ({ op: 'replace', path: 'title', value: `t${i}` })))),
  },
  {
    name: 'PATCH /Groups/{id} › member value that is not a user id › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Groups/${c.group.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: 'nope' }] })),
  },
  {
    name: 'PATCH /Groups/{id} › replace displayName with a number › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Groups/${c.group.id}`, patchOp({ op: 'replace', path: 'displayName', value: 5 })),
  },

  // --- ids, routes and methods
  // Malformed percent-escapes and dot segments in the URL (Express would fail decoding the id).
  { name: 'GET /Users/% › a bare "%" in the path › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/Users/%') },
  { name: 'GET /Users/%zz › a non-hex escape in the path › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/Users/%zz') },
  {
    name: 'PATCH /Users/{id}%E2%82 › a truncated UTF-8 escape in the id › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.patch(`/Users/${c.user.id}%E2%82`, patchOp({ op: 'replace', path: 'title', value: 'x' })),
  },
  {
    name: 'DELETE /Groups/{id}% › a trailing "%" on the id › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.delete(`/Groups/${c.group.id}%`),
  },
  {
    name: 'GET /Users/%ED%A0%80 › an escaped lone surrogate (not UTF-8) in the path › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.get('/Users/%ED%A0%80'),
  },
  { name: 'GET /Users/%2e%2e › an escaped ".." segment › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/Users/%2e%2e') },
  { name: 'GET /./Users › a "." segment › 400 invalidValue', status: 400, scimType: 'invalidValue', send: (c) => c.scim.get('/./Users') },
  {
    name: 'DELETE /Users/{id}/.. › a ".." segment after an id › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.delete(`/Users/${c.user.id}/..`),
  },
  {
    name: 'GET /Users?filter=% › a bare "%" in the filter › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get('/Users?filter=%'),
  },
  {
    name: 'GET /Users?filter=… a truncated UTF-8 escape in a filter value › 400 invalidFilter',
    status: 400,
    scimType: 'invalidFilter',
    send: (c) => c.scim.get('/Users?filter=userName%20eq%20%22%E2%82%22'),
  },
  {
    name: 'GET /Users?attributes=%zz › a malformed escape in another parameter › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.get('/Users?attributes=%zz'),
  },
  {
    name: 'GET /Users?%E2=1 › a malformed escape in a parameter name › 400 invalidValue',
    status: 400,
    scimType: 'invalidValue',
    send: (c) => c.scim.get('/Users?%E2=1'),
  },
  { name: 'GET /Users/abc › an id that is not a UUID › 404', status: 404, send: (c) => c.scim.get('/Users/abc') },
  { name: "GET /Users/' OR 1=1 -- › SQL in the id › 404", status: 404, send: (c) => c.scim.get(`/Users/${enc("' OR 1=1 --")}`) },
  { name: 'PUT /Users/abc › an id that is not a UUID › 404', status: 404, send: (c) => c.scim.put('/Users/abc', entraUser()) },
  {
    name: 'PATCH /Groups/abc › an id that is not a UUID › 404',
    status: 404,
    send: (c) => c.scim.patch('/Groups/abc', patchOp({ op: 'replace', path: 'displayName', value: 'x' })),
  },
  { name: 'DELETE /Groups/{random uuid} › no such group › 404', status: 404, send: (c) => c.scim.delete(`/Groups/${randomUUID()}`) },
  { name: 'DELETE /Users › no id › 404', status: 404, send: (c) => c.scim.delete('/Users') },
  { name: 'GET /Printers › an unknown SCIM route › 404', status: 404, send: (c) => c.scim.get('/Printers') },
  { name: 'GET /Users/{id}/extra › a path below a resource › 404', status: 404, send: (c) => c.scim.get(`/Users/${c.user.id}/extra`) },

  // --- bulk
  { name: 'POST /Bulk › body is an array › 400 invalidSyntax', status: 400, scimType: 'invalidSyntax', send: (c) => c.scim.post('/Bulk', []) },
  {
    name: 'POST /Bulk › no Operations › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Bulk', { schemas: [BULK_REQUEST] }),
  },
  {
    name: 'POST /Bulk › an operation without a method › 400 invalidSyntax',
    status: 400,
    scimType: 'invalidSyntax',
    send: (c) => c.scim.post('/Bulk', { schemas: [BULK_REQUEST], Operations: [{ path: '/Users', bulkId: 'x', data: entraUser() }] }),
  },
];

describe('bad input › SCIM errors, never a 500 or a hang, and nothing changes', { timeout: 120_000 }, () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  async function arrange(): Promise<Ctx & { snapshot: () => Promise<unknown> }> {
    const { token } = await makeDirectory(t.app);
    const scim = scimClient(t.app, token);
    const user = (await scim.post('/Users', entraUser()).expect(201)).body;
    const group = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: user.id }] }).expect(201)).body;
    const raw = (method: 'post' | 'put' | 'patch', path: string) =>
      request(t.app)[method](`/scim/v2${path}`).set('Authorization', `Bearer ${token}`).unset('User-Agent');
    const snapshot = async () => ({
      user: (await scim.get(`/Users/${user.id}`).expect(200)).body,
      group: (await scim.get(`/Groups/${group.id}`).expect(200)).body,
      users: (await scim.get('/Users?count=0').expect(200)).body.totalResults,
      groups: (await scim.get('/Groups?count=0').expect(200)).body.totalResults,
    });
    return { scim, raw, user, group, snapshot };
  }

  for (const c of CASES) {
    it(c.name, async () => {
      const ctx = await arrange();
      const before = await ctx.snapshot();

      const res = await c.send(ctx).timeout(10_000);

      assertScimError(res, c.status, c.scimType);
      assert.deepEqual(await ctx.snapshot(), before);
    });
  }

  describe('authentication (RFC 6750, RFC 7644 §2)', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no Authorization header', {}, /^Bearer\b/],
      ['an unknown bearer token', { Authorization: 'Bearer scim_us_not-a-real-token' }, /^Bearer\b.*invalid_token/],
      ['Basic credentials', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, /^Bearer\b/],
      ['an empty bearer token', { Authorization: 'Bearer ' }, /^Bearer\b/],
    ];
    for (const [situation, headers, challenge] of cases) {
      it(`GET /scim/v2/Users › ${situation} › 401 with WWW-Authenticate: Bearer and a SCIM error`, async () => {
        const res = await request(t.app).get('/scim/v2/Users').set(headers).timeout(10_000);

        assertScimError(res, 401);
        assert.match(res.headers['www-authenticate'] ?? '', challenge);
      });
    }

    it('POST /scim/v2/Users › no token › 401 and no user is created', async () => {
      const { token } = await makeDirectory(t.app);
      const scim = scimClient(t.app, token);
      const body = entraUser();

      const res = await request(t.app).post('/scim/v2/Users').set('Content-Type', 'application/scim+json').send(body);

      assertScimError(res, 401);
      const found = await scim.get(`/Users?filter=${enc(`userName eq "${body.userName}"`)}`).expect(200);
      assert.equal(found.body.totalResults, 0);
    });

    it('GET /nowhere › an unknown route outside SCIM › 404 SCIM error', async () => {
      const res = await request(t.app).get('/nowhere');

      assertScimError(res, 404);
    });
  });

  describe('a request without /scim/v1 or /scim/v2 (a Tenant URL pasted without its base path)', () => {
    for (const path of ['/Users', '/', '/scim/Users', '/Groups?filter=displayName%20eq%20%22x%22', '/scim/v3/Users']) {
      it(`GET ${path} › 404 SCIM error whose detail shows the Tenant URL ending in /scim/v1`, async () => {
        const { token } = await makeDirectory(t.app);

        const res = await request(t.app).get(path).set('Authorization', `Bearer ${token}`);

        assertScimError(res, 404);
        assert.ok(res.body.detail.includes(`${PUBLIC_BASE_URL}/scim/v1`), res.body.detail);
      });
    }

    it('GET /scim/v2/Printers and GET /admin/v1/printers › 404 without the hint (the base path is right)', async () => {
      const { token } = await makeDirectory(t.app);

      const scim = await scimClient(t.app, token).get('/Printers');
      const admin = await asAdmin(request(t.app).get('/admin/v1/printers'));

      assertScimError(scim, 404);
      assertScimError(admin, 404);
      assert.ok(!scim.body.detail.includes('/scim/v1,'), scim.body.detail);
      assert.ok(!admin.body.detail.includes(PUBLIC_BASE_URL), admin.body.detail);
    });

    it('GET /healthz › still 200', async () => {
      await request(t.app).get('/healthz').expect(200);
    });
  });

  describe('a dateTime extension attribute › a calendar date PostgreSQL cannot read', () => {
    const URN = 'urn:ietf:params:scim:schemas:extension:fuzz:2.0:User';
    for (const value of ['2024-02-30T10:00:00Z', '2023-04-31T00:00:00Z', '0000-01-01T00:00:00Z', '2024-01-01T10:00:00+23:59']) {
      it(`POST /Users › lastSeen "${value}" › 400 invalidValue, nothing stored; a list sorted by it still answers`, async () => {
        const dir = await makeDirectory(t.app);
        const schema = { id: URN, name: 'FuzzUser', attributes: [{ name: 'lastSeen', type: 'dateTime' }] };
        await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
          .send(schema)
          .expect(201);
        const scim = scimClient(t.app, dir.token);

        const res = await scim.post('/Users', entraUser({ schemas: [USER_SCHEMA, URN], [URN]: { lastSeen: value } }));

        assertScimError(res, 400, 'invalidValue');
        const list = await scim.get(`/Users?sortBy=${enc(`${URN}:lastSeen`)}&filter=${enc(`${URN}:lastSeen pr`)}`).expect(200);
        assert.equal(list.body.totalResults, 0);
      });
    }
  });

  describe("requests node's HTTP parser refuses › a SCIM error, and the connection closed", () => {
    let server: Server;
    let port: number;
    before(async () => {
      server = createServer(t.app).listen(0, '127.0.0.1');
      server.on('clientError', clientErrorHandler);
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** Writes raw bytes, reads until the server closes; status, headers and body of the answer. */
    const raw = (bytes: Buffer) =>
      new Promise<{ status: number; head: string; body: string }>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
        socket.on('data', (c) => chunks.push(c));
        socket.on('error', reject);
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('latin1');
          const [head, body = ''] = text.split('\r\n\r\n');
          resolve({ status: Number(head.split(' ')[1]), head, body });
        });
        socket.write(bytes);
      });

    const cases: [string, Buffer, number, string | undefined][] = [
      [
        'a raw byte past ASCII (0xE9) in the path',
        Buffer.concat([Buffer.from('GET /scim/v2/Users/'), Buffer.from([0xe9]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]),
        400,
        'invalidSyntax',
      ],
      [
        'a chunk size that is not hex',
        Buffer.from(
          `POST /admin/v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
        ),
        400,
        'invalidSyntax',
      ],
      ['a header section over 16 KiB', Buffer.from(`GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, undefined],
    ];
    for (const [situation, bytes, status, scimType] of cases) {
      it(`${situation} › ${status} with a SCIM error body`, async () => {
        const res = await raw(bytes);

        assert.equal(res.status, status);
        assert.match(res.head, /\r\nContent-Type: application\/scim\+json/);
        assert.match(res.head, /\r\nConnection: close/);
        const body = JSON.parse(res.body);
        assert.deepEqual(body.schemas, [ERROR_SCHEMA]);
        assert.equal(body.scimType, scimType);
      });
    }

    it('a broken chunk after the app already answered 401 › that one answer only, then the connection closed', async () => {
      const res = await raw(Buffer.from('POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'));

      assert.equal(res.status, 401);
      assert.equal(`${res.head}\r\n\r\n${res.body}`.split('HTTP/1.1 ').length - 1, 1);
    });

    it('HEAD with a raw byte past ASCII › 400 without a body', async () => {
      const res = await raw(Buffer.concat([Buffer.from('HEAD /scim/v2/'), Buffer.from([0xff]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]));

      assert.equal(res.status, 400);
      assert.equal(res.body, '');
    });
  });

  describe('admin API › hostile bodies and malformed URLs', () => {
    it('POST /admin/v1/tenants › a lone surrogate in name › 400 invalidValue and no tenant stored', async () => {
      const name = `surrogate-${randomUUID()}`;

      const res = await asAdmin(request(t.app).post('/admin/v1/tenants')).set('Content-Type', 'application/json').send(`{"name":"${name}\\ud800"}`);

      assertScimError(res, 400, 'invalidValue');
      const tenants: { name: string }[] = (await asAdmin(request(t.app).get('/admin/v1/tenants')).expect(200)).body.data;
      assert.equal(tenants.filter((x) => x.name.startsWith(name)).length, 0);
    });

    it('POST /admin/v1/tenants › name is an object with a "length" (zod measures it) › 400 invalidValue', async () => {
      const res = await asAdmin(request(t.app).post('/admin/v1/tenants')).send({ name: { length: { toString: 1 } } });

      assertScimError(res, 400, 'invalidValue');
    });

    it('GET /admin/v1/tenants/%zz › a malformed escape in the tenant id › 400 invalidValue', async () => {
      const res = await asAdmin(request(t.app).get('/admin/v1/tenants/%zz'));

      assertScimError(res, 400, 'invalidValue');
    });
  });

  it("PATCH /Users/{id} › empty Operations (sent by Microsoft's SCIM validator) › 200 no-op, version kept", async () => {
    const ctx = await arrange();
    const before = await ctx.snapshot();

    const res = await ctx.scim.patch(`/Users/${ctx.user.id}`, patchOp());

    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], SCIM_JSON);
    assert.equal(res.headers.etag, ctx.user.meta.version);
    assert.deepEqual(await ctx.snapshot(), before);
  });

  describe('hostile but valid values are stored exactly', () => {
    it('POST /Users › unicode, emoji and SQL metacharacters in userName › 201, returned and found byte for byte', async () => {
      const { token } = await makeDirectory(t.app);
      const scim = scimClient(t.app, token);
      const userName = `Zoë 🚀 O'Brien"; DROP TABLE scim_users; -- %_\\ 名前-${randomUUID().slice(0, 6)}@例え.jp`;

      const created = await scim.post('/Users', entraUser({ userName, displayName: "Robert'); --" })).expect(201);
      const read = await scim.get(`/Users/${created.body.id}`).expect(200);
      const escaped = userName.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
      const found = await scim.get(`/Users?filter=${enc(`userName eq "${escaped}"`)}`).expect(200);
      const contains = await scim.get(`/Users?filter=${enc('userName co "%_\\\\"')}`).expect(200);

      assert.equal(created.body.userName, userName);
      assert.equal(read.body.userName, userName);
      assert.equal(read.body.displayName, "Robert'); --");
      assert.deepEqual(
        found.body.Resources.map((u: { id: string }) => u.id),
        [created.body.id],
      );
      assert.deepEqual(
        contains.body.Resources.map((u: { id: string }) => u.id),
        [created.body.id],
      );
    });

    it('GET /Users › a filter value holding SQL › 200 with no results, the table intact', async () => {
      const { token } = await makeDirectory(t.app);
      const scim = scimClient(t.app, token);
      await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.get(`/Users?filter=${enc(`userName eq "x' OR '1'='1"`)}`).expect(200);

      assert.equal(res.body.totalResults, 0);
      assert.equal((await scim.get('/Users?count=0').expect(200)).body.totalResults, 1);
    });
  });

  describe('bulk operations with bad parts', () => {
    it('POST /Bulk › an operation with an unknown method › that operation answers 400 invalidSyntax, nothing else runs wild', async () => {
      const { token } = await makeDirectory(t.app);
      const scim = scimClient(t.app, token);
      const body = entraUser();

      const res = await scim
        .post('/Bulk', {
          schemas: [BULK_REQUEST],
          Operations: [
            { method: 'COPY', path: '/Users', bulkId: 'c', data: entraUser() },
            { method: 'POST', path: '/Users', bulkId: 'p', data: body },
          ],
        })
        .expect(200);

      assert.match(res.headers['content-type'], SCIM_JSON);
      const [copy, post] = res.body.Operations;
      assert.equal(copy.status, '400');
      assert.deepEqual(copy.response.schemas, [ERROR_SCHEMA]);
      assert.equal(copy.response.scimType, 'invalidSyntax');
      assert.equal(post.status, '201');
      assert.equal((await scim.get('/Users?count=0').expect(200)).body.totalResults, 1);
    });

    it('POST /Bulk › an operation on an unknown endpoint › that operation answers 400 invalidPath', async () => {
      const { token } = await makeDirectory(t.app);
      const scim = scimClient(t.app, token);

      const res = await scim.post('/Bulk', { schemas: [BULK_REQUEST], Operations: [{ method: 'POST', path: '/Printers', bulkId: 'p', data: {} }] }).expect(200);

      const [op] = res.body.Operations;
      assert.equal(op.status, '400');
      assert.equal(op.response.scimType, 'invalidPath');
    });
  });
});
