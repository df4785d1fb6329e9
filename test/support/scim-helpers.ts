import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import type { App } from 'supertest/types';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, type TestDirectory } from './factories';

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

export async function createGroup(scim: Scim) {
  const body = { schemas: [GROUP_SCHEMA], externalId: randomUUID(), displayName: `group-${randomUUID()}` };
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
