import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { DEFAULT_SETUP_LINK_DAYS } from '../../../../shared/db/repositories/setup-links';
import type { Directory } from '../../../../shared/db/repositories/tenants';
import { ScimError } from '../../../../shared/scim/errors';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { createdSetupLinkShape, listOf, setupLinkShape } from './shapes';
import { directoryOr404, pathId } from './validate';

const createLink = z.object({
  expiresInDays: z.number().int().min(1).max(30).default(DEFAULT_SETUP_LINK_DAYS).describe('How long the link works, in days'),
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

  const tag = 'Directories';
  const directoryId = PATH_PARAMS.directoryId;
  const loadDirectory = ({ directoryId }: { directoryId: string }) => directoryOr404(tenants, directoryId);

  adminRoute(
    router,
    {
      method: 'post',
      path: '/directories/{directoryId}/setup-links',
      operationId: 'createSetupLink',
      tag,
      summary: "Create a setup link for the customer's IT admin",
      description: "The link opens the setup page of this directory; its secret is in the URL's fragment, and only this answer shows it.",
      params: { directoryId },
      load: loadDirectory,
      body: createLink,
      responses: { 201: { description: 'The link, with its URL', schema: createdSetupLinkShape } },
    },
    async ({ loaded: directory, body }, _req, res) => {
      const { secret, ...link } = await linksOf(directory).create(body.expiresInDays);
      sendScim(res, 201, { ...link, url: `${deps.setupPageUrl}#${secret}` });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/directories/{directoryId}/setup-links',
      operationId: 'listSetupLinks',
      tag,
      summary: "List a directory's setup links",
      params: { directoryId },
      load: loadDirectory,
      responses: { 200: { description: 'The links, without their secrets', schema: listOf(setupLinkShape, 'SetupLink') } },
    },
    async ({ loaded: directory }, _req, res) => {
      sendScim(res, 200, { data: await linksOf(directory).list() });
    },
  );

  // Revokes at once: links are never cached, so the page's next request is refused.
  adminRoute(
    router,
    {
      method: 'delete',
      path: '/directories/{directoryId}/setup-links/{linkId}',
      operationId: 'revokeSetupLink',
      tag,
      summary: 'Revoke a setup link',
      params: { directoryId, linkId: { description: "The link's id", schema: z.uuid() } },
      load: loadDirectory,
      responses: { 204: "Revoked; the setup page's next request with it is refused" },
    },
    async ({ loaded: directory, params }, _req, res) => {
      const revoked = await linksOf(directory).revoke(pathId(params.linkId, 'setup link'));
      if (!revoked) throw new ScimError(404, undefined, `setup link "${params.linkId}" not found in this directory`);
      sendScim(res, 204);
    },
  );

  return router;
}
