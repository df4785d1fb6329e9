/**
 * Shared pieces of the property-based (fast-check) suites in test/fuzz: how long and with which
 * seed they run, and the arbitraries they draw inputs from.
 *
 * Every property runs `FUZZ_RUNS` inputs (default: the count its file names) and stops early,
 * as a pass, after its time budget, so the fuzz suite stays bounded on a busy machine. The seed
 * is random per run and printed with any failure (fast-check's message says `seed` and `path`);
 * replay a failure with it:
 *
 *   FUZZ_SEED=1234567 FUZZ_RUNS=500 DATABASE_URL=… npm test -- test/fuzz/filter
 */
import fc from 'fast-check';

/** fast-check parameters for one property: `runs` inputs at most, `budgetMs` of wall time at most. */
export function fuzzParameters<T>(runs: number, budgetMs: number): fc.Parameters<T> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff);
  const numRuns = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : runs;
  return {
    seed,
    numRuns,
    // A fixed seed replays exactly; without one a long budget would only add flakiness in CI.
    plugins: process.env.FUZZ_SEED ? [] : [fc.interruptAfterTimeLimit(budgetMs)],
    // A shrunk counterexample is worth a few seconds more, not a minute.
    endOnFailure: false,
    verbose: 1,
    // The failed assertion in the message itself: node's test reporter does not print `cause`.
    includeErrorInReport: true,
  };
}

/** Characters that have broken parsers before: quotes, escapes, brackets, separators, odd spaces. */
const STRUCTURAL_CHARS = ['"', '\\', '[', ']', '(', ')', '.', ':', '%', "'", ' ', '\t', '\n', '\u2028', '\ufeff', '\u{1F680}', 'é', 'İ', 'ß'];
/** What PostgreSQL cannot store in text or jsonb: NUL and lone UTF-16 surrogates. */
const POISON_CHARS = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff'];

const cleanChar = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.constantFrom(...STRUCTURAL_CHARS) },
);

/**
 * Any string, weighted towards the characters that break things; one in ten carries a NUL or a
 * lone surrogate somewhere, so that the rest get past the body checks to the code behind them.
 */
export const hostileString = (maxLength = 40) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.string({ unit: cleanChar, maxLength }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.string({ unit: cleanChar, maxLength: maxLength - 1 }), fc.constantFrom(...POISON_CHARS), fc.nat())
        .map(([text, poison, at]) => text.slice(0, at % (text.length + 1)) + poison + text.slice(at % (text.length + 1))),
    },
  );

/** An object key: mostly a hostile string, sometimes a name every JavaScript object inherits. */
export const hostileKey = fc.oneof(
  { weight: 6, arbitrary: hostileString(12) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'toString', 'valueOf', 'constructor', 'hasOwnProperty', 'length', 'toJSON') },
);

/** Numbers JSON can carry, the extremes included (1e308, -0, 2^53+1, tiny fractions). */
export const edgeNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1e308, -1e308, 5e-324, 2 ** 53 + 1, -(2 ** 63), 1.5, 2147483648),
);

