import { ApiKeyRepository, type ResolvedKey } from '../../shared/db/repositories/api-keys';
import { ExtensionSchemaRepository } from '../../shared/db/repositories/extension-schemas';
import type { Database } from '../../shared/db/sequelize';
import type { DirectoryId } from '../../shared/ids';
import type { DirectorySchemas } from '../../shared/scim/schema-registry';
import type { Logger } from '../../shared/telemetry/logger';

/** What a SCIM request runs as: one directory, reached through one key. */
export interface DirectoryPrincipal extends ResolvedKey {
  readonly schemas: DirectorySchemas;
}

export interface DirectoryResolverOptions {
  readonly db: Database;
  readonly logger: Logger;
  /** Directories whose schema view is cached per process. Default 10,000. */
  readonly cacheSize?: number;
}

/**
 * Token → directory. The key is looked up on every request (a revoked key fails on the very
 * next one); only the directory's schema view is cached, keyed by its `schemas_rev`, which every
 * schema change bumps in the same transaction.
 */
export function directoryResolver(options: DirectoryResolverOptions) {
  const keys = new ApiKeyRepository(options.db);
  const schemaRepo = new ExtensionSchemaRepository(options.db);
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<DirectoryId, { rev: number; schemas: Promise<DirectorySchemas> }>();

  const schemasOf = (key: ResolvedKey): Promise<DirectorySchemas> => {
    const hit = cache.get(key.directoryId);
    if (hit && hit.rev === key.schemasRev) return hit.schemas;
    const schemas = schemaRepo.loadDirectorySchemas(key.directoryId);
    schemas.catch(() => cache.delete(key.directoryId));
    cache.delete(key.directoryId);
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(key.directoryId, { rev: key.schemasRev, schemas });
    return schemas;
  };

  return async (token: string): Promise<DirectoryPrincipal | undefined> => {
    const key = await keys.resolve(token);
    if (!key) return undefined;
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000) {
      keys.touch(key.keyId).catch((err: unknown) => options.logger.warn({ err, 'key.id': key.keyId }, 'could not record key use'));
    }
    return { ...key, schemas: await schemasOf(key) };
  };
}
