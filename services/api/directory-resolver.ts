import type { AuthChangeListener } from '../../shared/db/auth-changes';
import type { OperatorRepositories } from '../../shared/db/repositories';
import { hashToken, type ResolvedKey } from '../../shared/db/repositories/api-keys';
import type { ApiKeyId } from '../../shared/ids';
import type { DirectorySchemas } from '../../shared/scim/schema-registry';
import type { Logger } from '../../shared/telemetry/logger';

/** What a SCIM request runs as: one directory, reached through one key. */
export interface DirectoryPrincipal extends ResolvedKey {
  readonly schemas: DirectorySchemas;
}

export interface DirectoryResolverOptions {
  readonly operator: OperatorRepositories;
  readonly logger: Logger;
  /**
   * Without a listener every request looks its key up in PostgreSQL. With one, resolved keys are
   * cached while it is healthy and dropped on every announced change (see auth-changes.ts).
   */
  readonly changes?: AuthChangeListener;
  /** Keys cached per process. Default 50,000. */
  readonly cacheSize?: number;
  /** Longest a cached key is trusted even without a change, in ms. Default 60,000. */
  readonly cacheTtlMs?: number;
  /** How long an unknown or revoked key is answered without asking PostgreSQL, in ms. Default 30,000. */
  readonly unknownTtlMs?: number;
  /** Unknown keys remembered per process (oldest forgotten first). Default 10,000. */
  readonly unknownCacheSize?: number;
}

export interface DirectoryResolver {
  (token: string): Promise<DirectoryPrincipal | undefined>;
  /** Forgets every cached key at once; the admin API calls it on revoke in this process. */
  invalidate(): void;
  /** The principal of a key this process has cached and still trusts, without asking PostgreSQL. */
  cached(token: string): DirectoryPrincipal | undefined;
}

/**
 * Token → directory. A revoked key must fail on the very next request: the cache is emptied
 * synchronously by this process's own admin writes and, for other processes, by the
 * PostgreSQL notification the revoking transaction sends on commit. A lookup that raced a
 * change is not cached (generation check), and nothing is cached while the listener is down.
 */
export function directoryResolver(options: DirectoryResolverOptions): DirectoryResolver {
  const { keys, extensionSchemas: schemaRepo } = options.operator;
  const cacheSize = options.cacheSize ?? 50_000;
  const ttl = options.cacheTtlMs ?? 60_000;
  const cache = new Map<string, { principal: DirectoryPrincipal; expires: number }>();
  const touched = new Map<ApiKeyId, number>();
  // Schema views by directory, valid while the directory's schemas_rev is unchanged.
  const schemaViews = new Map<string, { rev: number; schemas: Promise<DirectorySchemas> }>();
  const schemasOf = (key: ResolvedKey): Promise<DirectorySchemas> => {
    const hit = schemaViews.get(key.directoryId);
    if (hit && hit.rev === key.schemasRev) return hit.schemas;
    const schemas = schemaRepo.loadDirectorySchemas(key.directoryId);
    schemas.catch(() => schemaViews.delete(key.directoryId));
    if (schemaViews.size >= cacheSize) schemaViews.delete(schemaViews.keys().next().value!);
    schemaViews.set(key.directoryId, { rev: key.schemasRev, schemas });
    return schemas;
  };
  const unknown = unknownKeys(options.unknownTtlMs ?? 30_000, options.unknownCacheSize ?? 10_000);
  let generation = 0;
  const invalidate = () => {
    generation++;
    cache.clear();
  };
  options.changes?.onChange(invalidate);

  const recordUse = (key: ResolvedKey) => {
    const last = touched.get(key.keyId) ?? key.lastUsedAt?.getTime() ?? 0;
    if (Date.now() - last < 60_000) return;
    touched.set(key.keyId, Date.now());
    if (touched.size > cacheSize) touched.clear();
    keys.touch(key.keyId).catch((err: unknown) => options.logger.warn({ err, 'key.id': key.keyId }, 'could not record key use'));
  };

  const resolve = async (token: string): Promise<DirectoryPrincipal | undefined> => {
    const hash = hashToken(token);
    const cacheKey = hash.toString('base64');
    const caching = options.changes?.healthy === true;
    const hit = caching ? cache.get(cacheKey) : undefined;
    if (hit && hit.expires > Date.now()) {
      recordUse(hit.principal);
      return hit.principal;
    }
    if (unknown.has(cacheKey)) return undefined;
    const before = generation;
    const key = await keys.resolveHash(hash);
    if (!key) {
      unknown.add(cacheKey);
      return undefined;
    }
    recordUse(key);
    const principal = { ...key, schemas: await schemasOf(key) };
    if (caching && generation === before && options.changes?.healthy) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(cacheKey, { principal, expires: Date.now() + ttl });
    }
    return principal;
  };
  const cached = (token: string): DirectoryPrincipal | undefined => {
    if (options.changes?.healthy !== true) return undefined;
    const hit = cache.get(hashToken(token).toString('base64'));
    return hit && hit.expires > Date.now() ? hit.principal : undefined;
  };
  return Object.assign(resolve, { invalidate, cached });
}

/**
 * Hashes that resolved to nothing, so a flood of one bad key costs PostgreSQL one lookup per
 * TTL instead of one per request. It never hides a key that starts to exist: tokens are only
 * ever made by generateToken (256 random bits) at creation or regeneration, and handed out once
 * the row has committed, so no request can have presented a new key's hash before it existed.
 * What turns from known to unknown (revoke, delete) is what this cache may hold.
 */
function unknownKeys(ttlMs: number, size: number) {
  const expiries = new Map<string, number>();
  return {
    has(hash: string): boolean {
      const expires = expiries.get(hash);
      if (expires === undefined) return false;
      if (expires > Date.now()) return true;
      expiries.delete(hash);
      return false;
    },
    add(hash: string): void {
      // Re-inserted at the end, so the oldest entry is always first in line to go.
      expiries.delete(hash);
      if (expiries.size >= size) expiries.delete(expiries.keys().next().value!);
      expiries.set(hash, Date.now() + ttlMs);
    },
  };
}
