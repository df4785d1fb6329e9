import { newId, type DirectoryId, type TenantId } from '../../ids';
import { announceAuthChange } from '../auth-changes';
import type { DirectoryRecord, TenantRecord } from '../models';
import type { Database, Sql } from '../sequelize';
import { type ApiKeyView, DirectoryKeys } from './api-keys';

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

const tenantView = (r: TenantRecord): Tenant => ({ id: r.id as TenantId, name: r.name, createdAt: r.createdAt.toISOString() });

const directoryView = (r: DirectoryRecord): Directory => ({
  id: r.id as DirectoryId,
  tenantId: r.tenantId as TenantId,
  name: r.name,
  provider: r.provider as Provider,
  region: r.region,
  rateLimit: r.rateLimitRps === null || r.rateLimitBurst === null ? null : { requestsPerSecond: r.rateLimitRps, burst: r.rateLimitBurst },
  createdAt: r.createdAt.toISOString(),
});

const READ_ONLY = { readOnly: true };

const ORDER_OF_CREATION: [string, string][] = [
  ['createdAt', 'ASC'],
  ['id', 'ASC'],
];

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
    return this.operator.transaction(async (transaction) =>
      tenantView(await this.operator.models.Tenant.create({ id: newId(), name }, { returning: true, transaction })),
    );
  }

  async findTenant(id: string): Promise<Tenant | undefined> {
    const found = await this.operator.transaction((transaction) => this.operator.models.Tenant.findByPk(id, { transaction }), READ_ONLY);
    return found ? tenantView(found) : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.operator.transaction((transaction) => this.operator.models.Tenant.findAll({ order: ORDER_OF_CREATION, transaction }), READ_ONLY);
    return rows.map(tenantView);
  }

  /**
   * A directory with its first SCIM key, in one transaction: the directory in its tenant's scope,
   * the key in the new directory's.
   */
  async createDirectory(
    tenantId: TenantId,
    input: { name: string; provider: Provider; region: string; keyName: string },
  ): Promise<{ directory: Directory; key: ApiKeyView & { token: string } }> {
    const scoped = this.db.forTenant(tenantId);
    return scoped.transaction(async (transaction) => {
      const { keyName, ...fields } = input;
      const directory = directoryView(await scoped.models.Directory.create({ id: newId(), tenantId, ...fields }, { returning: true, transaction }));
      const keys = new DirectoryKeys(this.db.forDirectory({ directoryId: directory.id }), { tenantId, directoryId: directory.id });
      return { directory, key: await keys.issue(keyName, input.region, transaction) };
    });
  }

  async findDirectory(id: string): Promise<Directory | undefined> {
    const found = await this.operator.transaction((transaction) => this.operator.models.Directory.findByPk(id, { transaction }), READ_ONLY);
    return found ? directoryView(found) : undefined;
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
    const scoped = this.db.forTenant(tenantId);
    const rows = await scoped.transaction(
      (transaction) => scoped.models.Directory.findAll({ where: { tenantId }, order: ORDER_OF_CREATION, transaction }),
      READ_ONLY,
    );
    return rows.map(directoryView);
  }

  /**
   * Sets (or, with null, clears) a directory's request limit. API processes cache it with the
   * directory's keys, so the change is announced in the same transaction and reaches every
   * process when it commits. Returns undefined when the directory is unknown.
   */
  async setRateLimit(id: DirectoryId, limit: RateLimit | null): Promise<Directory | undefined> {
    return this.operator.transaction(async (transaction) => {
      const [, rows] = await this.operator.models.Directory.update(
        { rateLimitRps: limit?.requestsPerSecond ?? null, rateLimitBurst: limit?.burst ?? null, updatedAt: new Date() },
        { where: { id }, returning: true, transaction },
      );
      if (rows[0]) await announceAuthChange(this.operator, transaction);
      return rows[0] && directoryView(rows[0]);
    });
  }

  async deleteDirectory(id: DirectoryId): Promise<boolean> {
    return this.operator.transaction(async (transaction) => {
      const deleted = await this.operator.models.Directory.destroy({ where: { id }, transaction });
      // Counters have no foreign key (see migration 0002); they go with their directory.
      await this.operator.exec('DELETE FROM resource_counters WHERE directory_id = $1', [id], transaction);
      await announceAuthChange(this.operator, transaction);
      return deleted > 0;
    });
  }
}
