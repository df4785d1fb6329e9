import { config } from '../../shared/config';
import { type OperatorRepositories, repositoriesFor } from '../../shared/db/repositories';
import type { Database } from '../../shared/db/sequelize';
import type { DirectoryId, TenantId } from '../../shared/ids';

const DEMO_TENANT = 'Demo tenant';
const DEMO_DIRECTORY = 'Demo Entra ID';
const DEMO_KEY = 'demo key';

/**
 * Earlier versions registered the ActivTrak extension on the demo directory itself, with this
 * description. That copy made the README's platform-wide `POST /admin/v1/schemas` answer 409,
 * so it is removed; a copy the operator registered (any other description) is left alone.
 */
const OLD_DEMO_EXTENSION = {
  urn: 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User',
  description: 'Example vendor extension from the Entra setup guide',
};

export interface DemoDirectory {
  readonly tenantId: TenantId;
  readonly directoryId: DirectoryId;
  /** A live key of the demo directory: `previousToken` when it still is one, else a new one. */
  readonly token: string;
  readonly reused: boolean;
}

/**
 * Finds or creates the demo tenant and its Entra directory, with no extension schema of its own:
 * a newcomer follows the README and registers the vendor's extension platform-wide, which then
 * reaches the demo directory too. The demo key is kept across starts: `previousToken` (the one
 * printed last time) is returned while it is a live key of this directory, so curl and Entra keep
 * working; otherwise a new key is issued and every earlier demo key revoked, so they never pile up.
 */
export async function prepareDemoDirectory(db: Database, region: string, previousToken?: string): Promise<DemoDirectory> {
  const repos = repositoriesFor(db, config);
  const { tenants, keys } = repos.operator;
  const keyName = `${DEMO_KEY} ${new Date().toISOString()}`;
  const found = await tenants.findDirectoryByNames(DEMO_TENANT, DEMO_DIRECTORY);
  if (!found) {
    const tenantId = (await tenants.createTenant(DEMO_TENANT)).id;
    const { directory, key } = await tenants.createDirectory(tenantId, { name: DEMO_DIRECTORY, provider: 'entra', region, keyName });
    return { tenantId, directoryId: directory.id, token: key.token, reused: false };
  }
  const { tenantId, directoryId } = found;
  await removeOldDemoExtension(repos.operator, directoryId);
  if (previousToken && (await keys.resolve(previousToken))?.directoryId === directoryId) {
    return { tenantId, directoryId, token: previousToken, reused: true };
  }
  const directory = repos.forDirectory({ tenantId, directoryId });
  const token = await directory.transaction(async (t) => {
    const earlier = (await directory.apiKeys.list()).filter((k) => k.revokedAt === null && k.name.startsWith(DEMO_KEY));
    for (const k of earlier) await directory.apiKeys.revoke(k.id, t);
    return (await directory.apiKeys.issue(keyName, region, t)).token;
  });
  return { tenantId, directoryId, token, reused: false };
}

async function removeOldDemoExtension(operator: OperatorRepositories, directoryId: DirectoryId): Promise<void> {
  const schemas = operator.extensionSchemas;
  const own = await schemas.list(directoryId);
  const old = own.find((s) => s.schema.id === OLD_DEMO_EXTENSION.urn && s.schema.description === OLD_DEMO_EXTENSION.description);
  if (old) await schemas.delete(old.schema.id, directoryId);
}
