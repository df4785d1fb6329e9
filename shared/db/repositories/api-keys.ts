import { createHash, randomBytes } from 'node:crypto';
import { Op } from 'sequelize';
import { newId, type ApiKeyId, type DirectoryId, type TenantId } from '../../ids';
import { announceAuthChange } from '../auth-changes';
import type { ApiKeyRecord } from '../models';
import type { Sql, Transaction } from '../sequelize';
import type { DirectoryScope } from './scope';
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

const view = (r: ApiKeyRecord): ApiKeyView => ({
  id: r.id as ApiKeyId,
  directoryId: r.directoryId as DirectoryId,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.createdAt.toISOString(),
  lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
  revokedAt: r.revokedAt?.toISOString() ?? null,
});

/** One directory's API keys: issue, list, regenerate, revoke. */
export class DirectoryKeys {
  constructor(
    private readonly sql: Sql,
    private readonly scope: DirectoryScope,
  ) {}

  /**
   * In `t` when given (the caller's transaction, e.g. the one creating the directory).
   * `setupLinkId`: the setup link issuing it (see issueThroughSetupLink).
   */
  async issue(name: string, region: string, t?: Transaction, setupLinkId?: string): Promise<ApiKeyView & { token: string }> {
    if (!t) return this.sql.transaction((tx) => this.issue(name, region, tx, setupLinkId));
    const token = generateToken(region);
    const prefix = `${token.slice(0, `scim_${region}_`.length + 6)}…`;
    const { tenantId, directoryId } = this.scope;
    const key = await this.sql.models.ApiKey.create(
      { id: newId(), tenantId, directoryId, name, prefix, tokenHash: hashToken(token), setupLinkId: setupLinkId ?? null },
      { returning: true, transaction: t },
    );
    return { ...view(key), token };
  }

  /** The live key a setup link issued, if any (at most one per directory, migration 0010). */
  async liveSetupToken(t?: Transaction): Promise<ApiKeyView | undefined> {
    const find = (transaction: Transaction) =>
      this.sql.models.ApiKey.findOne({
        where: { directoryId: this.scope.directoryId, setupLinkId: { [Op.ne]: null }, revokedAt: null },
        transaction,
      });
    const key = t ? await find(t) : await this.sql.transaction(find, { readOnly: true });
    return key ? view(key) : undefined;
  }

  /**
   * The setup page's "Generate secret token": a new key issued through `setupLinkId`. When a key
   * a setup link issued is still live, it is revoked in the same transaction, but only if
   * `replace` says the customer confirmed; otherwise nothing changes and that key is returned
   * as `existing`. Keys the operator issued are never touched. Concurrent calls for one
   * directory take turns, so two tabs cannot leave two live setup tokens.
   */
  async issueThroughSetupLink(
    setupLinkId: string,
    region: string,
    options: { name: string; replace: boolean },
  ): Promise<{ issued: ApiKeyView & { token: string }; revoked?: ApiKeyView } | { existing: ApiKeyView }> {
    return this.sql.transaction(async (t) => {
      await this.sql.exec('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`setup-token|${this.scope.directoryId}`], t);
      const existing = await this.liveSetupToken(t);
      if (existing && !options.replace) return { existing };
      const revoked = existing && (await this.revoke(existing.id, t));
      const issued = await this.issue(options.name, region, t, setupLinkId);
      return revoked ? { issued, revoked } : { issued };
    });
  }

  async list(): Promise<ApiKeyView[]> {
    const keys = await this.sql.transaction(
      (transaction) => this.sql.models.ApiKey.findAll({ where: { directoryId: this.scope.directoryId }, order: [['createdAt', 'ASC']], transaction }),
      { readOnly: true },
    );
    return keys.map(view);
  }

  /**
   * A lost key can be regenerated: a new token under the old key's name, the old one revoked, in
   * one transaction (the customer is never left with neither). A key a setup link issued stays
   * the setup page's. Undefined when the key is unknown.
   */
  async regenerate(keyId: string, region: string): Promise<(ApiKeyView & { token: string }) | undefined> {
    return this.sql.transaction(async (t) => {
      const old = await this.revoke(keyId, t);
      if (!old) return undefined;
      const origin = await this.sql.models.ApiKey.findOne({
        where: { directoryId: this.scope.directoryId, id: keyId },
        attributes: ['setupLinkId'],
        transaction: t,
      });
      return this.issue(old.name, region, t, origin?.setupLinkId ?? undefined);
    });
  }

  /**
   * Revokes at once: the next request with the token fails. The revocation and its announcement
   * commit together, so no process can miss it. Returns undefined when the key is unknown.
   */
  async revoke(keyId: string, t?: Transaction): Promise<ApiKeyView | undefined> {
    if (!t) return this.sql.transaction((tx) => this.revoke(keyId, tx));
    const key = await this.sql.models.ApiKey.findOne({ where: { directoryId: this.scope.directoryId, id: keyId }, lock: true, transaction: t });
    if (!key) return undefined;
    if (!key.revokedAt) await key.update({ revokedAt: new Date() }, { transaction: t });
    await announceAuthChange(this.sql, t);
    return view(key);
  }
}

/** Keys as a request meets them: by token, before anything says which tenant it belongs to. */
export class KeyResolver {
  constructor(private readonly operator: Sql) {}

  /** One indexed lookup by hash; equality on a digest leaks nothing useful about the token. */
  async resolve(token: string): Promise<ResolvedKey | undefined> {
    return this.resolveHash(hashToken(token));
  }

  /** Across tenants: the key is all a request has until it is resolved. */
  async resolveHash(hash: Buffer): Promise<ResolvedKey | undefined> {
    const rows = await this.operator.query<Omit<ResolvedKey, 'rateLimit'> & { rps: number | null; burst: number | null }>(
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
    await this.operator.exec(
      `UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [keyId],
    );
  }
}
