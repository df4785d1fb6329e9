import path from 'node:path';
import { Umzug, SequelizeStorage } from 'umzug';
import type { Sequelize } from 'sequelize';

/** A migration receives a function that runs SQL; plain SQL keeps the schema readable. */
export type Migration = (params: { context: (sql: string) => Promise<unknown> }) => Promise<void>;

/** Versioned migrations from infra/migrations, recorded in the `schema_migrations` table. */
export function createMigrator(sequelize: Sequelize) {
  return new Umzug({
    migrations: {
      // Sources under tsx, compiled .js under dist/; never declaration or map files.
      glob: ['*.{ts,js}', { cwd: path.join(__dirname, '..', 'migrations'), ignore: ['*.d.ts'] }],
      resolve: ({ name, path: file }) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require(file!) as { up: Migration; down: Migration };
        return { name: name.replace(/\.(ts|js)$/, ''), up: mod.up, down: mod.down };
      },
    },
    context: () => (sql: string) => sequelize.query(sql),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
}
