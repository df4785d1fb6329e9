/**
 * OpenTelemetry SDK bootstrap. Imported first by every process entry point so that the
 * instrumentations patch http, express, pg and ioredis before anything requires them.
 * Configured only by the standard OTEL_* variables.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';

let sdk: NodeSDK | undefined;

/** Probes and scrapes arrive every few seconds and say nothing about a change; no spans for them. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Span attributes must carry no secrets or PII. SCIM filters name users
 * (`filter=userName eq "…"`) and a webhook URL may embed a token, so query strings are recorded
 * with parameter names only.
 */
function namesOnly(query: string): string {
  return [...new URLSearchParams(query).keys()].map((k) => `${k}=REDACTED`).join('&');
}

/**
 * Starts tracing for one process; `serviceName` is used unless OTEL_SERVICE_NAME is set.
 * Only when spans have somewhere to go (OTEL_EXPORTER_OTLP_ENDPOINT, or an explicit
 * OTEL_TRACES_EXPORTER): the instrumentations' patching and context propagation cost CPU on
 * every request even when nothing is recorded, which is waste with no reader (BENCHMARKS.md).
 */
export function startTracing(serviceName: string): void {
  if (sdk || process.env.OTEL_SDK_DISABLED === 'true') return;
  const exporting =
    Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ||
    (process.env.OTEL_TRACES_EXPORTER !== undefined && process.env.OTEL_TRACES_EXPORTER !== 'none');
  if (!exporting) return;
  process.env.OTEL_SERVICE_NAME ??= serviceName;
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  // Required here, not imported at the top: a process that exports nothing never loads the SDK
  // (and never holds its memory).
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation, ExpressLayerType } =
    require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0]),
        // The hooks' attributes replace the defaults of the same name.
        startIncomingSpanHook: (req) => {
          const query = (req.url ?? '').split('?')[1];
          return query ? { 'url.query': namesOnly(query) } : {};
        },
        startOutgoingSpanHook: (options) => {
          const [path, query] = (options.path ?? '/').split('?');
          if (!query) return {};
          const origin = `${options.protocol ?? 'http:'}//${options.hostname ?? options.host ?? 'localhost'}${options.port ? `:${options.port}` : ''}`;
          return { 'url.full': `${origin}${path}?${namesOnly(query)}` };
        },
      }),
      // Spans for routers and handlers, not for every middleware layer: a SCIM request would
      // otherwise carry a dozen near-empty spans and pay for each.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      // Statement text only (values are always bind parameters), never the values; and only
      // inside a request or job, not for the relay's idle polling.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
      // The default serializer records arguments of most commands (job payloads, keys); the
      // command name is enough to read a trace.
      new IORedisInstrumentation({ dbStatementSerializer: (command) => command }),
    ],
  });
  sdk.start();
}

/** Flushes and stops the SDK; safe to call twice. */
export async function stopTracing(): Promise<void> {
  const current = sdk;
  sdk = undefined;
  await current?.shutdown();
}
