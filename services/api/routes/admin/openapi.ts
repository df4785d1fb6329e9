import { CSRF_HEADER, SESSION_COOKIE } from '../../middleware/operator-session';
import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import { adminOperations, type Operation, type ResponseDoc } from './route-catalog';
import { scimErrorShape } from './shapes';

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1) as zod writes it. */
export type JsonSchema = z.core.JSONSchema.BaseSchema;

export interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly description?: string;
  readonly schema: JsonSchema;
}

export interface MediaTypeObject {
  readonly schema?: JsonSchema;
}

export interface ResponseObject {
  readonly description: string;
  readonly headers?: Record<string, { description: string; schema: JsonSchema }>;
  readonly content?: Record<string, MediaTypeObject>;
}

export interface OperationObject {
  readonly operationId: string;
  readonly tags: string[];
  readonly summary: string;
  readonly description?: string;
  readonly parameters?: ParameterObject[];
  readonly requestBody?: { readonly required: boolean; readonly content: Record<string, MediaTypeObject> };
  readonly responses: Record<string, ResponseObject>;
}

export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { title: string; version: string; description: string };
  readonly servers: { url: string; description: string }[];
  readonly security: Record<string, string[]>[];
  readonly tags: { name: string }[];
  readonly paths: Record<string, Record<string, OperationObject>>;
  readonly components: {
    readonly securitySchemes: Record<
      string,
      { type: 'http'; scheme: 'bearer'; description: string } | { type: 'apiKey'; in: 'cookie'; name: string; description: string }
    >;
    readonly schemas: Record<string, JsonSchema>;
  };
}

export interface OpenApiOptions {
  /** External base URL (PUBLIC_BASE_URL): the document's server is `{publicBaseUrl}/admin/v1`. */
  readonly publicBaseUrl: string;
}

const JSON_TYPES = ['application/scim+json', 'application/json'] as const;
const REF_PREFIX = '#/components/schemas/';

// zod writes a regular expression beside each format (uuid, date-time) it checks, hundreds of
// characters that say what the format name says, and JavaScript's safe-integer bounds on every
// integer; neither tells a reader anything about this API.
const dropNoise = ({ jsonSchema }: { jsonSchema: JsonSchema }) => {
  if (jsonSchema.format !== undefined) delete jsonSchema.pattern;
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
};

/** Named schemas, each converted once; a second, different schema under a taken name is a bug. */
class Components {
  readonly schemas: Record<string, JsonSchema> = {};

  /**
   * `schema` as JSON Schema for one side of the API: 'input' is what a request may send (fields
   * with defaults optional), 'output' what an answer holds. Schemas named with `.meta({ id })`
   * become components (an input one gets "Input" added, as its defaults make it differ).
   */
  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const { $schema: _dialect, $defs, ...json } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', override: dropNoise });
    const suffix = io === 'input' ? 'Input' : '';
    const rename = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(rename);
      if (node === null || typeof node !== 'object') return node;
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => [
          k,
          k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\/(.+)$/, `${REF_PREFIX}$1${suffix}`) : rename(v),
        ]),
      );
    };
    for (const [name, def] of Object.entries($defs ?? {})) this.add(`${name}${suffix}`, rename(def) as JsonSchema);
    return rename(json) as JsonSchema;
  }

  add(name: string, schema: JsonSchema): { $ref: string } {
    const existing = this.schemas[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(schema)) throw new Error(`two different schemas are named "${name}"`);
    this.schemas[name] = schema;
    return { $ref: `${REF_PREFIX}${name}` };
  }
}

