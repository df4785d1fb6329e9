import { ScimError } from './errors';
import {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  USER_SCHEMA,
  attr,
  type AttributeDef,
  type AttributeType,
  type ResourceTypeName,
  type SchemaDef,
} from './schema-types';
import { isObject } from './values';

// Exported for the admin API's description of what this parser accepts.
export const ATTRIBUTE_TYPES = [
  'string',
  'boolean',
  'decimal',
  'integer',
  'dateTime',
  'reference',
  'complex',
  'binary',
] as const satisfies readonly AttributeType[];
export const MUTABILITY = ['readOnly', 'readWrite', 'immutable', 'writeOnly'] as const;
export const RETURNED = ['always', 'never', 'default', 'request'] as const;
export const UNIQUENESS = ['none', 'server', 'global'] as const;
const RESERVED = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA].map((s) => s.toLowerCase());
// An attribute name is a letter followed by letters, digits, "_" and "-"; "$ref" is the one reserved exception.
const ATTRNAME = /^(\$ref|[A-Za-z][A-Za-z0-9_-]*)$/;
const URN = /^urn:[a-z0-9][a-z0-9-]{0,31}:[A-Za-z0-9()+,\-.:=@;$_!*'%/?#]+$/i;

export interface ExtensionSchemaInput {
  readonly schema: SchemaDef;
  readonly resourceType: ResourceTypeName;
  readonly required: boolean;
}

const invalid = (detail: string) => new ScimError(400, 'invalidValue', detail);

/**
 * Validates an operator's SCIM Schema resource once, when posted. `resourceType`
 * ("User" or "Group") and `required` are ours; without them the URN's last segment decides.
 */
export function parseExtensionSchema(body: unknown): ExtensionSchemaInput {
  if (!isObject(body)) throw new ScimError(400, 'invalidSyntax', 'a schema must be a JSON object');
  const { id, name, description, attributes } = body;
  if (typeof id !== 'string' || !URN.test(id)) throw invalid('"id" must be a URN such as urn:ietf:params:scim:schemas:extension:acme:2.0:User');
  if (RESERVED.includes(id.toLowerCase())) throw new ScimError(409, 'uniqueness', `"${id}" is a built-in schema`);
  if (name !== undefined && typeof name !== 'string') throw invalid('"name" must be a string');
  if (description !== undefined && typeof description !== 'string') throw invalid('"description" must be a string');
  if (!Array.isArray(attributes) || attributes.length === 0) throw invalid('"attributes" must be a non-empty array');

  const resourceType = body.resourceType ?? (/:group$/i.test(id) ? 'Group' : 'User');
  if (resourceType !== 'User' && resourceType !== 'Group') throw invalid('"resourceType" must be "User" or "Group"');
  if (body.required !== undefined && typeof body.required !== 'boolean') throw invalid('"required" must be a boolean');

  const schema: SchemaDef = {
    id,
    name: (name as string | undefined) ?? defaultName(id),
    ...(description ? { description: description as string } : {}),
    attributes: parseAttributes(attributes, id, 0),
  };
  return { schema, resourceType, required: body.required === true };
}

function parseAttributes(list: unknown[], where: string, depth: number): AttributeDef[] {
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const def = parseAttribute(raw, `${where} attributes[${i}]`, depth);
    const key = def.name.toLowerCase();
    if (seen.has(key)) throw invalid(`${where}: attribute "${def.name}" is declared twice`);
    seen.add(key);
    return def;
  });
}

function parseAttribute(raw: unknown, where: string, depth: number): AttributeDef {
  if (!isObject(raw)) throw invalid(`${where} must be an object`);
  const { name, type } = raw;
  if (typeof name !== 'string' || !ATTRNAME.test(name)) throw invalid(`${where}: "name" must match ALPHA *(ALPHA / DIGIT / "-" / "_")`);
  const at = `${where} ("${name}")`;
  if (!(ATTRIBUTE_TYPES as readonly unknown[]).includes(type)) throw invalid(`${at}: "type" must be one of ${ATTRIBUTE_TYPES.join(', ')}`);
  const bool = (k: string, dflt: boolean) => {
    const v = raw[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw invalid(`${at}: "${k}" must be a boolean`);
    return v;
  };
  const oneOf = <T extends string>(k: string, allowed: readonly T[], dflt: T): T => {
    const v = raw[k];
    if (v === undefined) return dflt;
    if (!allowed.includes(v as T)) throw invalid(`${at}: "${k}" must be one of ${allowed.join(', ')}`);
    return v as T;
  };
  const strings = (k: string) => {
    const v = raw[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalid(`${at}: "${k}" must be an array of strings`);
    return v as string[];
  };

  let subAttributes: AttributeDef[] | undefined;
  if (type === 'complex') {
    // A complex attribute's sub-attributes may not be complex themselves.
    if (depth > 0) throw invalid(`${at}: a sub-attribute cannot be complex`);
    if (!Array.isArray(raw.subAttributes) || raw.subAttributes.length === 0) throw invalid(`${at}: a complex attribute needs "subAttributes"`);
    subAttributes = parseAttributes(raw.subAttributes, at, depth + 1);
  } else if (raw.subAttributes !== undefined) {
    throw invalid(`${at}: only complex attributes have "subAttributes"`);
  }
  const canonicalValues = strings('canonicalValues');
  const referenceTypes = strings('referenceTypes');
  return attr(name, type as AttributeType, {
    multiValued: bool('multiValued', false),
    required: bool('required', false),
    caseExact: bool('caseExact', false),
    mutability: oneOf('mutability', MUTABILITY, 'readWrite'),
    returned: oneOf('returned', RETURNED, 'default'),
    uniqueness: oneOf('uniqueness', UNIQUENESS, 'none'),
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    ...(canonicalValues ? { canonicalValues } : {}),
    ...(referenceTypes ? { referenceTypes } : {}),
    ...(subAttributes ? { subAttributes } : {}),
  });
}

/** `urn:…:extension:acme:2.0:User` → `acmeUser`: the segment before the version, then the type. */
function defaultName(urn: string): string {
  const parts = urn.split(':');
  const version = parts.findIndex((p) => /^\d+(\.\d+)*$/.test(p));
  if (version > 0 && version < parts.length - 1) return `${parts[version - 1]}${parts.at(-1)}`;
  return parts.at(-1) ?? urn;
}
