import { newId, type DirectoryId, type TenantId } from '../../ids';
import { announceAuthChange } from '../auth-changes';
import type { Database, Sql, Transaction } from '../sequelize';

export const PROVIDERS = ['entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'generic'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface Tenant {
  id: TenantId;
  name: string;
  createdAt: string;
}

/** A directory's SCIM request limit: `requestsPerSecond` sustained, up to `burst` in one second. */
export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

export interface Directory {
  id: DirectoryId;
  tenantId: TenantId;
  name: string;
  provider: Provider;
  region: string;
  /** The directory's own limit; null means the platform default. */
  rateLimit: RateLimit | null;
  createdAt: string;
}

interface DirectoryRow {
  id: DirectoryId;
  tenant_id: TenantId;
  name: string;
  provider: Provider;
  region: string;
  rate_limit_rps: number | null;
  rate_limit_burst: number | null;
  created_at: Date;
}

const DIRECTORY_COLUMNS = 'id, tenant_id, name, provider, region, rate_limit_rps, rate_limit_burst, created_at';

const directoryView = (r: DirectoryRow): Directory => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  provider: r.provider,
  region: r.region,
  rateLimit: r.rate_limit_rps === null || r.rate_limit_burst === null ? null : { requestsPerSecond: r.rate_limit_rps, burst: r.rate_limit_burst },
  createdAt: r.created_at.toISOString(),
});

/**
 * Operator-side tenants and directories (the admin API's privileged repository). Tenants have
 * no tenant above them; a directory is written in its tenant's scope, and found by its id alone
 * across tenants (the operator names it in the URL).
 */
export class TenantRepository {
  private readonly operator: Sql;

  constructor(private readonly db: Database) {
    this.operator = db.acrossTenants();
  }

  async createTenant(name: string): Promise<Tenant> {
    const rows = await this.operator.query<{ id: TenantId; name: string; created_at: Date }>(
      'INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING id, name, created_at',
      [newId(), name],
    );
    return { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at.toISOString() };
  }

  async findTenant(id: string): Promise<Tenant | undefined> {
    const rows = await this.operator.query<{ id: TenantId; name: string; created_at: Date }>('SELECT id, name, created_at FROM tenants WHERE id = $1', [id]);
    return rows[0] && { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at.toISOString() };
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.operator.query<{ id: TenantId; name: string; created_at: Date }>(
      'SELECT id, name, created_at FROM tenants ORDER BY created_at, id',
    );
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString() }));
  }

  async createDirectory(tenantId: TenantId, input: { name: string; provider: Provider; region: string }, t?: Transaction): Promise<Directory> {
    const rows = await this.db.forTenant(tenantId).query<DirectoryRow>(
      `INSERT INTO directories (id, tenant_id, name, provider, region) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${DIRECTORY_COLUMNS}`,
      [newId(), tenantId, input.name, input.provider, input.region],
      t,
    );
    return directoryView(rows[0]);
  }

  async findDirectory(id: string): Promise<Directory | undefined> {
    const rows = await this.operator.query<DirectoryRow>(`SELECT ${DIRECTORY_COLUMNS} FROM directories WHERE id = $1`, [id]);
    return rows[0] && directoryView(rows[0]);
  }

  /** The oldest directory named `directoryName` of a tenant named `tenantName` (names are not unique). */
  async findDirectoryByNames(tenantName: string, directoryName: string): Promise<{ tenantId: TenantId; directoryId: DirectoryId } | undefined> {
    const [row] = await this.operator.query<{ tenant_id: TenantId; directory_id: DirectoryId }>(
      `SELECT t.id AS tenant_id, d.id AS directory_id FROM tenants t JOIN directories d ON d.tenant_id = t.id
      WHERE t.name = $1 AND d.name = $2 ORDER BY d.created_at LIMIT 1`,
      [tenantName, directoryName],
    );
    return row && { tenantId: row.tenant_id, directoryId: row.directory_id };
  }

  async listDirectories(tenantId: TenantId): Promise<Directory[]> {
    const rows = await this.db.forTenant(tenantId).query<DirectoryRow>(
      `SELECT ${DIRECTORY_COLUMNS} FROM directories
        WHERE tenant_id = $1 ORDER BY created_at, id`,
      [tenantId],
    );
    return rows.map(directoryView);
  }

  /**
   * Sets (or, with null, clears) a directory's request limit. API processes cache it with the
   * directory's keys, so the change is announced in the same transaction and reaches every
   * process when it commits. Returns undefined when the directory is unknown.
   */
  async setRateLimit(id: DirectoryId, limit: RateLimit | null): Promise<Directory | undefined> {
    return this.operator.transaction(async (t) => {
      const rows = await this.operator.query<DirectoryRow>(
        `UPDATE directories SET rate_limit_rps = $2, rate_limit_burst = $3, updated_at = now()
          WHERE id = $1 RETURNING ${DIRECTORY_COLUMNS}`,
        [id, limit?.requestsPerSecond ?? null, limit?.burst ?? null],
        t,
      );
      if (rows[0]) await announceAuthChange(this.operator, t);
      return rows[0] && directoryView(rows[0]);
    });
  }

  async deleteDirectory(id: DirectoryId): Promise<boolean> {
    return this.operator.transaction(async (t) => {
      const deleted = await this.operator.exec('DELETE FROM directories WHERE id = $1', [id], t);
      // Counters have no foreign key (see migration 0002); they go with their directory.
      await this.operator.exec('DELETE FROM resource_counters WHERE directory_id = $1', [id], t);
      await announceAuthChange(this.operator, t);
      return deleted > 0;
    });
  }
}