const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** What every admin operation may answer besides its own responses (the route's own win). */
function commonResponses(op: Operation): Record<string, string | ResponseDoc> {
  const hasBody = op.body !== undefined;
  return {
    ...(hasBody || op.query ? { 400: `The ${hasBody ? 'body' : 'query'} is invalid; the detail names every problem` } : {}),
    401: { description: 'The admin token is missing or wrong', headers: { 'WWW-Authenticate': 'Bearer realm="admin"' } },
    ...(Object.keys(op.params).length ? { 404: 'What the path names does not exist (a malformed id included)' } : {}),
    ...(hasBody ? { 413: 'The body is larger than the configured limit', 415: 'The body is not JSON' } : {}),
    429: { description: 'Too many failed authentications from this address', headers: { 'Retry-After': 'Seconds to wait' } },
    '5XX': 'The platform failed (500), or PostgreSQL is unavailable (503, with Retry-After)',
  };
}

/** Status codes in order, ranges such as 5XX after the codes they cover. */
const byStatus = ([a]: [string, unknown], [b]: [string, unknown]) => a.replace(/X/g, '9').localeCompare(b.replace(/X/g, '9'));

function responseObject(status: string, doc: string | ResponseDoc, components: Components, error: { $ref: string }): ResponseObject {
  const { description, schema, mediaType, headers } = typeof doc === 'string' ? { description: doc } : doc;
  const isError = status.startsWith('4') || status.startsWith('5');
  const body = schema ? components.convert(schema, 'output') : isError ? error : undefined;
  const content = body ? { [mediaType ?? JSON_TYPES[0]]: { schema: body } } : mediaType ? { [mediaType]: {} } : undefined;
  return {
    description,
    ...(headers
      ? { headers: Object.fromEntries(Object.entries(headers).map(([name, text]) => [name, { description: text, schema: { type: 'string' as const } }])) }
      : {}),
    ...(content ? { content } : {}),
  };
}

function parameters(op: Operation, components: Components): ParameterObject[] {
  const path: ParameterObject[] = [...op.path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => {
    const doc = op.params[name];
    return { name, in: 'path', required: true, description: doc.description, schema: components.convert(doc.schema ?? z.string(), 'input') };
  });
  if (!op.query) return path;
  const query = components.convert(op.query, 'input');
  const required = new Set(query.required ?? []);
  const fields = Object.entries(query.properties ?? {}) as [string, JsonSchema][];
  return [
    ...path,
    ...fields.map(
      ([name, { description, ...schema }]): ParameterObject => ({
        name,
        in: 'query',
        required: required.has(name),
        ...(description ? { description } : {}),
        schema,
      }),
    ),
  ];
}

function operationObject(op: Operation, components: Components, error: { $ref: string }): OperationObject {
  const params = parameters(op, components);
  const body = op.body && components.add(`${capitalised(op.operationId)}Request`, components.convert(op.body, 'input'));
  const responses = Object.entries({ ...commonResponses(op), ...op.responses } as Record<string, string | ResponseDoc>)
    .sort(byStatus)
    .map(([status, doc]) => [status, responseObject(status, doc, components, error)] as const);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: { required: !op.bodyOptional, content: Object.fromEntries(JSON_TYPES.map((t) => [t, { schema: body }])) } } : {}),
    responses: Object.fromEntries(responses),
  };
}

/**
 * The admin API's OpenAPI 3.1 document, from the operations declared on `router` (route-catalog.ts)
 * and their zod schemas: the ones that validate requests, and the shapes of the answers.
 */
export function buildOpenApiDocument(router: Router, options: OpenApiOptions): OpenApiDocument {
  const components = new Components();
  const paths: Record<string, Record<string, OperationObject>> = {};
  const tags: string[] = [];
  const ids = new Set<string>();
  // The error schema first, where a reader of the components looks for it.
  const error = components.convert(scimErrorShape, 'output') as { $ref: string };
  for (const op of adminOperations(router)) {
    if (ids.has(op.operationId)) throw new Error(`operationId "${op.operationId}" is declared twice`);
    ids.add(op.operationId);
    if (!tags.includes(op.tag)) tags.push(op.tag);
    paths[op.path] ??= {};
    paths[op.path][op.method] = operationObject(op, components, error);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'SCIM Platform admin API',
      version: '1',
      description:
        "The operator's API: tenants, directories and their keys, extension schemas, webhooks and their deliveries, the events feed, audit exports and reconciliation. Every answer is JSON (application/scim+json); every error is a SCIM error.",
    },
    servers: [{ url: `${options.publicBaseUrl}/admin/v1`, description: 'This platform' }],
    security: [{ adminToken: [] }, { operatorSession: [] }],
    tags: tags.map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'The operator secret, ADMIN_TOKEN' },
        operatorSession: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `The console's session, from POST /admin/session {"token": ADMIN_TOKEN}; requests other than GET and HEAD must also send its csrfToken in ${CSRF_HEADER}`,
        },
      },
      schemas: components.schemas,
    },
  };
}

/**
 * GET /admin/v1/openapi.json. Public, without the admin token: the document describes the API's
 * shape, which /docs publishes anyway, and holds no tenant, directory, key or secret; tools that
 * generate clients or render it can fetch it without the operator's secret.
 */
export function openApiRoute(document: () => OpenApiDocument): RequestHandler {
  let json: string | undefined;
  return (_req, res) => {
    json ??= JSON.stringify(document());
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    // The same for the life of the process; a redeploy may change it, so caches revalidate.
    res.setHeader('Cache-Control', 'no-cache');
    res.send(json);
  };
}
