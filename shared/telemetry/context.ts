import { context, propagation, SpanKind, trace, type Span } from '@opentelemetry/api';

/** W3C trace context headers (`traceparent`, `tracestate`) as a plain object. */
export type TraceCarrier = Record<string, string>;

const tracer = () => trace.getTracer('scim-platform');

/**
 * The active trace context as a carrier, for storing with an event or putting in a job; undefined
 * when tracing is off. Jobs carry this beside ids, never rows.
 */
export function captureTraceContext(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
}

/**
 * Runs `work` inside a span that continues the trace in `carrier` (a job's consumer span is a
 * child of the request that caused it). Errors are recorded on the span and rethrown.
 */
export async function withSpanFrom<T>(
  carrier: TraceCarrier | null | undefined,
  name: string,
  attributes: Record<string, string | number | boolean>,
  work: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.CONSUMER,
): Promise<T> {
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  return tracer().startActiveSpan(name, { kind, attributes }, parent, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: 2, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Headers to send with an outgoing call so the receiver continues the trace. */
export function outgoingTraceHeaders(): TraceCarrier {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
