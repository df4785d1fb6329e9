import type { UniqueIndex } from '../resource-types';

/*
 * UNIQUE_LOCKS. A unique violation (SQLSTATE 23505) is logged by PostgreSQL with its DETAIL,
 * `Key (directory_id, user_name_folded)=(…, alice@contoso.com) already exists`: personal data in
 * the server log. So writers of a unique value never let the index be the one to refuse it.
 * Every insert and every write that changes a unique value first takes a transaction-scoped
 * advisory lock on (directory, column, value as the index compares it), so two writers of one
 * value take turns; the second then sees the first's committed row (ON CONFLICT DO NOTHING on
 * insert, NOT EXISTS in the UPDATE, read after the lock with a fresh snapshot) and writes nothing.
 * A statement takes its locks in ascending key order (lockedInKeyOrder), whether it writes one
 * resource or a batch of creates from many requests, so writers cannot wait on each other in a
 * cycle; lower() is PostgreSQL's own, so the key folds case exactly as the index does. A null
 * value takes no lock (pg_advisory_xact_lock is strict), as the indexes ignore nulls.
 */

/**
 * The lock key of one unique value, as SQL: `prefix` is `<directory>|<table>|` (a parameter or
 * an expression over a row), `value` the value's parameter or column.
 */
export const lockKeyOf = (u: UniqueIndex, prefix: string, value: string) =>
  `hashtextextended(${prefix}::text || '${u.column}|' || ${u.folded ? `lower(${value}::text)` : `${value}::text`}, 0)`;

/**
 * A query taking the advisory lock of every key that `keys` (a SELECT of one column, or a UNION
 * ALL of them) yields, in ascending key order. The sort sits below the lock calls and OFFSET 0
 * keeps PostgreSQL from flattening it away, so the calls run in that order.
 */
export const lockedInKeyOrder = (keys: string) => `SELECT pg_advisory_xact_lock(sorted.key) FROM (${keys} ORDER BY 1 OFFSET 0) AS sorted (key)`;
