import type { DirectoryId } from '../../ids';
import type { Sql } from '../sequelize';

/**
 * One answered SCIM request as the setup page lists it. Nothing in it comes from the request's
 * query or body: the route is a template (`/scim/v1/Users/:id`), and `attribute` is a name from
 * the directory's schemas, never a value.
 */
export interface ScimRequestRecord {
  /** The directory the request authenticated as. Absent for a 401, which carries `keyHash` instead. */
  readonly directoryId?: DirectoryId;
  /** SHA-256 of the bearer token a request refused with 401 carried: a revoked key still names its directory. */
  readonly keyHash?: Buffer;
  readonly at: Date;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly scimType?: string;
  /** The schema attribute an error named (`userName`, `urn:…:User:tracking`). */
  readonly attribute?: string;
  /** Entra's "Test connection" (see services/api/scim-activity.ts for how it is recognised). */
  readonly testConnection: boolean;
}

/** A directory's latest times, kept apart from the itemised requests so none is lost when those are thinned. */
export interface DirectoryActivityMarks {
  readonly directoryId: DirectoryId;
  readonly lastRequestAt: Date;
  /** The last successful write (POST, PUT, PATCH, DELETE answered 2xx). */
  readonly lastChangeAt?: Date;
  readonly testConnectionAt?: Date;
}

export interface ScimActivityBatch {
  readonly requests: readonly ScimRequestRecord[];
  readonly marks: readonly DirectoryActivityMarks[];
}

/** Requests kept per directory: the setup page shows the newest 20; the rest give room to page back a little. */
export const REQUESTS_KEPT_PER_DIRECTORY = 50;

/**
 * The API processes' activity writer, across directories: each process hands it what it gathered
 * in the last second, and it writes the whole batch in one statement (see append).
 */
export class ScimActivityWriter {
  constructor(private readonly operator: Sql) {}

