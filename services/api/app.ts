import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request } from 'express';
import { trace } from '@opentelemetry/api';
import type { Repositories } from '../../shared/db/repositories';
import type { AuthChangeListener } from '../../shared/db/auth-changes';
import type { DirectoryContext } from '../../shared/provisioning/context';
import type { Logger } from '../../shared/telemetry/logger';
import type { Queue } from 'bullmq';
import type { ExportStorage } from '../../shared/exports';
import type { AuditExportJob, GroupReconcileJob, DeliveryQueue } from '../../shared/queue/catalog';
import type { RedisClient } from '../../shared/queue/redis';
import { directoryResolver, type DirectoryPrincipal } from './directory-resolver';
import { bearerAuth } from './middleware/auth';
import { authThrottle, type AuthThrottleOptions } from './middleware/auth-throttle';
import { directoryRateLimit, overLimitGate, type DirectoryRateLimitOptions } from './middleware/rate-limit';
import { errorHandler, notFoundHandler } from './middleware/errors';
import { trackRouteTemplates } from './middleware/metrics';
import { parseQueryOnce, rejectMalformedUrl } from './middleware/query';
import { operatorSessions } from './middleware/operator-session';
import { logDirectory, requestLog } from './middleware/request-log';
import { scimJson, sendScim } from './middleware/scim-json';
import { declaredLengthLimit } from './middleware/declared-length';
import { securityHeaders } from './middleware/security-headers';
import { directoryRoutes } from './routes/admin/directories';
import { exportRoutes } from './routes/admin/exports';
import { buildOpenApiDocument, type OpenApiDocument, openApiRoute } from './routes/admin/openapi';
import { reconcileRoutes } from './routes/admin/reconcile';
import { schemaRoutes } from './routes/admin/schemas';
import { setupLinkRoutes } from './routes/admin/setup-links';
import { tenantRoutes } from './routes/admin/tenants';
import { webhookRoutes } from './routes/admin/webhooks';
import { bulkRoutes } from './routes/bulk';
import { discoveryRoutes, DOCS_PATH } from './routes/discovery';
import { docsPage } from './routes/docs';
import { healthRoutes } from './routes/health';
import { queuesDashboard } from './routes/queues-dashboard';
import { resourceRoutes } from './routes/resources';
import { setupRoutes } from './routes/setup';
import { webPages } from './routes/web-pages';
import { type ScimActivityRecorder, scimActivityObserver } from './scim-activity';

export interface AppOptions {
  /** The data layer (shared/db/repositories): bound repositories, never the database itself. */
  readonly repos: Repositories;
  readonly logger: Logger;
  /** Operator secret for /admin/v1; without one the admin API answers 401 to everyone. */
  readonly adminToken?: string;
  /** External base URL, e.g. https://api.example.com (no trailing slash). */
  readonly publicBaseUrl: string;
  readonly region: string;
  readonly maxPayloadBytes: number;
  readonly maxPageSize: number;
  readonly maxBulkOperations: number;
  /** Operations one PATCH may carry. Default 1,000. */
  readonly maxPatchOperations?: number;
  /** Lets the API cache resolved keys safely (see directory-resolver.ts). Default: no cache. */
  readonly authChanges?: AuthChangeListener;
  /** Producers of the worker queues (server.ts builds them). Without them, routes that queue work answer 503. */
  readonly queues?: {
    readonly auditExport?: Queue<AuditExportJob>;
    readonly groupReconcile?: Queue<GroupReconcileJob>;
    readonly webhookDelivery?: DeliveryQueue;
  };
  /** The queues' Redis connection; /readyz checks it. Default: none (/readyz checks PostgreSQL only). */
  readonly redis?: RedisClient;
  /** Where audit exports are read for download; the worker writes the same store. Default: none (downloads answer 503). */
  readonly exportStorage?: ExportStorage;
  /** Per-directory SCIM request limits (middleware/rate-limit.ts). Default: none; server.ts always sets them. */
  readonly rateLimits?: Omit<DirectoryRateLimitOptions, 'logger'>;
  /** Failed authentications per client address (middleware/auth-throttle.ts). Default: 20 a minute, counted in this process. */
  readonly authThrottle?: AuthThrottleOptions;
  /** Express's `trust proxy`: which proxies' X-Forwarded-For gives the client address. Default false (the socket's address). */
  readonly trustProxy?: boolean | number | string;
  /**
   * Gathers answered SCIM requests for the setup page's status (scim-activity.ts); server.ts
   * builds it and closes it after the last request. Default: none (nothing is recorded).
   */
  readonly activity?: ScimActivityRecorder;
  /** The traces UI the console links to. Default: none. */
  readonly tracesUiUrl?: string;
  /** The built browser pages (routes/web-pages.ts). Default: dist/web. */
  readonly webRoot?: string;
}

