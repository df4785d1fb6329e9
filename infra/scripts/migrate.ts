import { config } from '../../shared/config';
import { lockMigrations } from '../../shared/db/admin';
import { createDatabase } from '../../shared/db/sequelize';
import { ensureDatabase } from './create-db';
import { createMigrator } from './migrator';

/**
 * Creates the database if missing and applies every pending migration, on PostgreSQL itself
 * (DATABASE_DIRECT_URL): creating a database and running DDL want a session, not a transaction pooler.
 */
export async function migrate(url: string = config.DATABASE_DIRECT_URL): Promise<string[]> {
  await ensureDatabase(url);
  // As the login role, not scim_app: migrations create and alter the tables.
  const db = createDatabase({ url, poolMax: 2, appRole: false, poolMode: 'session' });
  try {
    return await db.acrossTenants().transaction(async (t) => {
      await lockMigrations(db, t);
      const applied = await createMigrator(db.sequelize).up();
      return applied.map((m) => m.name);
    });
  } finally {
    await db.close();
  }
}

if (require.main === module) {
  migrate()
    .then((names) => {
      console.log(names.length ? `applied: ${names.join(', ')}` : 'database is up to date');
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
