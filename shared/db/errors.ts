/** The constraint a statement violated, when it was a unique violation (SQLSTATE 23505). */
export function uniqueViolation(err: unknown): string | undefined {
  const e = err as { code?: string; constraint?: string } | null;
  return e?.code === '23505' ? (e.constraint ?? '') : undefined;
}
