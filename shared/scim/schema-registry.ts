import { ScimError } from './errors';
import { commonAttributes, enterpriseUserSchema, groupSchema, userSchema } from './core-schemas';
import type { AttributeDef, ResourceTypeName, SchemaDef } from './schema-types';

export interface ExtensionBinding {
  readonly schema: SchemaDef;
  /** Whether every resource of the type must carry it (schemaExtensions[].required on /ResourceTypes). */
  readonly required: boolean;
}

/** The schemas of one resource type as one directory sees them. */
export interface ResourceSchemas {
  readonly resourceType: ResourceTypeName;
  readonly core: SchemaDef;
  readonly extensions: readonly ExtensionBinding[];
}

/** A resolved attribute path: which schema, which attribute, which sub-attribute. */
export interface ResolvedPath {
  /** The extension URN (canonical spelling), or undefined for core and common attributes. */
  readonly extension?: string;
  /** Undefined when the path names a whole extension object (`urn:…:User`). */
  readonly attribute?: AttributeDef;
  readonly subAttribute?: AttributeDef;
  /** True for id, externalId and meta, which every resource has whatever its schemas. */
  readonly common: boolean;
}

/**
 * Per-directory schema view. Unlike a process-wide registry, each directory gets its own,
 * built from the core schemas plus the platform's and the directory's extension schemas.
 */
export class DirectorySchemas {
  readonly user: ResourceSchemas;
  readonly group: ResourceSchemas;

  constructor(extensions: { user: readonly ExtensionBinding[]; group: readonly ExtensionBinding[] }) {
    this.user = {
      resourceType: 'User',
      core: userSchema,
      extensions: [{ schema: enterpriseUserSchema, required: false }, ...extensions.user],
    };
    this.group = { resourceType: 'Group', core: groupSchema, extensions: extensions.group };
  }

  of(resourceType: ResourceTypeName): ResourceSchemas {
    return resourceType === 'User' ? this.user : this.group;
  }

  /** Every schema this directory knows, core first. */
  all(): SchemaDef[] {
    const seen = new Map<string, SchemaDef>();
    for (const s of [userSchema, groupSchema, ...this.user.extensions.map((e) => e.schema), ...this.group.extensions.map((e) => e.schema)]) {
      seen.set(s.id.toLowerCase(), s);
    }
    return [...seen.values()];
  }
}

export const findAttribute = (list: readonly AttributeDef[] | undefined, name: string): AttributeDef | undefined => {
  const lower = name.toLowerCase();
  return list?.find((a) => a.name.toLowerCase() === lower);
};

/** The extension whose URN the key names, compared case-insensitively (schema URNs are). */
export function findExtension(schemas: ResourceSchemas, urn: string): ExtensionBinding | undefined {
  const lower = urn.toLowerCase();
  return schemas.extensions.find((e) => e.schema.id.toLowerCase() === lower);
}

/**
 * Resolves `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:manager.value`,
 * `urn:…:core:2.0:User:userName`, and Entra's `urn:…:activtrak:2.0:User.tracking`
 * (a dot where SCIM puts a colon; the README's ActivTrak mapping targets use it).
 * Throws invalidPath naming the culprit; `scimType` lets filters report invalidFilter instead.
 */
export function resolvePath(schemas: ResourceSchemas, path: string, scimType: 'invalidPath' | 'invalidFilter' = 'invalidPath'): ResolvedPath {
  const fail = (why: string) => new ScimError(400, scimType, `attribute path "${path}" ${why}`);
  let rest = path;
  let extension: ExtensionBinding | undefined;
  let schema: SchemaDef = schemas.core;

  if (/^urn:/i.test(path)) {
    const lower = path.toLowerCase();
    const candidates = [{ schema: schemas.core, required: true }, ...schemas.extensions];
    // Longest URN first: an extension URN may extend the core URN's text.
    const match = candidates
      .filter((c) => {
        const id = c.schema.id.toLowerCase();
        return lower === id || (lower.startsWith(id) && (lower[id.length] === ':' || lower[id.length] === '.'));
      })
      .sort((a, b) => b.schema.id.length - a.schema.id.length)[0];
    if (!match) throw fail('names a schema this directory does not have');
    schema = match.schema;
    if (match.schema !== schemas.core) extension = match;
    rest = path.slice(match.schema.id.length + 1);
    if (!rest) {
      if (!extension) throw fail('names no attribute');
      return { extension: extension.schema.id, common: false };
    }
  }

  const [name, sub, ...more] = rest.split('.');
  if (!name || more.length > 0 || sub === '') throw fail('is not attr or attr.subAttr');
  let attribute = findAttribute(schema.attributes, name);
  let common = false;
  if (!attribute && !extension) {
    attribute = findAttribute(commonAttributes, name);
    common = attribute !== undefined;
  }
  if (!attribute && rest === path) {
    // A bare name the core schema lacks but exactly one extension has: Entra sends
    // `"path": "manager"` and filters `manager eq "…"` for the enterprise extension's manager.
    const owners = schemas.extensions.filter((e) => findAttribute(e.schema.attributes, name));
    if (owners.length === 1) {
      extension = owners[0];
      attribute = findAttribute(extension.schema.attributes, name);
    }
  }
  if (!attribute) throw fail('names an unknown attribute');
  if (sub === undefined) return { extension: extension?.schema.id, attribute, common };
  if (attribute.type !== 'complex') throw fail(`has a sub-attribute but "${attribute.name}" is not complex`);
  const subAttribute = findAttribute(attribute.subAttributes, sub);
  if (!subAttribute) throw fail('names an unknown sub-attribute');
  return { extension: extension?.schema.id, attribute, subAttribute, common };
}
