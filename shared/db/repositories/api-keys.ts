import { createHash, randomBytes } from 'node:crypto';
import { newId, type ApiKeyId, type DirectoryId, type TenantId } from '../../ids';
import { announceAuthChange } from '../auth-changes';
import type { Database, Transaction } from '../sequelize';
import type { RateLimit } from './tenants';

/** SHA-256 of the token: tokens carry 256 random bits, so a slow hash adds nothing but latency. */
export const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

/** `scim_<region>_<43 base64url chars>`: the prefix says which region's API answers it. */
export function generateToken(region: string): string {
  return `scim_${region}_${randomBytes(32).toString('base64url')}`;
}

export interface ApiKeyView {
  id: ApiKeyId;
  directoryId: DirectoryId;
  name: string;
  /** The first characters of the token, enough to tell keys apart; never the secret. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** What a bearer token resolves to; the directory decides everything a request may touch. */
export interface ResolvedKey {
  keyId: ApiKeyId;
  tenantId: TenantId;
  directoryId: DirectoryId;
  directoryName: string;
  provider: string;
  schemasRev: number;
  lastUsedAt: Date | null;
  /** The directory's own request limit; null means the platform default. */
  rateLimit: RateLimit | null;
}

interface KeyRow {
  id: ApiKeyId;
  directory_id: DirectoryId;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const view = (r: KeyRow): ApiKeyView => ({
  id: r.id,
  directoryId: r.directory_id,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

/** The privileged side of API keys: issue, list, revoke, resolve. */
export class ApiKeyRepository {
  constructor(private readonly db: Database) {}

  async issue(scope: { tenantId: TenantId; directoryId: DirectoryId }, name: string, region: string, t?: Transaction): Promise<ApiKeyView & { token: string }> {
    const token = generateToken(region);
    const prefix = `${token.slice(0, `scim_${region}_`.length + 6)}…`;
    const rows = await this.db.forDirectory(scope).query<KeyRow>(
      `INSERT INTO api_keys (id, tenant_id, directory_id, name, prefix, token_hash)
       VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING id, directory_id, name, prefix, created_at, last_used_at, revoked_at`,
      [newId(), scope.tenantId, scope.directoryId, name, prefix, hashToken(token)],
      t,
    );
    return { ...view(rows[0]), token };
  }

  async list(directoryId: DirectoryId): Promise<ApiKeyView[]> {
    const rows = await this.db.forDirectory({ directoryId }).query<KeyRow>(
      `SELECT id, directory_id, name, prefix, created_at, last_used_at, revoked_at
         FROM api_keys WHERE directory_id = $1 ORDER BY created_at`,
      [directoryId],
    );
    return rows.map(view);
  }

  /**
   * Revokes at once: the next request with the token fails. The revocation and its announcement
   * commit together, so no process can miss it. Returns undefined when the key is unknown.
   */
  async revoke(directoryId: DirectoryId, keyId: string, t?: Transaction): Promise<ApiKeyView | undefined> {
    const sql = this.db.forDirectory({ directoryId });
    if (!t) return sql.transaction((tx) => this.revoke(directoryId, keyId, tx));
    const rows = await sql.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
        WHERE directory_id = $1 AND id = $2
        RETURNING id, directory_id, name, prefix, created_at, last_used_at, revoked_at`,
      [directoryId, keyId],
      t,
    );
    if (rows[0]) await announceAuthChange(sql, t);
    return rows[0] && view(rows[0]);
  }

  /** One indexed lookup by hash; equality on a digest leaks nothing useful about the token. */
  async resolve(token: string): Promise<ResolvedKey | undefined> {
    return this.resolveHash(hashToken(token));
  }

  /** Across tenants: the key is all a request has until it is resolved. */
  async resolveHash(hash: Buffer): Promise<ResolvedKey | undefined> {
    const rows = await this.db.acrossTenants().query<Omit<ResolvedKey, 'rateLimit'> & { rps: number | null; burst: number | null }>(
      `SELECT k.id AS "keyId", k.tenant_id AS "tenantId", k.directory_id AS "directoryId",
              d.name AS "directoryName", d.provider, d.schemas_rev AS "schemasRev", k.last_used_at AS "lastUsedAt",
              d.rate_limit_rps AS rps, d.rate_limit_burst AS burst
         FROM api_keys k JOIN directories d ON d.id = k.directory_id
        WHERE k.token_hash = $1 AND k.revoked_at IS NULL`,
      [hash],
    );
    if (!rows[0]) return undefined;
    const { rps, burst, ...key } = rows[0];
    return { ...key, rateLimit: rps === null || burst === null ? null : { requestsPerSecond: rps, burst } };
  }

  /** Records use, at most once a minute per key, so reads do not all turn into writes. */
  async touch(keyId: ApiKeyId): Promise<void> {
    await this.db.acrossTenants().exec(
      `UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [keyId],
    );
  }
}
