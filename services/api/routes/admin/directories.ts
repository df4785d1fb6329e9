import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { PROVIDERS, type Directory } from '../../../../shared/db/repositories/tenants';
import { ScimError } from '../../../../shared/scim/errors';
import { QUARANTINE_WATCH } from '../../../../shared/setup/metrics';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { apiKeyShape, createdDirectoryShape, directoryShape, failingDirectoriesShape, issuedKeyShape, listOf } from './shapes';
import { directoryOr404, pathId, tenantOr404 } from './validate';

const createDirectory = z.object({
  name: z.string().trim().min(1).max(200),
  provider: z.enum(PROVIDERS).default('generic').describe('The identity provider that will connect'),
  keyName: z.string().trim().min(1).max(200).optional().describe('Name of the first key; default "<name> key"'),
});
const createKey = z.object({ name: z.string().trim().min(1).max(200).default('API key') });
// Entra needs 25 requests/s per tenant at least; the caps only stop typos the size of an outage.
const rateLimit = z
  .object({
    requestsPerSecond: z.number().int().min(1).max(100_000).describe('Requests per second, sustained'),
    burst: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('The most requests one second may take; default twice the rate, at least requestsPerSecond'),
  })
  .refine((l) => l.burst === undefined || l.burst >= l.requestsPerSecond, { path: ['burst'], message: 'must be at least requestsPerSecond' })
  .transform((l) => ({ requestsPerSecond: l.requestsPerSecond, burst: l.burst ?? 2 * l.requestsPerSecond }));
const patchDirectory = z.object({ rateLimit: rateLimit.nullable().describe("The directory's SCIM request limit; null for the platform default") });

export interface DirectoryRouteDeps {
  readonly repos: Repositories;
  readonly region: string;
  /** `{PUBLIC_BASE_URL}/scim/v1`: what a customer pastes into Entra as the Tenant URL. */
  readonly scimUrl: string;
  /**
   * Awaited after a change to what keys resolve to, before answering: this process forgets
   * cached keys at once and waits until the change has been sent to every other API process.
   */
  readonly onAuthChange: () => Promise<void>;
}

