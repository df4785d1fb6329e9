/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1 for end-to-end tests: accepts POST /v1/traces in
 * both encodings the SDK speaks (http/json and http/protobuf) and keeps every span, flattened.
 * The protobuf side is a small wire-format reader for the few fields the tests look at
 * (by the field numbers of OTLP's trace messages), so no generated code is needed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  readonly service: string;
  /** Hex, 32 characters. */
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface OtlpReceiver {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT (the SDK appends /v1/traces). */
  readonly endpoint: string;
  readonly spans: readonly ReceivedSpan[];
  /** Content types of the export requests received, e.g. application/json. */
  readonly contentTypes: ReadonlySet<string>;
  /** Resolves once `predicate` holds for the spans so far; rejects after `timeoutMs`. */
  waitUntil(predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      contentTypes.add(type);
      try {
        if (type === 'application/json') {
          spans.push(...fromJson(JSON.parse(body.toString('utf8'))));
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
        } else if (type === 'application/x-protobuf') {
          spans.push(...fromProtobuf(body));
          res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
        } else {
          res.writeHead(415).end();
        }
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    waitUntil: async (predicate, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: condition not met after ${timeoutMs} ms (${spans.length} spans)`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

// ----- http/json -----

interface JsonKeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function fromJson(request: {
  resourceSpans?: Array<{
    resource?: { attributes?: JsonKeyValue[] };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: JsonKeyValue[] }> }>;
  }>;
}): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const service = String(jsonAttributes(rs.resource?.attributes)['service.name'] ?? '');
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        service,
        traceId: s.traceId.toLowerCase(),
        spanId: s.spanId.toLowerCase(),
        parentSpanId: (s.parentSpanId ?? '').toLowerCase(),
        name: s.name,
        kind: s.kind,
        attributes: jsonAttributes(s.attributes),
      })),
    );
  });
}

// ----- http/protobuf: just enough of the wire format -----

interface Field {
  readonly no: number;
  readonly varint?: bigint;
  readonly bytes?: Buffer;
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    switch (key & 7) {
      case 0:
        out.push({ no, varint: varint() });
        break;
      case 1:
        out.push({ no, bytes: buf.subarray(pos, pos + 8) });
        pos += 8;
        break;
      case 2: {
        const len = Number(varint());
        out.push({ no, bytes: buf.subarray(pos, pos + len) });
        pos += len;
        break;
      }
      case 5:
        out.push({ no, bytes: buf.subarray(pos, pos + 4) });
        pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
  }
  return out;
}

const sub = (list: Field[], no: number) => list.filter((f) => f.no === no && f.bytes).map((f) => fields(f.bytes!));
const text = (list: Field[], no: number) => list.find((f) => f.no === no)?.bytes?.toString('utf8') ?? '';
const hex = (list: Field[], no: number) => list.find((f) => f.no === no)?.bytes?.toString('hex') ?? '';

/** KeyValue {1 key, 2 AnyValue {1 string, 2 bool, 3 int, 4 double}}. */
function pbAttributes(list: Field[][]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list) {
    const [value] = sub(kv, 2);
    if (!value) continue;
    const s = value.find((f) => f.no === 1);
    const b = value.find((f) => f.no === 2);
    const i = value.find((f) => f.no === 3);
    const d = value.find((f) => f.no === 4);
    if (s?.bytes) out[text(kv, 1)] = s.bytes.toString('utf8');
    else if (b?.varint !== undefined) out[text(kv, 1)] = b.varint !== 0n;
    else if (i?.varint !== undefined) out[text(kv, 1)] = Number(BigInt.asIntN(64, i.varint));
    else if (d?.bytes) out[text(kv, 1)] = d.bytes.readDoubleLE(0);
  }
  return out;
}

/**
 * ExportTraceServiceRequest {1 ResourceSpans}; ResourceSpans {1 Resource {1 attributes},
 * 2 ScopeSpans {2 Span}}; Span {1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 9 attributes}.
 */
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  return sub(fields(body), 1).flatMap((rs) => {
    const [resource] = sub(rs, 1);
    const service = String(pbAttributes(resource ? sub(resource, 1) : [])['service.name'] ?? '');
    return sub(rs, 2).flatMap((ss) =>
      sub(ss, 2).map((s) => ({
        service,
        traceId: hex(s, 1),
        spanId: hex(s, 2),
        parentSpanId: hex(s, 4),
        name: text(s, 5),
        kind: Number(s.find((f) => f.no === 6)?.varint ?? 0n),
        attributes: pbAttributes(sub(s, 9)),
      })),
    );
  });
}
