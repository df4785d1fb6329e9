import type { z } from 'zod';
import type { TenantRepository } from '../../../../shared/db/repositories/tenants';
import { isUuid } from '../../../../shared/ids';
import { ScimError } from '../../../../shared/scim/errors';

/** Parses an admin request body; every problem is named in one 400. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  let parsed: ReturnType<typeof schema.safeParse>;
  try {
    parsed = schema.safeParse(body ?? {});
  } catch {
    // zod 4 runs its length checks on any value with a `length` key, and comparing an object
    // found there throws: `{"description": {"length": {"toString": 1}}}` was a 500.
    throw new ScimError(400, 'invalidValue', 'the request body does not have the expected shape');
  }
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  throw new ScimError(400, 'invalidValue', detail);
}

/** A path id that is not a UUID names nothing: 404, like any unknown id. */
export function pathId(value: string, what: string): string {
  if (!isUuid(value)) throw new ScimError(404, undefined, `${what} "${value}" not found`);
  return value;
}

/** The tenant a path names, or 404 (unknown and malformed ids alike). */
export async function tenantOr404(tenants: TenantRepository, id: string) {
  const tenant = await tenants.findTenant(pathId(id, 'tenant'));
  if (!tenant) throw new ScimError(404, undefined, `tenant "${id}" not found`);
  return tenant;
}

/** The directory a path names, or 404 (unknown and malformed ids alike). */
export async function directoryOr404(tenants: TenantRepository, id: string) {
  const directory = await tenants.findDirectory(pathId(id, 'directory'));
  if (!directory) throw new ScimError(404, undefined, `directory "${id}" not found`);
  return directory;
}
