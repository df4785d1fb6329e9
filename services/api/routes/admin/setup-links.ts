import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { DEFAULT_SETUP_LINK_DAYS } from '../../../../shared/db/repositories/setup-links';
import type { Directory } from '../../../../shared/db/repositories/tenants';
import { ScimError } from '../../../../shared/scim/errors';
import { sendScim } from '../../middleware/scim-json';
import { directoryOr404, parseBody, pathId } from './validate';

const createLink = z.object({
  /** How long the link works. Default 7 days, at most 30. */
  expiresInDays: z.number().int().min(1).max(30).default(DEFAULT_SETUP_LINK_DAYS),
});

export interface SetupLinkRouteDeps {
  readonly repos: Repositories;
  /** `{PUBLIC_BASE_URL}/setup`: the page a link opens; its secret follows in the fragment. */
  readonly setupPageUrl: string;
}

/**
 * Operator API for setup links: a link the operator hands a customer's IT admin, opening the
 * setup page of one directory. The secret travels in the URL's fragment (`/setup#<secret>`),
 * which browsers never send to a server, so it reaches no access log and no Referer header; the
 * page's script sends it as a bearer token. Shown once, at creation.
 */
export function setupLinkRoutes(deps: SetupLinkRouteDeps): Router {
  const router = Router();
  const { tenants } = deps.repos.operator;
  const linksOf = (directory: Directory) => deps.repos.forDirectory({ tenantId: directory.tenantId, directoryId: directory.id }).setupLinks;

  router.post('/directories/:directoryId/setup-links', async (req, res) => {
    const directory = await directoryOr404(tenants, req.params.directoryId);
    const { expiresInDays } = parseBody(createLink, req.body);
    const { secret, ...link } = await linksOf(directory).create(expiresInDays);
    sendScim(res, 201, { ...link, url: `${deps.setupPageUrl}#${secret}` });
  });

  router.get('/directories/:directoryId/setup-links', async (req, res) => {
    const directory = await directoryOr404(tenants, req.params.directoryId);
    sendScim(res, 200, { data: await linksOf(directory).list() });
  });

  // Revokes at once: links are never cached, so the page's next request is refused.
  router.delete('/directories/:directoryId/setup-links/:linkId', async (req, res) => {
    const directory = await directoryOr404(tenants, req.params.directoryId);
    const revoked = await linksOf(directory).revoke(pathId(req.params.linkId, 'setup link'));
    if (!revoked) throw new ScimError(404, undefined, `setup link "${req.params.linkId}" not found in this directory`);
    sendScim(res, 204);
  });

  return router;
}
