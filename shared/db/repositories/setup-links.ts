import { randomBytes } from 'node:crypto';
import { newId, type DirectoryId, type TenantId } from '../../ids';
import type { SetupLinkRecord } from '../models';
import type { Sql } from '../sequelize';
import { hashToken } from './api-keys';
import type { DirectoryScope } from './scope';

/** A setup link's secret: 256 random bits, so its SHA-256 alone is stored, as for API keys. */
export function generateSetupSecret(): string {
  return `setup_${randomBytes(32).toString('base64url')}`;
}

/** How long a link works unless the operator says otherwise. */
export const DEFAULT_SETUP_LINK_DAYS = 7;

export type SetupLinkStatus = 'active' | 'expired' | 'revoked';

/** A link as the operator lists it: never its secret. */
export interface SetupLinkView {
  id: string;
  directoryId: DirectoryId;
  status: SetupLinkStatus;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  lastOpenedAt: string | null;
}

/** What a link's secret resolves to: one directory, and what the setup page shows of it. */
export interface ResolvedSetupLink {
  linkId: string;
  tenantId: TenantId;
  directoryId: DirectoryId;
  tenantName: string;
  directoryName: string;
  provider: string;
  region: string;
  expiresAt: Date;
}

const DAY_MS = 86_400_000;

const statusOf = (r: SetupLinkRecord, now: number): SetupLinkStatus => (r.revokedAt ? 'revoked' : r.expiresAt.getTime() <= now ? 'expired' : 'active');

const view = (r: SetupLinkRecord, now = Date.now()): SetupLinkView => ({
  id: r.id,
  directoryId: r.directoryId as DirectoryId,
  status: statusOf(r, now),
  createdAt: r.createdAt.toISOString(),
  expiresAt: r.expiresAt.toISOString(),
  revokedAt: r.revokedAt?.toISOString() ?? null,
  lastOpenedAt: r.lastOpenedAt?.toISOString() ?? null,
});

/** One directory's setup links: create, list, revoke. */
export class DirectorySetupLinks {
  constructor(
    private readonly sql: Sql,
    private readonly scope: DirectoryScope,
  ) {}

  /** A new link valid for `days`; its secret is returned here only. */
  async create(days = DEFAULT_SETUP_LINK_DAYS): Promise<SetupLinkView & { secret: string }> {
    if (!Number.isInteger(days) || days < 1) throw new RangeError(`setup link: days must be a positive integer, got ${days}`);
    const secret = generateSetupSecret();
    const { tenantId, directoryId } = this.scope;
    const link = await this.sql.transaction((transaction) =>
      this.sql.models.SetupLink.create(
        { id: newId(), tenantId, directoryId, secretHash: hashToken(secret), expiresAt: new Date(Date.now() + days * DAY_MS) },
        { returning: true, transaction },
      ),
    );
    return { ...view(link), secret };
  }

  /** Newest first. */
  async list(): Promise<SetupLinkView[]> {
    const links = await this.sql.transaction(
      (transaction) =>
        this.sql.models.SetupLink.findAll({
          where: { directoryId: this.scope.directoryId },
          order: [
            ['createdAt', 'DESC'],
            ['id', 'DESC'],
          ],
          transaction,
        }),
      { readOnly: true },
    );
    const now = Date.now();
    return links.map((l) => view(l, now));
  }

  /**
   * Revokes at once: links are looked up on every request, never cached, so the next request
   * with it is refused. Undefined when the link is not this directory's.
   */
  async revoke(linkId: string): Promise<SetupLinkView | undefined> {
    return this.sql.transaction(async (transaction) => {
      const link = await this.sql.models.SetupLink.findOne({ where: { directoryId: this.scope.directoryId, id: linkId }, lock: true, transaction });
      if (!link) return undefined;
      if (!link.revokedAt) await link.update({ revokedAt: new Date() }, { transaction });
      return view(link);
    });
  }
}

/** Setup links as a request meets them: by secret, before anything says which directory it is for. */
export class SetupLinkResolver {
  constructor(private readonly operator: Sql) {}

  /**
   * The directory of a live link (neither revoked nor expired, by the database's clock), in one
   * round trip that also records when the link was last opened (at most once a minute).
   */
  async resolve(secret: string): Promise<ResolvedSetupLink | undefined> {
    const [row] = await this.operator.query<ResolvedSetupLink>(
      `WITH link AS (
         SELECT l.id, l.tenant_id, l.directory_id, l.expires_at, l.last_opened_at, t.name AS tenant_name,
                d.name AS directory_name, d.provider, d.region
           FROM setup_links l JOIN directories d ON d.id = l.directory_id JOIN tenants t ON t.id = l.tenant_id
          WHERE l.secret_hash = $1 AND l.revoked_at IS NULL AND l.expires_at > now()
       ), opened AS (
         UPDATE setup_links s SET last_opened_at = now() FROM link
          WHERE s.id = link.id AND (link.last_opened_at IS NULL OR link.last_opened_at < now() - interval '1 minute')
       )
       SELECT id AS "linkId", tenant_id AS "tenantId", directory_id AS "directoryId", tenant_name AS "tenantName",
              directory_name AS "directoryName", provider, region, expires_at AS "expiresAt"
         FROM link`,
      [hashToken(secret)],
    );
    return row;
  }
}
