/**
 * Concurrent writers of one unique value (userName, externalId, a group's displayName): exactly
 * one wins, the others get 409 uniqueness, and PostgreSQL never raises a unique violation, whose
 * DETAIL would write the value (personal data) into the server's log. The last part is proven on
 * the real server log: a marker is logged before the race, and nothing after it may mention the
 * raced values or a duplicate key of this database. Where the log cannot be read the test says so
 * and skips that part (Debian keeps it in /var/log/postgresql; CI runs as root there).
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { config } from '../../shared/config';
import { makeTestApp, type TestApp } from '../support/app';
import { GROUP_SCHEMA, patchOp } from '../support/factories';
import { createGroup, createUser, freshDirectory } from '../support/scim-helpers';

const WRITERS = 12;
const LOG_DIR = '/var/log/postgresql';
const DATABASE = new URL(config.DATABASE_URL).pathname.slice(1);

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

/** The server log files this process can read, or none. */
function serverLogs(): string[] {
  try {
    return readdirSync(LOG_DIR)
      .filter((f) => f.endsWith('.log'))
      .map((f) => path.join(LOG_DIR, f))
      .filter((f) => {
        try {
          readFileSync(f, { flag: 'r' }).subarray(0, 1);
          return true;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/**
 * Logs a marker through PostgreSQL itself (RAISE LOG reaches the server log at the default
 * log_min_messages), runs `race`, and returns every server log line written after the marker.
 */
async function serverLogDuring(race: () => Promise<void>): Promise<string[] | undefined> {
  const marker = `uniqueness-race-marker-${randomUUID()}`;
  await t.db.acrossTenants().exec(`DO $$ BEGIN RAISE LOG '${marker}'; END $$`);
  await race();
  for (const file of serverLogs()) {
    const text = readFileSync(file, 'utf8');
    const at = text.lastIndexOf(marker);
    if (at >= 0) return text.slice(at).split('\n').slice(1);
  }
  return undefined;
}

/** Asserts the log lines hold neither a raced value nor a unique violation of this database. */
function assertNothingLogged(ctx: TestContext, lines: string[] | undefined, values: string[]) {
  if (!lines) {
    ctx.diagnostic(`the PostgreSQL server log is not readable under ${LOG_DIR}: the log part of this test was not checked`);
    return;
  }
  const violations = lines.filter((l) => l.includes(`@${DATABASE} `) && /duplicate key value violates unique constraint "scim_(users|groups)_/.test(l));
  assert.deepEqual(violations, []);
  const leaked = lines.filter((l) => values.some((v) => l.toLowerCase().includes(v.toLowerCase())));
  assert.deepEqual(leaked, []);
}

function assertOneWinner(responses: Response[], winner: number) {
  const statuses = responses.map((r) => r.status).sort();
  assert.deepEqual(statuses, [winner, ...Array(responses.length - 1).fill(409)]);
  for (const r of responses.filter((r) => r.status === 409)) assert.equal(r.body.scimType, 'uniqueness');
}

describe('uniqueness races', () => {
  it(`POST /Users › ${WRITERS} concurrent creates of one userName, in different cases › one 201, the rest 409 uniqueness, no unique violation logged`, async (ctx) => {
    const { scim } = await freshDirectory(t.app);
    const name = `race-${randomUUID()}@contoso.example`;
    let responses: Response[] = [];
    const lines = await serverLogDuring(async () => {
      responses = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) =>
          scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: i % 2 ? name.toUpperCase() : name }),
        ),
      );
    });
    assertOneWinner(responses, 201);
    assertNothingLogged(ctx, lines, [name]);
  });

  it(`POST /Users › ${WRITERS} concurrent creates sharing one externalId › one 201, the rest 409 uniqueness, no unique violation logged`, async (ctx) => {
    const { scim } = await freshDirectory(t.app);
    const externalId = `ext-${randomUUID()}`;
    let responses: Response[] = [];
    const lines = await serverLogDuring(async () => {
      responses = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) =>
          scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `u${i}-${externalId}@contoso.example`, externalId }),
        ),
      );
    });
    assertOneWinner(responses, 201);
    assertNothingLogged(ctx, lines, [externalId]);
  });

  it(`PATCH /Users › ${WRITERS} users renamed at once onto one userName, while it is also created › one wins, the rest 409 uniqueness, no unique violation logged`, async (ctx) => {
    const { scim } = await freshDirectory(t.app);
    const users = await Promise.all(Array.from({ length: WRITERS }, () => createUser(scim)));
    const name = `rename-${randomUUID()}@contoso.example`;
    let responses: Response[] = [];
    const lines = await serverLogDuring(async () => {
      responses = await Promise.all([
        ...users.map((u) => scim.patch(`/Users/${u.id}`, patchOp({ op: 'replace', path: 'userName', value: name }))),
        scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: name.toUpperCase() }),
      ]);
    });
    const won = responses.filter((r) => r.status === 200 || r.status === 201);
    assert.equal(won.length, 1);
    assert.equal(responses.filter((r) => r.status === 409 && r.body.scimType === 'uniqueness').length, WRITERS);
    assertNothingLogged(ctx, lines, [name]);
  });

  it(`PUT /Users › concurrent replaces moving one externalId onto ${WRITERS} users › one 200, the rest 409 uniqueness`, async (ctx) => {
    const { scim } = await freshDirectory(t.app);
    const users = await Promise.all(Array.from({ length: WRITERS }, () => createUser(scim)));
    const externalId = `moved-${randomUUID()}`;
    let responses: Response[] = [];
    const lines = await serverLogDuring(async () => {
      responses = await Promise.all(users.map((u) => scim.put(`/Users/${u.id}`, { schemas: u.schemas, userName: u.userName, externalId })));
    });
    assertOneWinner(responses, 200);
    assertNothingLogged(ctx, lines, [externalId]);
  });

  it(`POST and PATCH /Groups › concurrent creates and renames onto one displayName › one wins, the rest 409 uniqueness, no unique violation logged`, async (ctx) => {
    const { scim } = await freshDirectory(t.app);
    const groups = await Promise.all(Array.from({ length: WRITERS / 2 }, () => createGroup(scim)));
    const displayName = `Race Group ${randomUUID()}`;
    let responses: Response[] = [];
    const lines = await serverLogDuring(async () => {
      responses = await Promise.all([
        ...groups.map((g) => scim.patch(`/Groups/${g.id}`, patchOp({ op: 'replace', path: 'displayName', value: displayName }))),
        ...Array.from({ length: WRITERS / 2 }, (_, i) =>
          scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: i % 2 ? displayName.toLowerCase() : displayName }),
        ),
      ]);
    });
    const won = responses.filter((r) => r.status < 300);
    assert.equal(won.length, 1, `statuses: ${responses.map((r) => r.status).join(',')}`);
    assert.equal(responses.filter((r) => r.status === 409 && r.body.scimType === 'uniqueness').length, WRITERS - 1);
    assertNothingLogged(ctx, lines, [displayName]);
  });

  it('PATCH /Users › a rename onto a value taken long ago › 409 uniqueness naming the same attribute as a create would', async () => {
    const { scim } = await freshDirectory(t.app);
    const [a, b] = await Promise.all([createUser(scim), createUser(scim)]);
    const rename = await scim.patch(`/Users/${b.id}`, patchOp({ op: 'replace', path: 'externalId', value: a.externalId })).expect(409);
    assert.equal(rename.body.scimType, 'uniqueness');
    const create = await scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: a.userName.toUpperCase() }).expect(409);
    assert.equal(create.body.scimType, 'uniqueness');
    // A case-only rename of one's own userName is not a clash with oneself.
    await scim.patch(`/Users/${a.id}`, patchOp({ op: 'replace', path: 'userName', value: a.userName.toUpperCase() })).expect(200);
  });

  it('uniqueness › the same userName in another directory › both creates succeed', async () => {
    const [one, two] = await Promise.all([freshDirectory(t.app), freshDirectory(t.app)]);
    const name = `both-${randomUUID()}@contoso.example`;
    const responses = await Promise.all(
      [one.scim, two.scim, one.scim, two.scim].map((scim) => scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: name })),
    );
    assert.deepEqual(responses.map((r) => r.status).sort(), [201, 201, 409, 409]);
  });
});