/** Operator API for directories and their keys. A key's token is shown once, at creation. */
export function directoryRoutes(deps: DirectoryRouteDeps): Router {
  const router = Router();
  const view = (d: Directory) => ({ ...d, scimUrl: deps.scimUrl });
  const { tenants } = deps.repos.operator;
  const findDirectory = (id: string) => directoryOr404(tenants, id);
  const keysOf = (directory: Directory) => deps.repos.forDirectory({ tenantId: directory.tenantId, directoryId: directory.id }).apiKeys;

  const tag = 'Directories';
  const directoryId = PATH_PARAMS.directoryId;
  const keyId = { description: "The key's id", schema: z.uuid() };
  const loadDirectory = ({ directoryId }: { directoryId: string }) => findDirectory(directoryId);

  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/directories',
      operationId: 'createDirectory',
      tag,
      summary: 'Create a directory and its first key',
      description: "The answer holds the SCIM Tenant URL and the key's token, which no other answer shows.",
      params: { tenantId: PATH_PARAMS.tenantId },
      load: ({ tenantId }) => tenantOr404(tenants, tenantId),
      body: createDirectory,
      responses: { 201: { description: 'The directory, with its first key and token', schema: createdDirectoryShape } },
    },
    async ({ loaded: tenant, body }, _req, res) => {
      const { directory, key } = await tenants.createDirectory(tenant.id, {
        name: body.name,
        provider: body.provider,
        region: deps.region,
        keyName: body.keyName ?? `${body.name} key`,
      });
      sendScim(res, 201, { ...view(directory), key });
    },
  );

  // Across tenants, for the operator on call: the metric scim_directories_failing counts them,
  // this names them (the alert ScimDirectoryNearEntraQuarantine points here).
  adminRoute(
    router,
    {
      method: 'get',
      path: '/failing-directories',
      operationId: 'listFailingDirectories',
      tag,
      summary: "Directories whose identity provider's requests mostly failed lately",
      description:
        "Heading for Entra's quarantine: at least 10 SCIM requests in the last 15 minutes, half or more answered 5xx, or 4xx but 404 (lookups of users not yet created) and 429 (retried). The setup page's status explains each failure.",
      responses: { 200: { description: 'The failing directories, worst first', schema: failingDirectoriesShape } },
    },
    async (_input, _req, res) => {
      sendScim(res, 200, { window: QUARANTINE_WATCH, data: await deps.repos.operator.failingDirectories.list(QUARANTINE_WATCH) });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/directories',
      operationId: 'listDirectories',
      tag,
      summary: "List a tenant's directories",
      params: { tenantId: PATH_PARAMS.tenantId },
      load: ({ tenantId }) => tenantOr404(tenants, tenantId),
      responses: { 200: { description: 'The directories, oldest first', schema: listOf(directoryShape, 'Directory') } },
    },
    async ({ loaded: tenant }, _req, res) => {
      sendScim(res, 200, { data: (await tenants.listDirectories(tenant.id)).map(view) });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/directories/{directoryId}',
      operationId: 'getDirectory',
      tag,
      summary: 'Get a directory',
      params: { directoryId },
      load: loadDirectory,
      responses: { 200: { description: 'The directory', schema: directoryShape } },
    },
    async ({ loaded: directory }, _req, res) => {
      sendScim(res, 200, view(directory));
    },
  );

  // The limit travels with each cached key, so API processes drop their caches, as on a revoke.
  adminRoute(
    router,
    {
      method: 'patch',
      path: '/directories/{directoryId}',
      operationId: 'setDirectoryRateLimit',
      tag,
      summary: "Set or clear a directory's request limit",
      params: { directoryId },
      load: loadDirectory,
      body: patchDirectory,
      responses: { 200: { description: 'The directory', schema: directoryShape } },
    },
    async ({ loaded: directory, body, params }, _req, res) => {
      const updated = await tenants.setRateLimit(directory.id, body.rateLimit);
      if (!updated) throw new ScimError(404, undefined, `directory "${params.directoryId}" not found`);
      await deps.onAuthChange();
      sendScim(res, 200, view(updated));
    },
  );

  adminRoute(
    router,
    {
      method: 'delete',
      path: '/directories/{directoryId}',
      operationId: 'deleteDirectory',
      tag,
      summary: 'Delete a directory, its users, groups and keys',
      params: { directoryId },
      load: loadDirectory,
      responses: { 204: 'Deleted; its keys stop working at once' },
    },
    async ({ loaded: directory }, _req, res) => {
      await tenants.deleteDirectory(directory.id);
      await deps.onAuthChange();
      sendScim(res, 204);
    },
  );

  adminRoute(
    router,
    {
      method: 'post',
      path: '/directories/{directoryId}/keys',
      operationId: 'issueKey',
      tag,
      summary: 'Issue another key',
      description: 'Several keys may be live at once, so a customer rotates without a gap.',
      params: { directoryId },
      load: loadDirectory,
      body: createKey,
      responses: { 201: { description: 'The key, with its token', schema: issuedKeyShape } },
    },
    async ({ loaded: directory, body }, _req, res) => {
      sendScim(res, 201, await keysOf(directory).issue(body.name, deps.region));
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/directories/{directoryId}/keys',
      operationId: 'listKeys',
      tag,
      summary: "List a directory's keys",
      params: { directoryId },
      load: loadDirectory,
      responses: { 200: { description: 'The keys, without tokens', schema: listOf(apiKeyShape, 'ApiKey') } },
    },
    async ({ loaded: directory }, _req, res) => {
      sendScim(res, 200, { data: await keysOf(directory).list() });
    },
  );

  // A lost key can be regenerated: a new token under the same name, the old one revoked.
  adminRoute(
    router,
    {
      method: 'post',
      path: '/directories/{directoryId}/keys/{keyId}/regenerate',
      operationId: 'regenerateKey',
      tag,
      summary: 'Regenerate a key',
      description: 'A new token under the same name; the old token stops working at once.',
      params: { directoryId, keyId },
      load: loadDirectory,
      responses: { 201: { description: 'The new key, with its token', schema: issuedKeyShape } },
    },
    async ({ loaded: directory, params }, _req, res) => {
      const issued = await keysOf(directory).regenerate(pathId(params.keyId, 'key'), deps.region);
      if (!issued) throw keyNotFound(params.keyId);
      await deps.onAuthChange();
      sendScim(res, 201, issued);
    },
  );

  adminRoute(
    router,
    {
      method: 'delete',
      path: '/directories/{directoryId}/keys/{keyId}',
      operationId: 'revokeKey',
      tag,
      summary: 'Revoke a key',
      params: { directoryId, keyId },
      load: loadDirectory,
      responses: { 204: 'Revoked; the key stops working at once' },
    },
    async ({ loaded: directory, params }, _req, res) => {
      if (!(await keysOf(directory).revoke(pathId(params.keyId, 'key')))) throw keyNotFound(params.keyId);
      await deps.onAuthChange();
      sendScim(res, 204);
    },
  );

  return router;
}

const keyNotFound = (keyId: string) => new ScimError(404, undefined, `key "${keyId}" not found in this directory`);
