import { escapeHtml as e } from './html';
import type { JsonSchema, OpenApiDocument, OperationObject, ResponseObject } from './admin/openapi';

// The Admin API part of /docs, rendered from the OpenAPI document: the same data a client
// generator reads, so the page cannot drift from the routes. Plain HTML, every string escaped.

const REF_PREFIX = '#/components/schemas/';
const refName = (s: JsonSchema) => (typeof s.$ref === 'string' && s.$ref.startsWith(REF_PREFIX) ? s.$ref.slice(REF_PREFIX.length) : undefined);
const schemaLink = (name: string) => `<a href="#schema-${e(name)}">${e(name)}</a>`;
const json = (v: unknown) => e(JSON.stringify(v));
/** Prose from the document: escaped, with its `code` spans (CommonMark, as OpenAPI writes them) as <code>. */
const prose = (s: string) => e(s).replace(/`([^`]+)`/g, '<code>$1</code>');
/** A field's description, then its limits: "Events per page (1–1000; default 100)". */
const notesOf = (description: string | undefined, constraints: readonly string[]) =>
  [description ? prose(description) : '', constraints.length ? `(${constraints.join('; ')})` : ''].filter(Boolean).join(' ');

interface Row {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly notes: string;
}

class Renderer {
  constructor(private readonly doc: OpenApiDocument) {}

  private resolve(s: JsonSchema): JsonSchema {
    const name = refName(s);
    return name ? (this.doc.components.schemas[name] ?? s) : s;
  }

  /** A schema's type in words; named schemas as links when `link`, else looked into. */
  typeOf(s: JsonSchema, link: boolean): string {
    const name = refName(s);
    if (name && link) return schemaLink(name);
    const t = this.resolve(s);
    if (t.anyOf) {
      const variants = t.anyOf as JsonSchema[];
      const nonNull = variants.filter((v) => v.type !== 'null');
      const types = nonNull.map((v) => this.typeOf(v, link)).join(' or ');
      return nonNull.length < variants.length ? `${types} or null` : types;
    }
    if (t.const !== undefined) return json(t.const);
    if (t.enum) return `one of ${(t.enum as unknown[]).map(json).join(', ')}`;
    const types = Array.isArray(t.type) ? t.type : t.type ? [t.type] : [];
    const words = types.map((type) => {
      if (type === 'array') {
        if (t.prefixItems) return `[${(t.prefixItems as JsonSchema[]).map((p) => this.typeOf(p, link)).join(', ')}]`;
        return t.items && typeof t.items === 'object' ? `array of ${this.typeOf(t.items as JsonSchema, link)}` : 'array';
      }
      return type === 'string' && t.format ? `string (${e(t.format)})` : e(type);
    });
    return words.length ? words.join(' or ') : 'any JSON value';
  }

  /** Limits and default of a schema (and of the non-null side of a nullable one), in words. */
  constraintsOf(s: JsonSchema): string[] {
    const t = this.resolve(s);
    const nonNull = (t.anyOf as JsonSchema[] | undefined)?.filter((v) => v.type !== 'null');
    const inner = nonNull?.length === 1 ? this.resolve(nonNull[0]) : t;
    const range = (min: unknown, max: unknown, unit = '') => {
      const of = (n: unknown) => (unit ? `${n} ${unit}${n === 1 ? '' : 's'}` : String(n));
      if (min !== undefined && max !== undefined) return min === max ? `exactly ${of(max)}` : `${min}–${of(max)}`;
      return min !== undefined ? `at least ${of(min)}` : max !== undefined ? `at most ${of(max)}` : undefined;
    };
    return [
      range(inner.minLength, inner.maxLength, 'character'),
      range(inner.minimum, inner.maximum),
      range(inner.minItems, inner.maxItems, 'item'),
      // A format (uuid, date-time) says it better than its regular expression.
      inner.pattern && !inner.format ? `matches <code>${e(inner.pattern)}</code>` : undefined,
      t.default !== undefined ? `default ${json(t.default)}` : inner.default !== undefined ? `default ${json(inner.default)}` : undefined,
    ].filter((c): c is string => c !== undefined);
  }

  /** One row per field, nested objects flattened as `a.b` and `a[].b`; `link` keeps named schemas as links. */
  rows(s: JsonSchema, link: boolean, prefix = ''): Row[] {
    const t = this.resolve(s);
    if (t.anyOf) {
      const objects = (t.anyOf as JsonSchema[]).map((v) => this.resolve(v)).filter((v) => v.properties);
      if (objects.length > 1) {
        return objects.flatMap((v, i) => this.rows(v, link, prefix).map((r) => ({ ...r, notes: `Form ${i + 1} of ${objects.length}: ${r.notes}` })));
      }
      if (objects.length === 1) return this.rows(objects[0], link, prefix);
    }
    const required = new Set((t.required as string[] | undefined) ?? []);
    return Object.entries((t.properties ?? {}) as Record<string, JsonSchema>).flatMap(([name, prop]) => {
      const notes = notesOf(prop.description, this.constraintsOf(prop));
      const row: Row = { name: `${prefix}${name}`, type: this.typeOf(prop, link), required: required.has(name), notes };
      const inner = this.nested(prop, link);
      return [row, ...(inner ? this.rows(inner.schema, link, `${prefix}${name}${inner.marker}.`) : [])];
    });
  }

  /**
   * The object inside a field (itself, its non-null side, or its items), to flatten; none when
   * it is a named schema and `link` (the link says where its fields are).
   */
  private nested(prop: JsonSchema, link: boolean): { schema: JsonSchema; marker: string } | undefined {
    const expand = (s: JsonSchema) => !(link && refName(s)) && this.resolve(s).properties !== undefined;
    const nonNull = (this.resolve(prop).anyOf as JsonSchema[] | undefined)?.filter((v) => v.type !== 'null');
    const field = nonNull?.length === 1 ? nonNull[0] : prop;
    if (expand(field)) return { schema: field, marker: '' };
    const { type, items } = this.resolve(field);
    if (type === 'array' && items && typeof items === 'object' && expand(items as JsonSchema)) return { schema: items as JsonSchema, marker: '[]' };
    return undefined;
  }

  table(rows: readonly Row[]): string {
    const body = rows.map((r) => `<tr><td><code>${e(r.name)}</code></td><td>${r.type}</td><td>${r.required ? 'yes' : 'no'}</td><td>${r.notes}</td></tr>`);
    return `<table>\n<tr><th>field</th><th>type</th><th>required</th><th>notes</th></tr>\n${body.join('\n')}\n</table>`;
  }
}

/** Responses every operation has alike (401, 429, 5XX), said once at the top instead of per operation. */
function sharedResponses(operations: readonly OperationObject[]): Map<string, string> {
  const [first, ...rest] = operations;
  const shared = new Map<string, string>();
  for (const [status, r] of Object.entries(first?.responses ?? {})) {
    if (rest.every((op) => op.responses[status]?.description === r.description)) shared.set(status, r.description);
  }
  return shared;
}

function responseItem(status: string, r: ResponseObject, render: Renderer): string {
  const [mediaType, media] = Object.entries(r.content ?? {})[0] ?? [];
  const body = media?.schema ? `: ${render.typeOf(media.schema, true)}` : mediaType ? ` (${e(mediaType)})` : '';
  const headers = Object.keys(r.headers ?? {});
  return `<li><code>${e(status)}</code> ${prose(r.description)}${body}${headers.length ? `; headers ${headers.map((h) => `<code>${e(h)}</code>`).join(', ')}` : ''}</li>`;
}

function operationHtml(method: string, path: string, op: OperationObject, base: string, shared: Map<string, string>, render: Renderer): string {
  const parts = [`<h4 id="op-${e(op.operationId)}"><code>${e(method.toUpperCase())} ${e(base + path)}</code></h4>`, `<p>${prose(op.summary)}.</p>`];
  if (op.description) parts.push(`<p>${prose(op.description)}</p>`);
  if (op.parameters?.length) {
    const rows = op.parameters.map((p) => ({
      name: p.name,
      type: `${render.typeOf(p.schema, true)} (${p.in})`,
      required: p.required,
      notes: notesOf(p.description, render.constraintsOf(p.schema)),
    }));
    parts.push('<p>Parameters:</p>', render.table(rows));
  }
  if (op.requestBody) {
    const schema = Object.values(op.requestBody.content)[0]?.schema;
    parts.push(`<p>Body (JSON${op.requestBody.required ? '' : ', optional'}):</p>`);
    if (schema) parts.push(render.table(render.rows(schema, false)));
  }
  const own = Object.entries(op.responses).filter(([status]) => !shared.has(status));
  parts.push(`<p>Responses:</p>\n<ul>\n${own.map(([status, r]) => responseItem(status, r, render)).join('\n')}\n</ul>`);
  return parts.join('\n');
}

/**
 * The "Admin API" section of /docs: every operation (method, path, summary, parameters, body
 * fields with their types and limits, responses), then the shapes the answers refer to.
 */
export function adminApiHtml(doc: OpenApiDocument, openApiUrl: string): string {
  const render = new Renderer(doc);
  const base = new URL(doc.servers[0].url).pathname;
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const shared = sharedResponses(operations.map((o) => o.op));
  const sections = doc.tags.map(({ name }) => {
    const ops = operations.filter((o) => o.op.tags.includes(name));
    return `<h3>${e(name)}</h3>\n${ops.map((o) => operationHtml(o.method, o.path, o.op, base, shared, render)).join('\n')}`;
  });
  const answers = Object.entries(doc.components.schemas)
    .filter(([name]) => !/(Request|Input)$/.test(name))
    .map(([name, s]) => {
      const rows = render.rows(s, true);
      return `<h4 id="schema-${e(name)}">${e(name)}</h4>\n${s.description ? `<p>${prose(s.description)}</p>\n` : ''}${rows.length ? render.table(rows) : `<p>${render.typeOf(s, false)}</p>`}`;
    });
  return `<h2>Admin API</h2>
<p>Operators manage tenants, directories, keys, extension schemas, webhooks and exports under
<code>${e(doc.servers[0].url)}</code>, with <code>Authorization: Bearer $ADMIN_TOKEN</code>. Bodies are
JSON (<code>application/scim+json</code> or <code>application/json</code>); every error answer is a SCIM error
(${schemaLink('ScimError')}). The same description, as an OpenAPI 3.1 document:
<a href="${e(openApiUrl)}"><code>${e(openApiUrl)}</code></a>.</p>
<p>Any operation may also answer:</p>
<ul>
${[...shared].map(([status, description]) => `<li><code>${e(status)}</code> ${prose(description)}</li>`).join('\n')}
</ul>
${sections.join('\n')}
<h3>Shapes of the answers</h3>
${answers.join('\n')}`;
}
