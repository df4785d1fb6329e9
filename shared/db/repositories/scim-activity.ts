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
   * Appends the requests (in the batch's order, which is the order they were answered in), keeps
   * only the newest REQUESTS_KEPT_PER_DIRECTORY of each directory in the batch, and moves the
   * directories' times forward, in one statement:
   * - a 401's directory is the one its (revoked) key belonged to; a token that never was a key
   *   names no directory and is left out, as are directories deleted meanwhile (the joins with
   *   directories drop them, so a late batch never fails on their foreign keys);
   * - the trim locks with SKIP LOCKED, so two processes trimming one directory never wait on (or
   *   deadlock with) each other; the next batch trims what one skipped;
   * - the times are upserted in directory order, so concurrent batches lock those rows in the
   *   same order, and never move a time backwards.
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
         SELECT d.id AS directory_id, d.tenant_id, i.at, i.method, i.route, i.status, i.scim_type, i.attribute, i.test_connection, i.n,
                row_number() OVER (PARTITION BY d.id ORDER BY i.at DESC, i.n DESC) AS newest
           FROM input i
           LEFT JOIN api_keys k ON i.directory_id IS NULL AND k.token_hash = i.key_hash
           JOIN directories d ON d.id = coalesce(i.directory_id, k.directory_id)
       ), kept AS (
         SELECT * FROM located WHERE newest <= $14
       ), logged AS (
         INSERT INTO scim_request_log (directory_id, tenant_id, at, method, route, status, scim_type, attribute, test_connection)
         SELECT directory_id, tenant_id, at, method, route, status, scim_type, attribute, test_connection FROM kept ORDER BY directory_id, at, n
         RETURNING 1
       ), added AS (
         SELECT directory_id, count(*)::int AS n FROM kept GROUP BY directory_id
       ), doomed AS (
         -- Per directory of the batch: the newest stored row that no longer fits beside the ones
         -- added (its key range read backwards), then it and every older one. Index walks of
         -- those directories only, never the table, whatever its size or statistics.
         SELECT o.ctid
           FROM added a
          CROSS JOIN LATERAL (
                  SELECT l.id FROM scim_request_log l WHERE l.directory_id = a.directory_id
                   ORDER BY l.id DESC OFFSET greatest($14 - a.n, 0) LIMIT 1) edge
          CROSS JOIN LATERAL (
                  SELECT l.ctid FROM scim_request_log l WHERE l.directory_id = a.directory_id AND l.id <= edge.id
                     FOR UPDATE SKIP LOCKED) o
       ), trimmed AS (
         DELETE FROM scim_request_log r USING doomed x WHERE r.ctid = x.ctid
       ), marks AS (
         SELECT d.id AS directory_id, d.tenant_id, max(m.last_request_at) AS last_request_at,
                max(m.last_change_at) AS last_change_at, max(m.test_connection_at) AS test_connection_at
           FROM unnest($10::uuid[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[])
                  AS m(directory_id, last_request_at, last_change_at, test_connection_at)
           JOIN directories d ON d.id = m.directory_id
          GROUP BY d.id, d.tenant_id
       ), noted AS (
         INSERT INTO directory_activity AS a (directory_id, tenant_id, last_request_at, last_change_at, test_connection_at)
         SELECT directory_id, tenant_id, last_request_at, last_change_at, test_connection_at FROM marks ORDER BY directory_id
         ON CONFLICT (directory_id) DO UPDATE SET
           last_request_at = greatest(a.last_request_at, EXCLUDED.last_request_at),
           last_change_at = greatest(a.last_change_at, EXCLUDED.last_change_at),
           test_connection_at = greatest(a.test_connection_at, EXCLUDED.test_connection_at)
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
        WHERE directory_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
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
         SELECT directory_id, count(*)::int AS requests,
                count(*) FILTER (WHERE status >= 500 OR (status >= 400 AND status NOT IN (404, 429)))::int AS failed,
                max(at) FILTER (WHERE status >= 500 OR (status >= 400 AND status NOT IN (404, 429))) AS last_failure_at
           FROM scim_request_log
          WHERE at > now() - make_interval(mins => $1)
          GROUP BY directory_id
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
