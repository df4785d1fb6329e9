import pino from 'pino';
import { trace } from '@opentelemetry/api';
import { config } from '../config';

/**
 * JSON logs. Every line carries the active trace and span ids; callers add `directory.id`,
 * `job.id` and the like through child loggers. Keys, secrets and SCIM bodies are never logged.
 */
export const logger = pino({
  level: config.LOG_LEVEL,
  base: undefined,
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  mixin() {
    const span = trace.getActiveSpan();
    if (!span) return {};
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  },
  redact: { paths: ['req.headers.authorization', '*.token', '*.secret'], censor: '[redacted]' },
});

export type Logger = typeof logger;