/** The API as a `node:http` request listener (supertest and server.ts take it alike). */
export type ApiHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Builds the API: the over-limit gate in front of the Express app. Never listens (server.ts
 * does).
 */
export function createApp(options: AppOptions): ApiHandler {
  const { repos, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', options.trustProxy ?? false);
  parseQueryOnce(app);
  trackRouteTemplates(app);
  const headers = securityHeaders({ hsts: options.publicBaseUrl.startsWith('https:') });
  app.use((_req, res, next) => {
    headers(res);
    next();
  });
  const resolveDirectory = directoryResolver({ operator: repos.operator, logger, changes: options.authChanges });
  const rateLimit = options.rateLimits && directoryRateLimit({ ...options.rateLimits, logger });
  app.use(requestLog(logger, options.activity && scimActivityObserver(options.activity)));
  app.use(declaredLengthLimit(options.maxPayloadBytes));
  app.use(rejectMalformedUrl);

  // One count per address across SCIM, /admin/v1 and the queue dashboard.
  const throttle = authThrottle(options.authThrottle);

  const limits = { maxPageSize: options.maxPageSize, maxPatchOperations: options.maxPatchOperations ?? 1000 };
  // Built once per request: routes ask for it for the projection and again for the service.
  const contexts = new WeakMap<Request, DirectoryContext>();
  const contextOf = (req: Request): DirectoryContext => {
    let ctx = contexts.get(req);
    if (!ctx) contexts.set(req, (ctx = buildContext(req)));
    return ctx;
  };
  const buildContext = (req: Request): DirectoryContext => {
    const principal = (req as Request & { directory: DirectoryPrincipal }).directory;
    // baseUrl is /scim/v1/Users inside a resource router: the alias the client used is echoed back.
    const version = /^\/scim\/v1(\/|$)/.test(req.baseUrl) ? 'v1' : 'v2';
    return {
      repos: repos.forDirectory({ tenantId: principal.tenantId, directoryId: principal.directoryId }),
      schemas: principal.schemas,
      actor: `api_key:${principal.keyId}`,
      baseUrl: `${options.publicBaseUrl}/scim/${version}`,
      limits,
    };
  };

  const scim = express.Router();
  scim.use(
    bearerAuth({
      realm: 'scim',
      property: 'directory',
      resolve: resolveDirectory,
      throttle,
      onAuthenticated: (req, principal) => {
        trace.getActiveSpan()?.setAttributes({ 'tenant.id': principal.tenantId, 'directory.id': principal.directoryId });
        logDirectory(req, principal.directoryId);
      },
    }),
  );
  // After authentication (the limit is the directory's) and before the body is parsed.
  if (rateLimit) scim.use(rateLimit);
  scim.use(scimJson({ limit: options.maxPayloadBytes }));
  scim.use('/Users', resourceRoutes('User', contextOf));
  scim.use('/Groups', resourceRoutes('Group', contextOf));
  scim.use('/Bulk', bulkRoutes(contextOf, options.maxBulkOperations));
  // After the resources: a router at '/' is entered by every request that reaches it.
  scim.use(
    discoveryRoutes(contextOf, { maxPageSize: options.maxPageSize, maxBulkOperations: options.maxBulkOperations, maxPayloadBytes: options.maxPayloadBytes }),
  );
  // The Tenant URL customers paste into Entra (scimUrl) ends in /scim/v1; other SCIM 2.0 clients
  // use /scim/v2. Same API. Mounted first: nearly all traffic is SCIM, and every layer before it
  // is a path test per request.
  app.use('/scim/v2', scim);
  app.use('/scim/v1', scim);

  // /healthz, /readyz and /metrics, without auth (see routes/health.ts for why that is safe).
  for (const [path, handler] of Object.entries(healthRoutes({ postgres: repos.operator.health, redis: options.redis, logger }))) app.get(path, handler);

  // The operator signs in once for the console, the queue dashboard and /admin/v1 alike.
  const sessions = operatorSessions({
    adminToken: options.adminToken,
    secureCookie: options.publicBaseUrl.startsWith('https:'),
    throttle,
    links: { traces: options.tracesUiUrl },
  });
  app.use('/admin', sessions.routes);
  const admin = express.Router();
  admin.use(sessions.authenticate);
  admin.use(scimJson({ limit: options.maxPayloadBytes }));
  admin.use(tenantRoutes({ repos }));
  const onAuthChange = async () => {
    resolveDirectory.invalidate();
    await options.authChanges?.barrier();
  };
  admin.use(directoryRoutes({ repos, region: options.region, scimUrl: `${options.publicBaseUrl}/scim/v1`, onAuthChange }));
  admin.use(schemaRoutes({ tenants: repos.operator.tenants, schemas: repos.operator.extensionSchemas, onAuthChange }));
  admin.use(setupLinkRoutes({ repos, setupPageUrl: `${options.publicBaseUrl}/setup` }));
  admin.use(exportRoutes({ repos, storage: options.exportStorage, queue: options.queues?.auditExport }));
  admin.use(reconcileRoutes({ repos, queue: options.queues?.groupReconcile }));
  admin.use(webhookRoutes({ repos, queue: () => options.queues?.webhookDelivery }));
  // Described from the routes declared on `admin`, when first asked for (building it takes tens
  // of ms, which every createApp would pay). Public (routes/admin/openapi.ts says why), so
  // mounted before the admin router, whose token check would answer first.
  let adminApiDocument: OpenApiDocument | undefined;
  const adminApi = () => (adminApiDocument ??= buildOpenApiDocument(admin, { publicBaseUrl: options.publicBaseUrl }));
  app.get('/admin/v1/openapi.json', openApiRoute(adminApi));
  // ServiceProviderConfig's documentationUri, public like the discovery it describes.
  app.get(DOCS_PATH, docsPage({ publicBaseUrl: options.publicBaseUrl, limits: options, adminApi }));
  app.use('/admin/v1', admin);

  // The setup page's API for a customer's IT admin, authenticated by a setup link's secret and
  // scoped to that link's directory. Links are looked up on every request (never cached), so a
  // revoked or expired one is refused at once; failures count against the same throttle.
  const setup = express.Router();
  setup.use(
    bearerAuth({
      realm: 'setup',
      property: 'setupLink',
      resolve: (secret) => repos.operator.setupLinks.resolve(secret),
      rejectedDetail: 'this setup link is unknown, expired or revoked; ask for a new one',
      throttle,
      onAuthenticated: (req, link) => logDirectory(req, link.directoryId),
    }),
  );
  setup.use(scimJson({ limit: options.maxPayloadBytes }));
  setup.use(setupRoutes({ repos, tenantUrl: `${options.publicBaseUrl}/scim/v1`, onAuthChange }));
  app.use('/setup/v1', setup);
  // Every queue the API was given, on bull-board, behind the same admin token.
  const dashboardQueues = Object.values(options.queues ?? {}).filter((q): q is Queue => q !== undefined);
  if (dashboardQueues.length > 0) {
    app.use('/admin/queues', queuesDashboard({ queues: dashboardQueues, sessions, logger }));
  }

  // The setup page and the console, with their assets (services/web, built by npm run build).
  app.use(webPages({ root: options.webRoot }));

  app.use(notFoundHandler({ publicBaseUrl: options.publicBaseUrl }));
  app.use(errorHandler(logger));
  if (!rateLimit) return app;
  // In front of Express: a directory over its limit must not cost its neighbours the routing.
  const gate = overLimitGate({ cached: resolveDirectory.cached, limit: rateLimit, headers });
  return (req, res) => {
    if (!gate(req, res)) app(req, res);
  };
}

export { sendScim };