  /**
   * Stores the requests of the batch (the newest `keep` of each directory, in the order they were
   * answered) in their directories' rings, and moves the directories' times forward, in one
   * statement (migration 0017 describes the ring):
   * - a 401's directory is the one its (revoked) key belonged to; a token that never was a key
   *   names no directory and is left out, as are directories deleted meanwhile (the joins with
   *   directories drop them, so a late batch never fails on their foreign keys);
   * - each directory's count of requests written is moved forward first, in its directory_activity
   *   row, in directory order: concurrent batches of one directory take turns on that row lock
   *   (never deadlocking) and number their requests one after the other; request number n goes
   *   to slot n mod `keep`, overwriting the request `keep` before it;
   * - the times never move backwards.
   * `keep` is the ring's size: REQUESTS_KEPT_PER_DIRECTORY, as the migration numbered the rows.
   * Returns how many requests were written.
   */
  async append(batch: ScimActivityBatch, keep = REQUESTS_KEPT_PER_DIRECTORY): Promise<number> {
    const r = batch.requests;
    const m = batch.marks;
    if (r.length === 0 && m.length === 0) return 0;
    const [row] = await this.operator.query<{ logged: number }>(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::timestamptz[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::boolean[])
           WITH ORDINALITY AS u(directory_id, key_hash, at, method, route, status, scim_type, attribute, test_connection, n)
       ), located AS (
         SELECT d.id AS directory_id, d.tenant_id, i.at, i.method, i.route, i.status, i.scim_type, i.attribute, i.test_connection,
                row_number() OVER (PARTITION BY d.id ORDER BY i.at DESC, i.n DESC) AS newest
           FROM input i
           LEFT JOIN api_keys k ON i.directory_id IS NULL AND k.token_hash = i.key_hash
           JOIN directories d ON d.id = coalesce(i.directory_id, k.directory_id)
       ), kept AS (
         SELECT * FROM located WHERE newest <= $14
       ), added AS (
         SELECT directory_id, tenant_id, count(*)::int AS n, max(at) AS last_logged_at FROM kept GROUP BY directory_id, tenant_id
       ), marks AS (
         SELECT d.id AS directory_id, d.tenant_id, max(m.last_request_at) AS last_request_at,
                max(m.last_change_at) AS last_change_at, max(m.test_connection_at) AS test_connection_at
           FROM unnest($10::uuid[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[])
                  AS m(directory_id, last_request_at, last_change_at, test_connection_at)
           JOIN directories d ON d.id = m.directory_id
          GROUP BY d.id, d.tenant_id
       ), noted AS (
         INSERT INTO directory_activity AS a (directory_id, tenant_id, last_request_at, last_change_at, test_connection_at, last_logged_at, requests_logged)
         SELECT coalesce(x.directory_id, m.directory_id), coalesce(x.tenant_id, m.tenant_id), m.last_request_at, m.last_change_at,
                m.test_connection_at, x.last_logged_at, coalesce(x.n, 0)
           FROM added x FULL JOIN marks m ON m.directory_id = x.directory_id
          ORDER BY 1
         ON CONFLICT (directory_id) DO UPDATE SET
           last_request_at = greatest(a.last_request_at, EXCLUDED.last_request_at),
           last_change_at = greatest(a.last_change_at, EXCLUDED.last_change_at),
           test_connection_at = greatest(a.test_connection_at, EXCLUDED.test_connection_at),
           last_logged_at = greatest(a.last_logged_at, EXCLUDED.last_logged_at),
           requests_logged = a.requests_logged + EXCLUDED.requests_logged
         RETURNING a.directory_id, a.requests_logged
       ), logged AS (
         -- The batch's oldest request of a directory takes the first number after the ones
         -- written before; its newest, the last.
         INSERT INTO scim_request_log AS l (directory_id, slot, seq, tenant_id, at, method, route, status, scim_type, attribute, test_connection)
         SELECT k.directory_id, (c.requests_logged - k.newest) % $14, c.requests_logged - k.newest, k.tenant_id,
                k.at, k.method, k.route, k.status, k.scim_type, k.attribute, k.test_connection
           FROM kept k JOIN noted c ON c.directory_id = k.directory_id
         ON CONFLICT (directory_id, slot) DO UPDATE SET
           seq = EXCLUDED.seq, tenant_id = EXCLUDED.tenant_id, at = EXCLUDED.at, method = EXCLUDED.method, route = EXCLUDED.route,
           status = EXCLUDED.status, scim_type = EXCLUDED.scim_type, attribute = EXCLUDED.attribute, test_connection = EXCLUDED.test_connection
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM logged)::int AS logged`,
      [
        r.map((x) => x.directoryId ?? null),
        r.map((x) => x.keyHash ?? null),
        r.map((x) => x.at),
        r.map((x) => x.method),
        r.map((x) => x.route),
        r.map((x) => x.status),
        r.map((x) => x.scimType ?? null),
        r.map((x) => x.attribute ?? null),
        r.map((x) => x.testConnection),
        m.map((x) => x.directoryId),
        m.map((x) => x.lastRequestAt),
        m.map((x) => x.lastChangeAt ?? null),
        m.map((x) => x.testConnectionAt ?? null),
        keep,
      ],
    );
    return row?.logged ?? 0;
  }
}

/** A stored request, newest first in DirectoryActivity.recent. */
export interface StoredScimRequest {
  at: string;
  method: string;
  route: string;
  status: number;
  scimType: string | null;
  attribute: string | null;
  testConnection: boolean;
}

export interface DirectoryActivityTimes {
  lastRequestAt: string | null;
  lastChangeAt: string | null;
  testConnectionAt: string | null;
}

/** One directory's recorded activity, as its setup page reads it. */
export class DirectoryActivity {
  constructor(
    private readonly sql: Sql,
    private readonly directoryId: DirectoryId,
  ) {}

  async times(): Promise<DirectoryActivityTimes> {
    const [row] = await this.sql.query<{ last_request_at: Date | null; last_change_at: Date | null; test_connection_at: Date | null }>(
      'SELECT last_request_at, last_change_at, test_connection_at FROM directory_activity WHERE directory_id = $1',
      [this.directoryId],
    );
    return {
      lastRequestAt: row?.last_request_at?.toISOString() ?? null,
      lastChangeAt: row?.last_change_at?.toISOString() ?? null,
      testConnectionAt: row?.test_connection_at?.toISOString() ?? null,
    };
  }

  /** The newest `limit` requests, newest first. */
  async recent(limit: number): Promise<StoredScimRequest[]> {
    const rows = await this.sql.query<{
      at: Date;
      method: string;
      route: string;
      status: number;
      scim_type: string | null;
      attribute: string | null;
      test_connection: boolean;
    }>(
      `SELECT at, method, route, status, scim_type, attribute, test_connection FROM scim_request_log
        WHERE directory_id = $1 ORDER BY at DESC, seq DESC LIMIT $2`,
      [this.directoryId, limit],
    );
    return rows.map((x) => ({
      at: x.at.toISOString(),
      method: x.method,
      route: x.route,
      status: x.status,
      scimType: x.scim_type,
      attribute: x.attribute,
      testConnection: x.test_connection,
    }));
  }
}

/** How a directory's recent SCIM requests went, when most of them failed. */
export interface FailingDirectory {
  readonly directoryId: DirectoryId;
  readonly tenantId: string;
  readonly directoryName: string;
  readonly tenantName: string;
  readonly requests: number;
  readonly failed: number;
  readonly lastFailureAt: string;
}

/** Which recent requests count as failed, and over what window (FailingDirectories.list). */
export interface FailureWindow {
  readonly minutes: number;
  /** Fewer requests than this in the window say nothing either way. */
  readonly minRequests: number;
  /** The failed share from which a directory is listed, 0..1. */
  readonly minRatio: number;
}

/**
 * Directories whose identity provider is failing, across tenants: the operator's view of who is
 * heading for Entra's quarantine (a provisioning job whose calls mostly fail is run only once a
 * day). Failed means a 5xx or a 4xx other than 404 (Entra's lookups of users that do not exist
 * yet) and 429 (retried by Entra, not counted against the job).
 */
export class FailingDirectories {
  constructor(private readonly sql: Sql) {}

  async list(window: FailureWindow): Promise<FailingDirectory[]> {
    const rows = await this.sql.query<{
      directory_id: DirectoryId;
      tenant_id: string;
      directory_name: string;
      tenant_name: string;
      requests: number;
      failed: number;
      last_failure_at: Date;
    }>(
      `WITH recent AS (
         -- The directories that logged a request in the window (one row each), then their rings by key.
         SELECT l.directory_id, count(*)::int AS requests,
                count(*) FILTER (WHERE l.status >= 500 OR (l.status >= 400 AND l.status NOT IN (404, 429)))::int AS failed,
                max(l.at) FILTER (WHERE l.status >= 500 OR (l.status >= 400 AND l.status NOT IN (404, 429))) AS last_failure_at
           FROM directory_activity a
           JOIN scim_request_log l ON l.directory_id = a.directory_id
          WHERE a.last_logged_at > now() - make_interval(mins => $1) AND l.at > now() - make_interval(mins => $1)
          GROUP BY l.directory_id
         HAVING count(*) >= $2)
       SELECT r.directory_id, d.tenant_id, d.name AS directory_name, t.name AS tenant_name, r.requests, r.failed, r.last_failure_at
         FROM recent r JOIN directories d ON d.id = r.directory_id JOIN tenants t ON t.id = d.tenant_id
        WHERE r.failed >= r.requests * $3::float8
        ORDER BY r.failed::float8 / r.requests DESC, r.requests DESC`,
      [window.minutes, window.minRequests, window.minRatio],
    );
    return rows.map((x) => ({
      directoryId: x.directory_id,
      tenantId: x.tenant_id,
      directoryName: x.directory_name,
      tenantName: x.tenant_name,
      requests: x.requests,
      failed: x.failed,
      lastFailureAt: x.last_failure_at.toISOString(),
    }));
  }
}
