import type { DirectoryRepositories } from '../db/repositories/directory';
import type { DirectorySchemas } from '../scim/schema-registry';

/** Everything a SCIM operation needs about the directory it runs in. */
export interface DirectoryContext {
  /** The directory's repositories, bound to it (its scope is `repos.scope`). */
  readonly repos: DirectoryRepositories;
  readonly schemas: DirectorySchemas;
  /** Recorded on events: who made the change, e.g. `api_key:<id>`. */
  readonly actor: string;
  /** `{PUBLIC_BASE_URL}/scim/v2`, for meta.location. */
  readonly baseUrl: string;
  readonly limits: { readonly maxPageSize: number; readonly maxPatchOperations: number };
}
