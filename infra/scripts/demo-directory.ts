import { ApiKeyRepository } from '../../shared/db/repositories/api-keys';
import { ExtensionSchemaRepository } from '../../shared/db/repositories/extension-schemas';
import { TenantRepository } from '../../shared/db/repositories/tenants';
import type { Database } from '../../shared/db/sequelize';
import type { DirectoryId, TenantId } from '../../shared/ids';
import { parseExtensionSchema } from '../../shared/scim/schema-definition';

const DEMO_TENANT = 'Demo tenant';
const DEMO_DIRECTORY = 'Demo Entra ID';

/** The seeds' vendor extension, so the guides' custom attribute mappings work on the demo at once. */
const ACTIVTRAK_EXTENSION = {
  id: 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User',
  name: 'ActivTrakUser',
  description: 'Example vendor extension from the Entra setup guide',
  attributes: [
    { name: 'userPrincipalNames', type: 'complex', multiValued: true, subAttributes: [{ name: 'value', type: 'string' }] },
    { name: 'tracking', type: 'boolean' },
  ],
};

/**
 * Finds or creates the demo tenant and its Entra directory, and issues a fresh key for it
 * (keys are shown once, so every start prints a new one; older demo keys stay valid).
 */
export async function prepareDemoDirectory(db: Database, region: string) {
  const tenants = new TenantRepository(db);
  const found = await db.query<{ tenant_id: TenantId; directory_id: DirectoryId }>(
    `SELECT t.id AS tenant_id, d.id AS directory_id FROM tenants t JOIN directories d ON d.tenant_id = t.id
      WHERE t.name = $1 AND d.name = $2 ORDER BY d.created_at LIMIT 1`,
    [DEMO_TENANT, DEMO_DIRECTORY],
  );
  let tenantId: TenantId;
  let directoryId: DirectoryId;
  if (found[0]) {
    tenantId = found[0].tenant_id;
    directoryId = found[0].directory_id;
  } else {
    tenantId = (await tenants.createTenant(DEMO_TENANT)).id;
    directoryId = (await tenants.createDirectory(tenantId, { name: DEMO_DIRECTORY, provider: 'entra', region })).id;
    await new ExtensionSchemaRepository(db).create(parseExtensionSchema(ACTIVTRAK_EXTENSION), { tenantId, directoryId });
  }
  const key = await new ApiKeyRepository(db).issue({ tenantId, directoryId }, `demo key ${new Date().toISOString()}`, region);
  return { tenantId, directoryId, token: key.token };
}
