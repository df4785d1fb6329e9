import type { z } from 'zod';
import { isUuid } from '../../../../shared/ids';
import { ScimError } from '../../../../shared/scim/errors';

/** Parses an admin request body; every problem is named in one 400. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new ScimError(400, 'invalidValue', detail);
}

/** A path id that is not a UUID names nothing: 404, like any unknown id. */
export function pathId(value: string, what: string): string {
  if (!isUuid(value)) throw new ScimError(404, undefined, `${what} "${value}" not found`);
  return value;
}
