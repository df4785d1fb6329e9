import type { Migration } from '../scripts/migrator';

/**
 * The SCIM request log by time, across directories: which directories' recent requests mostly
 * failed is read on every metrics scrape (FailingDirectories), over the last minutes only.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql('CREATE INDEX scim_request_log_at_idx ON scim_request_log (at)');
};

export const down: Migration = async ({ context: sql }) => {
  await sql('DROP INDEX IF EXISTS scim_request_log_at_idx');
};
