import type { DirectorySchemas } from '../scim/schema-registry';
import { type AttributeDef, type AttributeType, ENTERPRISE_USER_SCHEMA, type ResourceTypeName } from '../scim/schema-types';

/** The attribute types Entra's "Edit attribute list" offers. */
export type EntraAttributeType = 'String' | 'Boolean' | 'Integer' | 'DateTime' | 'Reference' | 'Binary';

/** One custom attribute to add in Entra, and map to: its target name as typed there, and its type. */
export interface AttributeMapping {
  /** Provision Microsoft Entra ID Users, or … Groups. */
  readonly resourceType: ResourceTypeName;
  /** The target attribute, verbatim. */
  readonly target: string;
  readonly type: EntraAttributeType;
  /** Whether the schema requires it; otherwise optional. */
  readonly required: boolean;
}

// Entra has no decimal type; the service reads a decimal sent as a numeric string.
const ENTRA_TYPES: Record<AttributeType, EntraAttributeType | undefined> = {
  string: 'String',
  boolean: 'Boolean',
  integer: 'Integer',
  decimal: 'String',
  dateTime: 'DateTime',
  reference: 'Reference',
  binary: 'Binary',
  complex: undefined,
};

/**
 * Enterprise attributes to add besides the extensions: the guides ask for employeeNumber. The
 * enterprise extension's target names are Entra's own, spelt with a ":" after the URN.
 */
const ENTERPRISE_MAPPINGS: readonly AttributeMapping[] = [
  { resourceType: 'User', target: `${ENTERPRISE_USER_SCHEMA}:employeeNumber`, type: 'String', required: false },
];

/**
 * The custom attribute mappings a directory needs in Entra, from its extension schemas
 * (platform-wide and its own), in schema order, then ENTERPRISE_MAPPINGS. Each target is written
 * as the guides write them, with a "." after the URN (the service reads "." and ":" alike):
 * - a single-valued attribute: `urn…:User.tracking`;
 * - a sub-attribute of a single-valued complex one: `urn…:User.badge.number`;
 * - a multi-valued complex attribute with a `value`: `urn…:User.userPrincipalNames[value eq null].value`,
 *   Entra's way of writing one value into a list.
 * Left out: read-only attributes (Entra cannot set them) and multi-valued ones of other shapes,
 * which one Entra source attribute cannot fill.
 */
export function entraAttributeMappings(schemas: DirectorySchemas): AttributeMapping[] {
  const mappings: AttributeMapping[] = [];
  for (const resource of [schemas.user, schemas.group]) {
    for (const { schema } of resource.extensions) {
      if (schema.id === ENTERPRISE_USER_SCHEMA) continue;
      for (const attribute of schema.attributes) mappings.push(...mappingsOf(resource.resourceType, schema.id, attribute));
    }
  }
  return [...mappings, ...ENTERPRISE_MAPPINGS];
}

function mappingsOf(resourceType: ResourceTypeName, urn: string, attribute: AttributeDef): AttributeMapping[] {
  if (!writable(attribute)) return [];
  const line = (target: string, def: AttributeDef, required: boolean): AttributeMapping[] => {
    const type = ENTRA_TYPES[def.type];
    return type ? [{ resourceType, target, type, required }] : [];
  };
  const path = `${urn}.${attribute.name}`;
  if (attribute.type !== 'complex') return attribute.multiValued ? [] : line(path, attribute, attribute.required);
  const subs = (attribute.subAttributes ?? []).filter(writable);
  if (attribute.multiValued) {
    const value = subs.find((s) => s.name === 'value' && !s.multiValued);
    return value ? line(`${path}[value eq null].value`, value, attribute.required) : [];
  }
  return subs.filter((s) => !s.multiValued).flatMap((s) => line(`${path}.${s.name}`, s, attribute.required && s.required));
}

const writable = (a: AttributeDef) => a.mutability !== 'readOnly';
