import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { asAdmin } from '../support/factories';

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('operator session (console sign-in)', () => {
  let t: TestApp;
  let cookie: string;
  let csrfToken: string;

  before(async () => {
    t = makeTestApp();
    const res = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    cookie = (res.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    csrfToken = res.body.csrfToken;
  });
  after(() => t.close());

  it('POST /admin/session › admin token › a session on /admin and a CSRF token, neither the admin token', async () => {
    const res = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    const setCookie = (res.headers['set-cookie'] as unknown as string[])[0];
    assert.match(setCookie, /^scim_operator_session=\d+\.[\w-]+\.[\w-]+; Path=\/admin; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/);
    assert.ok(!setCookie.includes(ADMIN_TOKEN) && !String(res.body.csrfToken).includes(ADMIN_TOKEN));
    assert.ok(Date.parse(res.body.expiresAt) > Date.now());
    assert.notEqual(res.body.csrfToken, csrfToken, 'each sign-in is a new session');
  });

  it('POST /admin/session › no token › 400 invalidValue', async () => {
    const res = await request(t.app).post('/admin/session').send({}).expect(400);
    assert.equal(res.body.scimType, 'invalidValue');
  });

  it('GET /admin/session › signed in › the same CSRF token; without the cookie › 401', async () => {
    const res = await request(t.app).get('/admin/session').set('Cookie', cookie).expect(200);
    assert.equal(res.body.csrfToken, csrfToken);
    const out = await request(t.app).get('/admin/session').expect(401);
    assert.deepEqual(out.body.schemas, [SCIM_ERROR]);
  });

  it('GET /admin/session › the traces UI the console links to › TRACES_UI_URL, or null', async () => {
    assert.deepEqual((await request(t.app).get('/admin/session').set('Cookie', cookie).expect(200)).body.links, { traces: null });
    const withTraces = makeTestApp({ tracesUiUrl: 'http://localhost:16686' });
    try {
      const res = await request(withTraces.app).get('/admin/session').set('Cookie', cookie).expect(200);
      assert.deepEqual(res.body.links, { traces: 'http://localhost:16686' });
    } finally {
      await withTraces.close();
    }
  });

  it('GET /admin/v1/tenants › session cookie › 200 (reads need no CSRF token)', async () => {
    await request(t.app).get('/admin/v1/tenants').set('Cookie', cookie).expect(200);
  });

  it('POST /admin/v1/tenants › session cookie without the CSRF token › 403 and nothing created', async () => {
    const name = `csrf-victim-${Date.now()}`;
    const res = await request(t.app).post('/admin/v1/tenants').set('Cookie', cookie).send({ name }).expect(403);
    assert.deepEqual(res.body.schemas, [SCIM_ERROR]);
    const wrong = await request(t.app)
      .post('/admin/v1/tenants')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', `${csrfToken.slice(0, -2)}xx`)
      .send({ name });
    assert.equal(wrong.status, 403);
    const list = await asAdmin(request(t.app).get('/admin/v1/tenants')).expect(200);
    assert.ok(!(list.body.data as { name: string }[]).some((x) => x.name === name));
  });

  it('POST /admin/v1/tenants › session cookie with its CSRF token › 201', async () => {
    await request(t.app)
      .post('/admin/v1/tenants')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', csrfToken)
      .send({ name: `console-${Date.now()}` })
      .expect(201);
  });

  it("POST /admin/v1/tenants › another session's CSRF token › 403", async () => {
    const other = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    await request(t.app).post('/admin/v1/tenants').set('Cookie', cookie).set('X-CSRF-Token', other.body.csrfToken).send({ name: 'x' }).expect(403);
  });

  it('a session signed for another admin token › 401: rotating ADMIN_TOKEN ends every session', async () => {
    const rotated = makeTestApp({ adminToken: 'another-admin-token-9876543210-zyxwvu' });
    try {
      await request(rotated.app).get('/admin/v1/tenants').set('Cookie', cookie).expect(401);
    } finally {
      await rotated.close();
    }
  });

  it('DELETE /admin/session › clears the cookie', async () => {
    const res = await request(t.app).delete('/admin/session').set('Cookie', cookie).expect(204);
    assert.match((res.headers['set-cookie'] as unknown as string[])[0], /^scim_operator_session=; Path=\/admin;.*Max-Age=0/);
  });
});
