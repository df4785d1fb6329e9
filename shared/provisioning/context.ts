import type { Database } from '../db/sequelize';
import type { DirectoryScope } from '../db/repositories/scope';
import type { DirectorySchemas } from '../scim/schema-registry';

/** Everything a SCIM operation needs about the directory it runs in. */
export interface DirectoryContext {
  readonly db: Database;
  readonly scope: DirectoryScope;
  readonly schemas: DirectorySchemas;
  /** Recorded on events: who made the change, e.g. `api_key:<id>`. */
  readonly actor: string;
  /** `{PUBLIC_BASE_URL}/scim/v2`, for meta.location. */
  readonly baseUrl: string;
  readonly limits: { readonly maxPageSize: number; readonly maxPatchOperations: number };
}
