import { parseExtensionSchema } from '../../../../shared/scim/schema-definition';
import { ScimError } from '../../../../shared/scim/errors';

/** What the schema editor knows of its text: nothing typed yet, why it would be refused, or what it declares. */
export type SchemaCheck =
  | { readonly state: 'empty' }
  | { readonly state: 'invalid'; readonly error: string }
  | { readonly state: 'valid'; readonly body: unknown; readonly summary: string };

/**
 * Checks an extension schema as it is typed, with the very parser the API runs on a POST
 * (shared/scim/schema-definition.ts, pure TypeScript that Vite bundles), so the console and the
 * server never disagree on what is valid or on the words that say why.
 */
export function checkSchemaText(text: string): SchemaCheck {
  if (!text.trim()) return { state: 'empty' };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return { state: 'invalid', error: describeJsonError(text, e) };
  }
  try {
    const { schema, resourceType, required } = parseExtensionSchema(body);
    const count = schema.attributes.length;
    const summary = `${schema.name}: ${count} attribute${count === 1 ? '' : 's'} (${schema.attributes.map((a) => a.name).join(', ')}), for ${resourceType} resources${required ? ', required on each' : ''}.`;
    return { state: 'valid', body, summary };
  } catch (e) {
    if (e instanceof ScimError) return { state: 'invalid', error: e.detail };
    throw e;
  }
}

/** JSON.parse's message with the line and column of the fault, which V8 gives only as a character position. */
export function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const bare = message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
  // "Unexpected end of JSON input" names no position: the fault is where the text stops.
  const position = /at position (\d+)/.exec(message)?.[1] ?? (/end of (JSON )?(input|data)/i.test(message) ? text.trimEnd().length : undefined);
  if (position === undefined) return `Not valid JSON: ${bare}`;
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `Not valid JSON at line ${line}, column ${column}: ${bare}`;
}

/** The vendor guides' extension (shared/seeds: ActivTrak's Entra guide), to start from. */
export const EXAMPLE_SCHEMA = {
  id: 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User',
  name: 'ActivTrakUser',
  description: 'ActivTrak user extension',
  attributes: [
    {
      name: 'userPrincipalNames',
      type: 'complex',
      multiValued: true,
      description: "The user's principal names in Entra",
      subAttributes: [{ name: 'value', type: 'string' }],
    },
    { name: 'tracking', type: 'boolean', description: 'Whether the user is tracked' },
  ],
};