/** A JSON value whose leaves lean towards hostile strings and edge numbers. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString(),
    edgeNumber,
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom('True', 'False', 'true', ''),
    // Objects whose keys shadow what String() and template literals call.
    fc.constantFrom({ toString: 1 }, { valueOf: 'x', toString: null }, { toJSON: 1 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

// Attribute names and paths a directory actually has (core, enterprise, the values Entra sends),
// and a few it does not.
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const USER_PATHS = [
  'userName',
  'displayName',
  'nickName',
  'title',
  'active',
  'externalId',
  'preferredLanguage',
  'locale',
  'timezone',
  'userType',
  'name',
  'name.givenName',
  'name.familyName',
  'name.formatted',
  'emails',
  'emails.value',
  'emails[type eq "work"].value',
  'emails[type eq "work"]',
  'emails[primary eq true].value',
  'emails[value co "@"]',
  'phoneNumbers[type eq "mobile"].value',
  'phoneNumbers',
  'addresses[type eq "work"].streetAddress',
  'addresses[type eq "work"].postalCode',
  'addresses',
  'roles',
  'roles[primary eq "True"].value',
  'entitlements',
  'x509Certificates',
  'groups',
  'id',
  'meta',
  'meta.created',
  'schemas',
  `${ENTERPRISE}:employeeNumber`,
  `${ENTERPRISE}:department`,
  `${ENTERPRISE}:manager`,
  `${ENTERPRISE}:manager.value`,
  `${ENTERPRISE}.manager`,
  `manager[value eq "x"]`,
  ENTERPRISE,
  'shoeSize',
  'name.nickname',
  'emails[type eq "work"',
  'emails[type eq "work"].nope',
  'emails[]',
  '[',
  '.',
];
export const GROUP_PATHS = [
  'displayName',
  'externalId',
  'members',
  'members.value',
  'members[value eq "x"]',
  'members[display eq "x"]',
  'members[value ne "x"]',
  'members[type eq "User"].value',
  'id',
  'meta',
  'schemas',
  'nope',
  'members[',
  'members[value eq "x"].display',
];

const opName = fc.oneof(
  { weight: 18, arbitrary: fc.constantFrom('add', 'replace', 'remove', 'Add', 'Replace', 'Remove', 'ADD') },
  { weight: 1, arbitrary: hostileString(8) },
  { weight: 1, arbitrary: hostileJson },
);

/** A value as Entra sends it for a path: strings, "True"/"False", value arrays, objects. */
const entraValue = (ids: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: hostileString() },
    { weight: 2, arbitrary: fc.constantFrom('True', 'False', true, false, null, '', 1, 1e308, -0.5) },
    { weight: 1, arbitrary: fc.constantFrom(...ids) },
    {
      weight: 2,
      arbitrary: fc.array(
        fc.record(
          {
            value: fc.oneof(fc.constantFrom(...ids), hostileString()),
            type: fc.constantFrom('work', 'home', 'mobile'),
            primary: fc.constantFrom(true, 'True', false),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
    },
    { weight: 1, arbitrary: fc.record({ value: fc.oneof(fc.constantFrom(...ids), hostileString()) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: hostileJson },
  );

/**
 * A PatchOp body: mostly Entra-shaped (known paths, capitalised ops, path-less replace whose keys
 * are paths), sometimes random JSON in any position. `ids` are ids worth referring to (members,
 * manager).
 */
export function patchBody(paths: readonly string[], ids: readonly string[]): fc.Arbitrary<unknown> {
  // A value path whose filter value is a JSON string literal: escapes (\u0000, \ud800) that no
  // body check sees, since they are decoded by the filter lexer.
  const valuePath = fc
    .tuple(
      fc.constantFrom('emails', 'phoneNumbers', 'addresses', 'roles', 'members'),
      fc.constantFrom('type', 'value', 'display'),
      hostileString(10),
      fc.constantFrom('', '.value', '.display', '.type'),
    )
    .map(([attribute, sub, value, tail]) => `${attribute}[${sub} eq ${JSON.stringify(value)}]${tail}`);
  const path = fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom(...paths, ...ids.map((id) => `members[value eq "${id}"]`)) },
    { weight: 3, arbitrary: valuePath },
    { weight: 1, arbitrary: hostileString(30) },
  );
  const operation = fc.oneof(
    { weight: 12, arbitrary: fc.record({ op: opName, path, value: entraValue(ids) }) },
    { weight: 2, arbitrary: fc.record({ op: opName, path }) },
    { weight: 3, arbitrary: fc.record({ op: opName, value: fc.dictionary(path, entraValue(ids), { minKeys: 1, maxKeys: 3 }) }) },
    { weight: 1, arbitrary: hostileJson },
  );
  return fc.oneof(
    {
      weight: 16,
      arbitrary: fc.record({
        schemas: fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']),
        Operations: fc.array(operation, { minLength: 1, maxLength: 3 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ schemas: hostileJson, Operations: hostileJson, operations: fc.array(operation, { maxLength: 2 }) }, { requiredKeys: [] }),
    },
    { weight: 1, arbitrary: hostileJson },
  );
}

/**
 * A resource body: a valid core (schemas and `required`, e.g. a fresh userName) under the resource
 * type's real attributes with hostile values, plus random extras; sometimes random JSON.
 */
export function resourceBody(schemaUrn: string, attributes: readonly string[], required: string): fc.Arbitrary<unknown> {
  const value = fc.oneof({ weight: 3, arbitrary: hostileString() }, { weight: 2, arbitrary: hostileJson });
  const valued = fc.dictionary(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...attributes) }, { weight: 1, arbitrary: hostileKey }), value, { maxKeys: 4 });
  const schemas = fc.oneof({ weight: 8, arbitrary: fc.constantFrom([schemaUrn], [schemaUrn, ENTERPRISE]) }, { weight: 1, arbitrary: hostileJson });
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(schemas, fc.uuid(), valued).map(([declared, id, body]) => ({ schemas: declared, [required]: `fuzz-${id}`, ...body })) },
    { weight: 1, arbitrary: hostileJson },
  );
}

/** A request body as text: JSON of `body`, or something that is not JSON at all. */
export const bodyText = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 18, arbitrary: body.map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: hostileString(60) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        '[1,',
        '{"a":1}}',
        '\ufeff{}',
        'nul',
        '1e99999',
        '"\\ud800"',
        `${'['.repeat(5000)}${']'.repeat(5000)}`,
        '{"userName":"\\u0000"}',
      ),
    },
  );

const percentEscape = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`) },
  { weight: 2, arbitrary: fc.constantFrom('%', '%z', '%zz', '%E2%82', '%ED%A0%80', '%C0%AF', '%F0%9F%9A', '%2e', '%2E%2e', '%00', '%2F', '%25', '%FF') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }).map((s) => encodeURIComponent(s)) },
);

/** A URL component: ASCII, latin-1 bytes sent raw, percent-escapes good and bad, dots. */
export const urlPiece = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: fc.string({ unit: fc.constantFrom(..."abcXYZ019-_~!$&'()*+,;=:@".split('')), minLength: 1, maxLength: 6 }) },
      { weight: 3, arbitrary: percentEscape },
      { weight: 1, arbitrary: fc.constantFrom('.', '..', 'é', '\u00ff', '\u0085') },
    ),
    { maxLength: 5 },
  )
  .map((parts) => parts.join(''));
