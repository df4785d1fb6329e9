import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import type { App } from 'supertest/types';
import { makeTestApp, type TestApp } from './app';
import { asAdmin, ERROR_SCHEMA, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, type TestDirectory } from './factories';

export type Scim = ReturnType<typeof scimClient>;

export interface StoredEvent {
  type: string;
  resourceId: string;
  data: { user?: { id: string }; group?: { id: string }; changedAttributes?: string[] };
}

/** A fresh tenant + directory and a SCIM client on its key. */
export async function freshDirectory(app: App): Promise<{ dir: TestDirectory; scim: Scim }> {
  const dir = await makeDirectory(app);
  return { dir, scim: scimClient(app, dir.token) };
}

export const filterQuery = (filter: string) => `filter=${encodeURIComponent(filter)}`;

export async function createUser(scim: Scim, overrides: Record<string, unknown> = {}) {
  return (await scim.post('/Users', entraUser(overrides)).expect(201)).body as Record<string, any>;
}

export async function getUser(scim: Scim, id: string) {
  return (await scim.get(`/Users/${id}`).expect(200)).body as Record<string, any>;
}

/** Creates users one after another (so meta.created and ids ascend) and returns their bodies. */
export async function createUsers(scim: Scim, overrides: Record<string, unknown>[]) {
  const out: (Record<string, any> & { id: string; userName: string })[] = [];
  for (const o of overrides) out.push((await createUser(scim, o)) as Record<string, any> & { id: string; userName: string });
  return out;
}

/** The userNames a GET /Users?{query} lists, in the order listed. */
export async function userNames(scim: Scim, query: string): Promise<string[]> {
  const res = await scim.get(`/Users?${query}`).expect(200);
  return res.body.Resources.map((r: { userName: string }) => r.userName);
}

export async function createGroup(scim: Scim, displayName = `group-${randomUUID()}`) {
  const body = { schemas: [GROUP_SCHEMA], externalId: randomUUID(), displayName };
  return (await scim.post('/Groups', body).expect(201)).body as Record<string, any>;
}

/** A group holding `n` fresh users, added in one PATCH. */
export async function groupWithMembers(scim: Scim, n: number) {
  const group = await createGroup(scim);
  const users: Record<string, any>[] = [];
  for (let i = 0; i < n; i++) users.push(await createUser(scim));
  await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'add', path: 'members', value: users.map((u) => ({ value: u.id })) })).expect(204);
  return { group, users, ids: users.map((u) => u.id as string) };
}

export async function memberIdsOf(scim: Scim, groupId: string): Promise<string[]> {
  const res = await scim.get(`/Groups/${groupId}`).expect(200);
  return ((res.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

/**
 * The tenant's events. The feed only shows commits older than every open transaction, so a
 * commit may show a moment late: poll until `until` holds (or give up and let the assertion say why).
 */
export async function eventsOf(app: App, dir: TestDirectory, until: (events: StoredEvent[]) => boolean = () => true): Promise<StoredEvent[]> {
  for (let attempt = 0; ; attempt++) {
    const res = await asAdmin(request(app).get(`/admin/v1/tenants/${dir.tenantId}/events?limit=1000`)).expect(200);
    const events = res.body.data as StoredEvent[];
    if (until(events) || attempt >= 100) return events;
    await delay(50);
  }
}

export const typesFor = (events: StoredEvent[], resourceId: string) => events.filter((e) => e.resourceId === resourceId).map((e) => e.type);
export const sorted = (ids: string[]) => [...ids].sort();

/**
 * One app per test file (or per describe, where called) on the real database, closed after its
 * tests; `fresh()` gives each test a tenant and directory of its own, so data and events never mix.
 */
export function apiSuite(overrides: Parameters<typeof makeTestApp>[0] = {}) {
  let t: TestApp;
  before(() => {
    t = makeTestApp(overrides);
  });
  after(() => t.close());
  return {
    get app(): App {
      return t.app;
    },
    fresh: () => freshDirectory(t.app),
    eventsOf: (dir: TestDirectory, until?: (events: StoredEvent[]) => boolean) => eventsOf(t.app, dir, until),
  };
}

export const SCIM_JSON = /^application\/scim\+json/;

export function assertScimJson(res: request.Response) {
  assert.match(String(res.headers['content-type']), SCIM_JSON);
}

/** A SCIM error: the error body in application/scim+json, its status as a string, and the scimType (or none). */
export function assertScimError(res: request.Response, status: number, scimType?: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assertScimJson(res);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
  assert.equal(res.body.status, String(status));
  assert.equal(res.body.scimType, scimType);
}

/** A header of the request as it went out (supertest keeps the Node request on the response). */
export const sentHeader = (res: request.Response, name: string) => (res as unknown as { req: { getHeader(n: string): unknown } }).req.getHeader(name);
