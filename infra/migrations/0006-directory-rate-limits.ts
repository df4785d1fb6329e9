import type { Migration } from '../scripts/migrator';

/**
 * A directory's own request limit, set by the operator (PATCH /admin/v1/directories/{id}).
 * Both columns NULL means the platform default (RATE_LIMIT_RPS / RATE_LIMIT_BURST); a limit is
 * always a pair, and the burst (the most requests one second may take) is never below the rate.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE directories
      ADD COLUMN rate_limit_rps integer,
      ADD COLUMN rate_limit_burst integer,
      ADD CONSTRAINT directories_rate_limit_check CHECK (
        (rate_limit_rps IS NULL AND rate_limit_burst IS NULL)
        OR (rate_limit_rps > 0 AND rate_limit_burst >= rate_limit_rps)
      );
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE directories
      DROP CONSTRAINT IF EXISTS directories_rate_limit_check,
      DROP COLUMN IF EXISTS rate_limit_burst,
      DROP COLUMN IF EXISTS rate_limit_rps;
  `);
};
