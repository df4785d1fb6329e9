/**
 * How an admin route is declared. `adminRoute` registers the Express handler and records the
 * route's OpenAPI operation in the same call, so /admin/v1/openapi.json (and the Admin API part
 * of /docs) is built from what is served and cannot drift from it. test/api/openapi.test.ts fails
 * for a route registered on the admin router any other way.
 *
 * A route, in a router that app.ts mounts with `admin.use(...)` (setup-links.ts is a small,
 * complete example):
 *
 *   const createLink = z.object({ expiresInDays: z.number().int().min(1).max(30).default(7) });
 *
 *   adminRoute(router, {
 *     method: 'post',
 *     path: '/directories/{directoryId}/setup-links',   // OpenAPI style; Express gets :directoryId
 *     operationId: 'createSetupLink',                    // unique in the document
 *     tag: 'Directories',
 *     summary: "Create a setup link for the customer's IT admin",
 *     params: { directoryId: PATH_PARAMS.directoryId }, // one per {name} in the path; tsc checks it
 *     load: ({ directoryId }) => directoryOr404(tenants, directoryId),
 *     body: createLink,
 *     responses: { 201: { description: 'The link, with its URL', schema: createdSetupLinkShape } },
 *   }, async ({ loaded: directory, body }, _req, res) => {
 *     sendScim(res, 201, await linksOf(directory).create(body.expiresInDays));
 *   });
 *
 * - `load` (optional) runs first: what the path names is looked up (404) before the body or
 *   query is validated (400), whatever the body holds. The handler gets its result as `loaded`.
 * - `query` and `body` are zod schemas; the handler gets them parsed, and a failure is the admin
 *   API's 400 invalidValue naming every problem (validate.ts). A body validated by a hand-written
 *   parser is `{ schema, parse }`: the schema documents, the parser decides.
 * - `responses`: a description string, or `{ description, schema?, mediaType?, headers? }`. 4xx and
 *   5xx answers carry the SCIM error body. 400 (with a body or query), 401, 404 (with path
 *   parameters), 413 and 415 (with a body), 429 and 5XX are added unless the route describes them.
 *   Response schemas document, they do not check at run time; name a new one with
 *   `.meta({ id })` (see shapes.ts), and call the route in openapi.test.ts's walk through every
 *   operation, which checks the real answer against it.
 */
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { parseBody } from './validate';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The names of a path template's parameters: '/tenants/{tenantId}/x/{xId}' → 'tenantId' | 'xId'. */
export type PathParams<P extends string> = P extends `${string}{${infer Name}}${infer Rest}` ? Name | PathParams<Rest> : never;

export interface ParamDoc {
  readonly description: string;
  /** What the parameter looks like. Default: any string. */
  readonly schema?: z.ZodType;
}

/** A body checked by a hand-written parser (with its own messages); `schema` only documents it. */
export interface ParsedBody<T> {
  readonly schema: z.ZodType;
  readonly parse: (body: unknown) => T;
}

export type BodySpec<T> = z.ZodType<T> | ParsedBody<T>;

export interface ResponseDoc {
  readonly description: string;
  /** The JSON body. Default for 4xx and 5xx: the SCIM error; otherwise no body. */
  readonly schema?: z.ZodType;
  /** Default application/scim+json. A non-JSON body (a download) has no schema. */
  readonly mediaType?: string;
  /** Response headers: name → description. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Status code (or '5XX') → what the route answers with it. */
export type ResponseDocs = Readonly<Partial<Record<number | '5XX', string | ResponseDoc>>>;

interface RouteSpecBase<P extends string, B, Q, L> {
  readonly method: HttpMethod;
  /** The path under /admin/v1, parameters as `{name}`. */
  readonly path: P;
  readonly operationId: string;
  /** The section of the document (and of /docs) the operation is listed under. */
  readonly tag: string;
  readonly summary: string;
  /** Longer text, when the summary is not enough. */
  readonly description?: string;
  /** Looks up what the path names before the query and body are read; the handler gets it as `loaded`. */
  readonly load?: (params: Readonly<Record<PathParams<P>, string>>) => Promise<L>;
  readonly query?: z.ZodType<Q>;
  readonly body?: BodySpec<B>;
  readonly responses: ResponseDocs;
}

/** `params` is required exactly when the path has parameters, with one entry each. */
type ParamsField<P extends string> = [PathParams<P>] extends [never]
  ? { readonly params?: undefined }
  : { readonly params: { readonly [K in PathParams<P>]: ParamDoc } };

export type RouteSpec<P extends string, B = undefined, Q = undefined, L = undefined> = RouteSpecBase<P, B, Q, L> & ParamsField<P>;

export interface RouteInput<P extends string, B, Q, L> {
  readonly params: Readonly<Record<PathParams<P>, string>>;
  readonly loaded: L;
  readonly query: Q;
  readonly body: B;
}

export type RouteHandler<P extends string, B, Q, L> = (input: RouteInput<P, B, Q, L>, req: Request, res: Response) => Promise<void> | void;

/** A registered route's description, as the OpenAPI builder reads it. */
export interface Operation {
  readonly method: HttpMethod;
  readonly path: string;
  readonly operationId: string;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly params: Readonly<Record<string, ParamDoc>>;
  readonly query?: z.ZodType;
  /** The schema that documents the body (a zod body is its own). */
  readonly body?: z.ZodType;
  /** Whether a request without a body is accepted (the admin API reads a missing body as {}). */
  readonly bodyOptional: boolean;
  readonly responses: ResponseDocs;
}

/** Path parameters most admin routes share. */
export const PATH_PARAMS = {
  tenantId: { description: "The tenant's id", schema: z.uuid() },
  directoryId: { description: "The directory's id", schema: z.uuid() },
} as const satisfies Record<string, ParamDoc>;

// Express's Route objects → their operation: a side table, so what Express dispatches and what is
// documented are one registration. Weak: an app that is dropped takes its entries with it.
const operations = new WeakMap<object, Operation>();

const PARAM = /\{([^}]+)\}/g;

