import { createDatabase } from './shared/db/sequelize';
import { TenantRepository } from './shared/db/repositories/tenants';
const db = createDatabase({ url: 'postgres://postgres@127.0.0.1:5432/main_test' });
const r = new TenantRepository(db);
try {
const t = await r.createTenant('x');
console.log(t);
const d = await r.createDirectory(t.id, { name: 'd', provider: 'entra', region: 'eu' });
console.log(d, await r.listDirectories(t.id), await r.findTenant(t.id));
} catch (e) { console.error(e); }
await db.close();
