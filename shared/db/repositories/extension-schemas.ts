import { ScimError } from '../../scim/errors';
import type { ExtensionSchemaInput } from '../../scim/schema-definition';
import { DirectorySchemas, type ExtensionBinding } from '../../scim/schema-registry';
import type { ResourceTypeName, SchemaDef } from '../../scim/schema-types';
import { newId, type DirectoryId, type TenantId } from '../../ids';
import { uniqueViolation } from '../errors';
import { announceAuthChange } from '../auth-changes';
import type { Database, Sql, Transaction } from '../sequelize';

export interface StoredExtensionSchema {
  schema: SchemaDef;
  resourceType: ResourceTypeName;
  required: boolean;
  scope: 'platform' | 'directory';
  directoryId: DirectoryId | null;
  createdAt: string;
}

interface Row {
  definition: SchemaDef;
  resource_type: ResourceTypeName;
  required: boolean;
  directory_id: DirectoryId | null;
  created_at: Date;
}

const toStored = (r: Row): StoredExtensionSchema => ({
  schema: r.definition,
  resourceType: r.resource_type,
  required: r.required,
  scope: r.directory_id ? 'directory' : 'platform',
  directoryId: r.directory_id,
  createdAt: r.created_at.toISOString(),
});

/**
 * The 409 detail when a URN is already registered: where the other copy is, so the operator
 * knows what to delete (a platform-wide POST clashing with a directory's copy names it).
 */
function clashDetail(urn: string, clashes: { directory_id: DirectoryId | null; name: string | null; total: number }[], target: DirectoryId | null): string {
  const [first] = clashes;
  if (!first.directory_id) return `schema "${urn}" is already registered platform-wide (DELETE /admin/v1/schemas/${urn} removes it)`;
  if (first.directory_id === target) return `schema "${urn}" is already registered for this directory`;
  const named = clashes.map((c) => `${c.directory_id} ("${c.name}")`).join(', ');
  const more = first.total > clashes.length ? ` and ${first.total - clashes.length} more` : '';
  return `schema "${urn}" is already registered for ${first.total === 1 ? 'directory' : 'directories'} ${named}${more}; delete it there (DELETE /admin/v1/directories/{id}/schemas/${urn}) to register it platform-wide`;
}

/**
 * Operator-defined extension schemas, platform-wide or per directory. Every change bumps the
 * affected directories' `schemas_rev`, which API processes compare to drop their cached view.
 */
export class ExtensionSchemaRepository {
  /** Registration is the operator's, across tenants: a URN may not clash with any directory's. */
  private readonly operator: Sql;

  constructor(private readonly db: Database) {
    this.operator = db.acrossTenants();
  }

  async create(input: ExtensionSchemaInput, target: { tenantId: TenantId; directoryId: DirectoryId } | 'platform'): Promise<StoredExtensionSchema> {
    return this.operator.transaction(async (t) => {
      const directoryId = target === 'platform' ? null : target.directoryId;
      // One registration per URN at a time: the platform and directory unique indexes are
      // separate, so two racing registrations could otherwise both pass the check below.
      await this.operator.exec('SELECT pg_advisory_xact_lock(hashtext(lower($1)))', [input.schema.id], t);
      // A directory schema may not shadow a platform one, nor a platform one a directory's.
      const clashes = await this.operator.query<{ directory_id: DirectoryId | null; name: string | null; total: number }>(
        `SELECT s.directory_id, d.name, count(*) OVER ()::int AS total
           FROM extension_schemas s LEFT JOIN directories d ON d.id = s.directory_id
          WHERE lower(s.urn) = lower($1) AND (s.directory_id IS NULL OR $2::uuid IS NULL OR s.directory_id = $2::uuid)
          ORDER BY s.directory_id NULLS FIRST, s.created_at LIMIT 3`,
        [input.schema.id, directoryId],
        t,
      );
      if (clashes.length) throw new ScimError(409, 'uniqueness', clashDetail(input.schema.id, clashes, directoryId));
      let rows: Row[];
      try {
        rows = await this.operator.query<Row>(
          `INSERT INTO extension_schemas (pk, tenant_id, directory_id, urn, resource_type, required, definition)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING definition, resource_type, required, directory_id, created_at`,
          [
            newId(),
            target === 'platform' ? null : target.tenantId,
            directoryId,
            input.schema.id,
            input.resourceType,
            input.required,
            JSON.stringify(input.schema),
          ],
          t,
        );
      } catch (err) {
        if (uniqueViolation(err) !== undefined) throw new ScimError(409, 'uniqueness', `schema "${input.schema.id}" already exists`);
        throw err;
      }
      await this.bumpRevision(directoryId, t);
      return toStored(rows[0]);
    });
  }

  async list(directoryId: DirectoryId | 'platform'): Promise<StoredExtensionSchema[]> {
    const rows = await this.operator.query<Row>(
      `SELECT definition, resource_type, required, directory_id, created_at FROM extension_schemas
        WHERE ${directoryId === 'platform' ? 'directory_id IS NULL' : 'directory_id = $1'} ORDER BY created_at`,
      directoryId === 'platform' ? [] : [directoryId],
    );
    return rows.map(toStored);
  }

  async delete(urn: string, directoryId: DirectoryId | 'platform'): Promise<boolean> {
    return this.operator.transaction(async (t) => {
      const dir = directoryId === 'platform' ? null : directoryId;
      const n = await this.operator.exec(
        `DELETE FROM extension_schemas WHERE lower(urn) = lower($1) AND directory_id IS NOT DISTINCT FROM $2::uuid`,
        [urn, dir],
        t,
      );
      if (n) await this.bumpRevision(dir, t);
      return n > 0;
    });
  }

  /** The schema view of one directory: core schemas, platform extensions, its own. */
  async loadDirectorySchemas(directoryId: DirectoryId): Promise<DirectorySchemas> {
    const rows = await this.db.forDirectory({ directoryId }).query<Row>(
      `SELECT definition, resource_type, required, directory_id, created_at FROM extension_schemas
        WHERE directory_id IS NULL OR directory_id = $1 ORDER BY directory_id NULLS FIRST, created_at`,
      [directoryId],
    );
    const pick = (type: ResourceTypeName): ExtensionBinding[] =>
      rows.filter((r) => r.resource_type === type).map((r) => ({ schema: r.definition, required: r.required }));
    return new DirectorySchemas({ user: pick('User'), group: pick('Group') });
  }

  private async bumpRevision(directoryId: DirectoryId | null, t: Transaction): Promise<void> {
    await announceAuthChange(this.operator, t);
    if (directoryId) await this.operator.exec('UPDATE directories SET schemas_rev = schemas_rev + 1 WHERE id = $1', [directoryId], t);
    else await this.operator.exec('UPDATE directories SET schemas_rev = schemas_rev + 1', [], t);
  }
}
