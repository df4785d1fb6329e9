import { config } from '../../shared/config';
import { createDatabase } from '../../shared/db/sequelize';
import { ensureDatabase } from './create-db';
import { createMigrator } from './migrator';

/** Creates the database if missing and applies every pending migration. */
export async function migrate(url: string = config.DATABASE_URL): Promise<string[]> {
  await ensureDatabase(url);
  const db = createDatabase({ url, poolMax: 2 });
  try {
    // One migrator at a time across processes (several API pods may boot together).
    return await db.transaction(async (t) => {
      await db.sequelize.query('SELECT pg_advisory_xact_lock(7643)', { transaction: t });
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
