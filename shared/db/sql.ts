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

/**
 * `LIMIT cardinality(<array>)`, for a query over `unnest()` of parameter arrays (as long as each
 * other, `array` one of them): it takes every row and is there for the planner. A generic plan
 * guesses ten rows from an unnest of parameters and looks dearer than a custom plan of the usual
 * one to twenty, so PostgreSQL would plan the statement again at every call (0.5 to 1 ms for a
 * batch statement, many times its run). A LIMIT it cannot read brings the guess to one row, and
 * after its first five calls a connection reuses the generic plan.
 */
export const EVERY_ROW_OF = (array: string) => `LIMIT cardinality(${array})`;
