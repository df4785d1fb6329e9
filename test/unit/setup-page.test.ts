/**
 * The setup page's pure parts, table-driven: Entra's custom attribute mappings from a directory's
 * schemas, the attribute an error names (from the schema, never from a value), and the plain-word
 * explanation of each failed request.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributeNamed } from '../../services/api/scim-activity';
import { DirectorySchemas } from '../../shared/scim/schema-registry';
import { attr } from '../../shared/scim/schema-types';
import { entraAttributeMappings } from '../../shared/setup/attribute-mappings';
import { setupSteps } from '../../shared/setup/provider-steps';
import { explainRequest, type ExplainedRequest } from '../../shared/setup/request-explanations';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const ACME_GROUP = 'urn:ietf:params:scim:schemas:extension:acme:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const activTrak = {
  schema: {
    id: ACTIVTRAK,
    name: 'ActivTrakUser',
    attributes: [attr('userPrincipalNames', 'complex', { multiValued: true, subAttributes: [attr('value', 'string')] }), attr('tracking', 'boolean')],
  },
  required: false,
};

const lines = (schemas: DirectorySchemas) =>
  entraAttributeMappings(schemas).map((m) => `${m.resourceType} ${m.target} ${m.type}${m.required ? ' required' : ''}`);

describe('setup page › Entra attribute mappings', () => {
  it("the seeds' ActivTrak extension › exactly the guide's three lines, in its order", () => {
    assert.deepEqual(lines(new DirectorySchemas({ user: [activTrak], group: [] })), [
      `User ${ACTIVTRAK}.userPrincipalNames[value eq null].value String`,
      `User ${ACTIVTRAK}.tracking Boolean`,
      `User ${ENTERPRISE}:employeeNumber String`,
    ]);
  });

  it('no extension › the enterprise employeeNumber line only', () => {
    assert.deepEqual(lines(new DirectorySchemas({ user: [], group: [] })), [`User ${ENTERPRISE}:employeeNumber String`]);
  });

  it('every attribute shape › a line for what Entra can write, none for read-only or list-of-scalars attributes', () => {
    const acme = {
      schema: {
        id: ACME,
        name: 'Acme',
        attributes: [
          attr('level', 'integer', { required: true }),
          attr('score', 'decimal'),
          attr('since', 'dateTime'),
          attr('photo', 'binary'),
          attr('homepage', 'reference'),
          attr('serial', 'string', { mutability: 'readOnly' }),
          attr('tags', 'string', { multiValued: true }),
          attr('badge', 'complex', { subAttributes: [attr('number', 'string'), attr('printed', 'dateTime', { mutability: 'readOnly' })] }),
          attr('phones', 'complex', { multiValued: true, subAttributes: [attr('number', 'string')] }),
        ],
      },
      required: false,
    };
    const groupExtension = { schema: { id: ACME_GROUP, name: 'AcmeGroup', attributes: [attr('costCenter', 'string')] }, required: false };

    assert.deepEqual(lines(new DirectorySchemas({ user: [acme], group: [groupExtension] })), [
      `User ${ACME}.level Integer required`,
      `User ${ACME}.score String`,
      `User ${ACME}.since DateTime`,
      `User ${ACME}.photo Binary`,
      `User ${ACME}.homepage Reference`,
      `User ${ACME}.badge.number String`,
      `Group ${ACME_GROUP}.costCenter String`,
      `User ${ENTERPRISE}:employeeNumber String`,
    ]);
  });
});

describe('setup page › the attribute an error names', () => {
  const schemas = new DirectorySchemas({ user: [activTrak], group: [] });
  const cases: [detail: string, type: 'User' | 'Group', expected: string | undefined][] = [
    ['userName is already taken in this directory', 'User', 'userName'],
    ['"active" must be a boolean, got string', 'User', 'active'],
    [`operation 1: "${ACTIVTRAK}.tracking" must be a boolean, got string`, 'User', `${ACTIVTRAK}:tracking`],
    ['operation 2: path "emails[type eq" is unclosed', 'User', 'emails'],
    ['"name.givenName" must be a string, got number', 'User', 'name.givenName'],
    ["members[0] is a group; this directory's groups hold users only", 'Group', 'members'],
    ['members: "0b5c…" is a group; this directory\'s groups hold users only', 'Group', 'members'],
    ['displayName is already taken in this directory', 'Group', 'displayName'],
    // Values quoted in a detail are never taken for attributes.
    ['"alice@contoso.example" is not a valid value', 'User', undefined],
    ['unexpected character at position 3', 'User', undefined],
  ];
  for (const [detail, type, expected] of cases) {
    it(`${type} › ${detail} › ${expected ?? 'none'}`, () => {
      assert.equal(attributeNamed(detail, schemas, type), expected);
    });
  }
});

describe('setup page › failed requests explained', () => {
  const cases: [request: ExplainedRequest, summary: RegExp, fix: RegExp][] = [
    [
      { method: 'POST', route: '/scim/v1/Users', status: 409, scimType: 'uniqueness', attribute: 'userName' },
      /Two users in Entra map to the same userName/,
      /unique/,
    ],
    [{ method: 'POST', route: '/scim/v1/Users', status: 409, scimType: 'uniqueness', attribute: 'externalId' }, /same externalId/, /mailNickname/],
    [{ method: 'POST', route: '/scim/v1/Groups', status: 409, scimType: 'uniqueness', attribute: 'displayName' }, /Two groups/, /Rename/],
    [{ method: 'POST', route: '/scim/v1/Users', status: 409, scimType: 'uniqueness', attribute: `${ACME}:badge` }, /same badge/, /unique/],
    [{ method: 'GET', route: '/scim/v1/Users', status: 401 }, /revoked or is wrong/, /Generate a new token/],
    [{ method: 'GET', route: '/scim/v1/Users', status: 400, scimType: 'invalidFilter' }, /filter/, /Matching precedence/],
    [{ method: 'PATCH', route: '/scim/v1/Groups/:id', status: 400, scimType: 'invalidValue', attribute: 'members' }, /users only/, /uncheck Group/],
    [{ method: 'PATCH', route: '/scim/v1/Users/:id', status: 400, scimType: 'invalidValue', attribute: `${ACTIVTRAK}:tracking` }, /tracking/, /type/],
    [{ method: 'PATCH', route: '/scim/v1/Users/:id', status: 400, scimType: 'invalidValue' }, /refused/, /mappings/],
    [{ method: 'PATCH', route: '/scim/v1/Users/:id', status: 400, scimType: 'invalidPath', attribute: 'nickName' }, /nickName/, /target attributes/],
    [{ method: 'PATCH', route: '/scim/v1/Users/:id', status: 400, scimType: 'mutability', attribute: 'id' }, /cannot be changed/, /Remove the mapping/],
    [{ method: 'PATCH', route: '/scim/v1/Users/:id', status: 404 }, /no longer exists/, /Restart provisioning/],
    [{ method: 'DELETE', route: '/scim/v1/Groups/:id', status: 404 }, /group to delete no longer exists/, /Nothing to do/],
    [{ method: 'GET', route: 'unmatched', status: 404 }, /address/, /Tenant URL/],
    [{ method: 'PATCH', route: '/scim/v1/Groups/:id', status: 413 }, /larger/, /limit/],
    [{ method: 'POST', route: '/scim/v1/Users', status: 429 }, /limit/, /retries/],
    [{ method: 'POST', route: '/scim/v1/Users', status: 503 }, /retries/, /repeats/],
    [{ method: 'POST', route: '/scim/v1/Users', status: 500 }, /error on its side/, /support/],
    [{ method: 'PUT', route: '/scim/v1/Users/:id', status: 412 }, /refused.*412/, /support/],
  ];
  for (const [request, summary, fix] of cases) {
    it(`${request.method} ${request.route} ${request.status} ${request.scimType ?? ''} ${request.attribute ?? ''} › explained`, () => {
      const explained = explainRequest(request, 'Entra');
      assert.match(explained?.summary ?? '', summary);
      assert.match(explained?.fix ?? '', fix);
    });
  }

  it('a success › no explanation', () => {
    for (const status of [200, 201, 204, 304]) assert.equal(explainRequest({ method: 'GET', route: '/scim/v1/Users', status }, 'Entra'), undefined);
  });

  it('another provider › its name in place of Entra, capitalised where it starts a sentence', () => {
    const explained = explainRequest({ method: 'GET', route: '/scim/v1/Users', status: 400, scimType: 'invalidFilter' }, 'the identity provider');
    assert.match(explained?.summary ?? '', /^The identity provider looked users up/);
  });
});

describe('setup page › steps', () => {
  it('every provider › the Tenant URL to copy and the token to generate, ids unique', () => {
    for (const provider of ['entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'generic']) {
      const steps = setupSteps(provider, { tenantUrl: 'https://scim.example/scim/v1', applicationName: 'Contoso' });
      assert.equal(new Set(steps.map((s) => s.id)).size, steps.length, provider);
      assert.equal(steps.find((s) => s.copy)?.copy?.value, 'https://scim.example/scim/v1', provider);
      assert.ok(
        steps.some((s) => s.action === 'generateToken'),
        provider,
      );
    }
  });
});
