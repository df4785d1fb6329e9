import type { Database } from '../../shared/db/sequelize';

/**
 * Counts the statements containing `marker` that run through the handle's multi-directory scope
 * (where the batchers run theirs) while `work` runs: how many statements a batch of requests took.
 */
export async function countStatements(db: Database, marker: string, work: () => Promise<void>): Promise<number> {
  const original = db.forDirectories;
  let statements = 0;
  (db as { forDirectories: Database['forDirectories'] }).forDirectories = (scopes) => {
    const sql = original.call(db, scopes);
    return {
      ...sql,
      query(text, ...rest) {
        if (text.includes(marker)) statements++;
        return sql.query(text, ...rest);
      },
    };
  };
  try {
    await work();
  } finally {
    (db as { forDirectories: Database['forDirectories'] }).forDirectories = original;
  }
  return statements;
}