/** '/tenants/{tenantId}' → '/tenants/:tenantId'. */
export const toExpressPath = (path: string) => path.replace(PARAM, ':$1');
/** '/tenants/:tenantId' → '/tenants/{tenantId}'. */
export const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const isZod = (body: BodySpec<unknown>): body is z.ZodType => body instanceof z.ZodType;

/** Whether `{}` (what a missing body is read as) passes the body's check. */
function acceptsEmpty(body: BodySpec<unknown>): boolean {
  if (isZod(body)) return body.safeParse({}).success;
  try {
    body.parse({});
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers `handler` on `router` for the spec's method and path, and records the operation.
 * Checked when registered: the path's parameters and `params` name the same things.
 */
export function adminRoute<const P extends string, B = undefined, Q = undefined, L = undefined>(
  router: Router,
  spec: RouteSpec<P, B, Q, L>,
  handler: RouteHandler<P, B, Q, L>,
): void {
  const inPath = [...spec.path.matchAll(PARAM)].map((m) => m[1]).sort();
  const documented = Object.keys(spec.params ?? {}).sort();
  if (inPath.join() !== documented.join()) {
    throw new TypeError(`adminRoute ${spec.method.toUpperCase()} ${spec.path}: params documents [${documented}], the path has [${inPath}]`);
  }
  const { body, query, load } = spec;
  const route = router.route(toExpressPath(spec.path));
  route[spec.method](async (req: Request, res: Response) => {
    const params = req.params as Record<PathParams<P>, string>;
    const loaded = (load ? await load(params) : undefined) as L;
    const parsedQuery = (query ? parseBody(query, req.query) : undefined) as Q;
    const parsedBody = (body === undefined ? undefined : isZod(body) ? parseBody(body, req.body) : body.parse(req.body)) as B;
    await handler({ params, loaded, query: parsedQuery, body: parsedBody }, req, res);
  });
  operations.set(route, {
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    tag: spec.tag,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    params: spec.params ?? {},
    ...(query ? { query } : {}),
    ...(body ? { body: isZod(body) ? body : body.schema } : {}),
    bodyOptional: body === undefined || acceptsEmpty(body),
    responses: spec.responses,
  });
}

/** A route as Express holds it: method and path, and its operation when adminRoute declared it. */
export interface RegisteredRoute {
  readonly method: string;
  /** OpenAPI style: '/tenants/{tenantId}'. */
  readonly path: string;
  readonly operation?: Operation;
}

interface Layer {
  readonly route?: { readonly path: unknown; readonly methods: Record<string, boolean> };
  readonly handle: { readonly stack?: readonly Layer[] };
  readonly rawPath?: unknown;
  readonly slash?: boolean;
}

/**
 * Every route of `router` and the routers mounted in it, in registration order. Mount paths are
 * prefixed; a router mounted at a pattern (not a plain path) cannot be documented and throws.
 */
export function registeredRoutes(router: Router, prefix = ''): RegisteredRoute[] {
  const stack = (router as unknown as { stack: readonly Layer[] }).stack;
  return stack.flatMap((layer): RegisteredRoute[] => {
    if (layer.route) {
      const path = prefix + toOpenApiPath(String(layer.route.path));
      const operation = operations.get(layer.route);
      return Object.keys(layer.route.methods)
        .filter((m) => m !== '_all')
        .map((method) => ({ method, path, ...(operation?.method === method ? { operation } : {}) }));
    }
    if (!layer.handle.stack) return []; // middleware (auth, body parsing)
    const mount = layer.slash || layer.rawPath === undefined ? '' : layer.rawPath;
    if (typeof mount !== 'string') throw new TypeError(`a router mounted at ${String(mount)} cannot be documented; mount it at a plain path`);
    return registeredRoutes(layer.handle as unknown as Router, prefix + toOpenApiPath(mount === '/' ? '' : mount));
  });
}

/** The declared operations of `router` (and its mounted routers), in registration order. */
export function adminOperations(router: Router): Operation[] {
  return registeredRoutes(router).flatMap((r) => (r.operation ? [r.operation] : []));
}
