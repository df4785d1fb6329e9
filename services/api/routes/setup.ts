import { type Request, Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../shared/db/repositories';
import type { ApiKeyView } from '../../../shared/db/repositories/api-keys';
import { REQUESTS_KEPT_PER_DIRECTORY } from '../../../shared/db/repositories/scim-activity';
import type { ResolvedSetupLink } from '../../../shared/db/repositories/setup-links';
import { ScimError } from '../../../shared/scim/errors';
import { entraAttributeMappings } from '../../../shared/setup/attribute-mappings';
import { GROUP_MAPPING_NOTES, providerName, providerShortName, setupSteps } from '../../../shared/setup/provider-steps';
import { explainRequest } from '../../../shared/setup/request-explanations';
import { sendScim } from '../middleware/scim-json';
import { parseBody } from './admin/validate';

/** The name of the keys the setup page issues, as the operator sees them among the directory's keys. */
export const SETUP_TOKEN_NAME = 'Setup link token';

/** Requests the status lists unless asked for fewer or more (at most what is kept). */
const DEFAULT_RECENT = 20;

const statusQuery = z.object({
  limit: z.coerce.number().int().min(1).max(REQUESTS_KEPT_PER_DIRECTORY).default(DEFAULT_RECENT),
});

const generateToken = z.object({
  /** Regenerating revokes the token a setup link issued before; the customer confirms it. */
  confirm: z.boolean().optional(),
});

export interface SetupRouteDeps {
  readonly repos: Repositories;
  /** `{PUBLIC_BASE_URL}/scim/v1`: the Tenant URL. */
  readonly tenantUrl: string;
  /** Awaited after a token was revoked, before answering (see DirectoryRouteDeps.onAuthChange). */
  readonly onAuthChange: () => Promise<void>;
}

const tokenView = (k: ApiKeyView) => ({ id: k.id, name: k.name, prefix: k.prefix, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt });

/**
 * The setup page's JSON API for a customer's IT admin (`/setup/v1`), authenticated by a setup
 * link's secret (app.ts). Everything is of the link's one directory: the scope comes from the
 * link alone, and no route takes a directory or tenant id.
 */
export function setupRoutes(deps: SetupRouteDeps): Router {
  const router = Router();
  const linkOf = (req: Request) => (req as Request & { setupLink: ResolvedSetupLink }).setupLink;
  const reposOf = (link: ResolvedSetupLink) => deps.repos.forDirectory({ tenantId: link.tenantId, directoryId: link.directoryId });

  // What the page shows: the steps, the Tenant URL, the token's state, the mappings to add.
  router.get('/directory', async (req, res) => {
    const link = linkOf(req);
    const [schemas, token] = await Promise.all([
      deps.repos.operator.extensionSchemas.loadDirectorySchemas(link.directoryId),
      reposOf(link).apiKeys.liveSetupToken(),
    ]);
    sendScim(res, 200, {
      directory: { id: link.directoryId, name: link.directoryName, provider: link.provider, providerName: providerName(link.provider) },
      tenant: { name: link.tenantName },
      tenantUrl: deps.tenantUrl,
      link: { expiresAt: link.expiresAt.toISOString() },
      token: token ? tokenView(token) : null,
      steps: setupSteps(link.provider, { tenantUrl: deps.tenantUrl, applicationName: link.directoryName }),
      attributeMappings: entraAttributeMappings(schemas),
      groupMappingNotes: GROUP_MAPPING_NOTES,
    });
  });

  // "Generate secret token": shown once, with the directory's region prefix. A token a setup link
  // issued before is revoked, but only once the customer confirmed it; the operator's own keys
  // are never touched.
  router.post('/token', async (req, res) => {
    const link = linkOf(req);
    const { confirm } = parseBody(generateToken, req.body);
    const outcome = await reposOf(link).apiKeys.issueThroughSetupLink(link.linkId, link.region, { name: SETUP_TOKEN_NAME, replace: confirm === true });
    if ('existing' in outcome) {
      throw new ScimError(
        409,
        undefined,
        `a token generated here already exists (${outcome.existing.prefix}, created ${outcome.existing.createdAt}); regenerating revokes it, so ${providerShortName(link.provider)} is refused until the new one is pasted: send {"confirm": true} to go ahead`,
      );
    }
    if (outcome.revoked) await deps.onAuthChange();
    sendScim(res, 201, { ...tokenView(outcome.issued), token: outcome.issued.token, revoked: outcome.revoked ? tokenView(outcome.revoked) : null });
  });

  // Live status: Test connection, the latest activity, the counts, the last requests explained.
  router.get('/status', async (req, res) => {
    const link = linkOf(req);
    const { limit } = parseBody(statusQuery, req.query);
    const repos = reposOf(link);
    const [times, recent, users, groups] = await Promise.all([
      repos.activity.times(),
      repos.activity.recent(limit),
      repos.users.countAll(),
      repos.groups.countAll(),
    ]);
    const idp = providerShortName(link.provider);
    sendScim(res, 200, {
      testConnection: times.testConnectionAt ? { receivedAt: times.testConnectionAt } : null,
      lastActivityAt: times.lastRequestAt,
      lastChangeAt: times.lastChangeAt,
      users,
      groups,
      requests: recent.map((r) => ({ ...r, explanation: explainRequest(r, idp) ?? null })),
    });
  });

  return router;
}
