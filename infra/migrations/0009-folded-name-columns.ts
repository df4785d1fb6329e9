import type { Migration } from '../scripts/migrator';

/**
 * Case-insensitive names as stored columns, so their indexes serve lookups under row-level
 * security. The indexes of 0001 are on `lower(user_name)` and `lower(display_name)`, but
 * PostgreSQL runs a condition that calls a function it does not know to be leakproof (lower() is
 * not) only after the row-level policy, never as an index condition: every `userName eq` became
 * a scan of the directory (BENCHMARKS.md has the cost). A generated column compared with `=`
 * (leakproof) is an index condition again. The new indexes keep the old names, which 409 answers
 * map to attributes.
 */
const FOLDED = [
  { table: 'scim_users', column: 'user_name', index: 'scim_users_user_name_idx', unique: true },
  { table: 'scim_users', column: 'display_name', index: 'scim_users_display_name_idx', unique: false },
  { table: 'scim_groups', column: 'display_name', index: 'scim_groups_display_name_idx', unique: true },
];

export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE scim_users
      ADD COLUMN user_name_folded text GENERATED ALWAYS AS (lower(user_name)) STORED,
      ADD COLUMN display_name_folded text GENERATED ALWAYS AS (lower(display_name)) STORED;
    ALTER TABLE scim_groups
      ADD COLUMN display_name_folded text GENERATED ALWAYS AS (lower(display_name)) STORED;
  `);
  for (const f of FOLDED) {
    await sql(`
      CREATE ${f.unique ? 'UNIQUE ' : ''}INDEX ${f.index}_next ON ${f.table} (directory_id, ${f.column}_folded);
      DROP INDEX ${f.index};
      ALTER INDEX ${f.index}_next RENAME TO ${f.index};
    `);
  }
};

export const down: Migration = async ({ context: sql }) => {
  for (const f of FOLDED) {
    await sql(`
      CREATE ${f.unique ? 'UNIQUE ' : ''}INDEX ${f.index}_prev ON ${f.table} (directory_id, lower(${f.column}));
      DROP INDEX ${f.index};
      ALTER INDEX ${f.index}_prev RENAME TO ${f.index};
    `);
  }
  await sql(`
    ALTER TABLE scim_users DROP COLUMN user_name_folded, DROP COLUMN display_name_folded;
    ALTER TABLE scim_groups DROP COLUMN display_name_folded;
  `);
};
