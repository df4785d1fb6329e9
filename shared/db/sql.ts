/**
 * The statement's time at millisecond precision: SCIM renders meta.lastModified with
 * milliseconds, so stored times must not carry more, or `meta.lastModified gt "<what we
 * returned>"` would still match the resource itself.
 */
export const NOW_MS = "date_trunc('milliseconds', now())";

/**
 * A UUID v7 (time-ordered) made in SQL, for statements that write one event per row: the clock's
 * milliseconds in the first 48 bits over gen_random_uuid()'s random ones, version nibble 4 → 7
 * (PostgreSQL 15 has no uuidv7()). Matches newId() in shared/ids.ts, so every event id is v7.
 */
export const UUID_V7 =
  "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid";
