/**
 * OpenTelemetry SDK bootstrap. Imported first by every process entry point so that the
 * instrumentations patch http, express, pg and ioredis before anything requires them.
 * Configured only by the standard OTEL_* variables; exports nothing over the network
 * unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER) says so.
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';

let sdk: NodeSDK | undefined;

/** Starts tracing for one process; `serviceName` is used unless OTEL_SERVICE_NAME is set. */
export function startTracing(serviceName: string): void {
  if (sdk || process.env.OTEL_SDK_DISABLED === 'true') return;
  process.env.OTEL_SERVICE_NAME ??= serviceName;
  // The SDK would default to an OTLP exporter aimed at localhost:4318; without an endpoint we
  // keep spans in-process (context propagation still works) rather than retrying a dead port.
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT && !process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    process.env.OTEL_TRACES_EXPORTER ??= 'none';
  }
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation(),
      // Spans for routers and handlers, not for every middleware layer: a SCIM request would
      // otherwise carry a dozen near-empty spans and pay for each.
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      new IORedisInstrumentation(),
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
