import { attr, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, type AttributeDef, type SchemaDef } from './schema-types';

// The standard User, enterprise User and Group schemas, attribute by attribute, written as data.

const multiValued = (name: string, extra: AttributeDef[] = [], options: Partial<AttributeDef> = {}) =>
  attr(name, 'complex', {
    multiValued: true,
    ...options,
    subAttributes: [attr('value', 'string'), attr('display', 'string'), attr('type', 'string'), attr('primary', 'boolean'), ...extra],
  });

export const userSchema: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', { required: true, uniqueness: 'server', description: 'Unique identifier for the User' }),
    attr('name', 'complex', {
      subAttributes: [
        attr('formatted', 'string'),
        attr('familyName', 'string'),
        attr('givenName', 'string'),
        attr('middleName', 'string'),
        attr('honorificPrefix', 'string'),
        attr('honorificSuffix', 'string'),
      ],
    }),
    attr('displayName', 'string'),
    attr('nickName', 'string'),
    attr('profileUrl', 'reference', { referenceTypes: ['external'] }),
    attr('title', 'string'),
    attr('userType', 'string'),
    attr('preferredLanguage', 'string'),
    attr('locale', 'string'),
    attr('timezone', 'string'),
    attr('active', 'boolean'),
    attr('password', 'string', { mutability: 'writeOnly', returned: 'never' }),
    multiValued('emails'),
    multiValued('phoneNumbers'),
    multiValued('ims'),
    multiValued('photos'),
    attr('addresses', 'complex', {
      multiValued: true,
      subAttributes: [
        attr('formatted', 'string'),
        attr('streetAddress', 'string'),
        attr('locality', 'string'),
        attr('region', 'string'),
        attr('postalCode', 'string'),
        attr('country', 'string'),
        attr('type', 'string'),
        attr('primary', 'boolean'),
      ],
    }),
    attr('groups', 'complex', {
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: [
        attr('value', 'string', { mutability: 'readOnly' }),
        attr('$ref', 'reference', { mutability: 'readOnly', referenceTypes: ['Group'] }),
        attr('display', 'string', { mutability: 'readOnly' }),
        attr('type', 'string', { mutability: 'readOnly' }),
      ],
    }),
    multiValued('entitlements'),
    multiValued('roles'),
    multiValued('x509Certificates', [], {}),
  ],
};

export const groupSchema: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', { required: true, uniqueness: 'server' }),
    attr('members', 'complex', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', { mutability: 'immutable' }),
        attr('$ref', 'reference', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
        attr('display', 'string', { mutability: 'readOnly' }),
        attr('type', 'string', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      ],
    }),
  ],
};

export const enterpriseUserSchema: SchemaDef = {
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string'),
    attr('costCenter', 'string'),
    attr('organization', 'string'),
    attr('division', 'string'),
    attr('department', 'string'),
    attr('manager', 'complex', {
      subAttributes: [
        attr('value', 'string'),
        attr('$ref', 'reference', { referenceTypes: ['User'] }),
        attr('displayName', 'string', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

/** Attributes every resource has, whatever its schemas (id, externalId, meta), resolvable in filters and sortBy. */
export const commonAttributes: readonly AttributeDef[] = [
  attr('id', 'string', { mutability: 'readOnly', returned: 'always', caseExact: true, uniqueness: 'server' }),
  attr('externalId', 'string', { caseExact: true }),
  attr('meta', 'complex', {
    mutability: 'readOnly',
    subAttributes: [
      attr('resourceType', 'string', { mutability: 'readOnly', caseExact: true }),
      attr('created', 'dateTime', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', { mutability: 'readOnly' }),
      attr('location', 'reference', { mutability: 'readOnly' }),
      attr('version', 'string', { mutability: 'readOnly', caseExact: true }),
    ],
  }),
];
