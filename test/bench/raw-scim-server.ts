/**
 * The raw baseline of tenants at once (BENCH_ONLY=raw or raw-paced): the least a server that keeps what
 * Entra sends must do per request, on this machine. A bare node:http server whose every request is
 * one PostgreSQL statement on a pool (over the same Unix socket as the API) and a small JSON
 * answer: a lookup by name, an insert of the parsed body, an insert of a membership. No framework,
 * authentication, validation, event, queue or webhook. The bearer token stands for the tenant.
 */
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS raw_resources (
    tenant text NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(), name text NOT NULL, body jsonb NOT NULL,
    PRIMARY KEY (tenant, id), UNIQUE (tenant, name));
  CREATE TABLE IF NOT EXISTS raw_members (tenant text NOT NULL, group_id uuid NOT NULL, user_id uuid NOT NULL, PRIMARY KEY (tenant, group_id, user_id))`;

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

function answer(res: http.ServerResponse, status: number, body?: unknown) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/scim+json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(method: string, url: URL, tenant: string, body: string, res: http.ServerResponse) {
  if (method === 'GET') {
    const { rows } = await pool.query('SELECT id FROM raw_resources WHERE tenant = $1 AND name = $2', [tenant, url.searchParams.get('filter')]);
    return answer(res, 200, { schemas: [LIST], totalResults: rows.length, Resources: rows });
  }
  const resource = JSON.parse(body) as Record<string, unknown>;
  if (method === 'POST') {
    const name = String(resource.userName ?? resource.displayName);
    const { rows } = await pool.query<{ id: string }>('INSERT INTO raw_resources (tenant, name, body) VALUES ($1, $2, $3) RETURNING id', [tenant, name, body]);
    return answer(res, 201, { ...resource, id: rows[0].id });
  }
  const member = (resource.Operations as { value: { value: string }[] }[])[0].value[0].value;
  await pool.query('INSERT INTO raw_members (tenant, group_id, user_id) VALUES ($1, $2, $3)', [tenant, url.pathname.split('/').pop(), member]);
  return answer(res, 204);
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const tenant = (req.headers.authorization ?? '').slice('Bearer '.length);
    handle(req.method ?? 'GET', new URL(req.url ?? '/', 'http://raw'), tenant, Buffer.concat(chunks).toString(), res).catch((err: Error) =>
      answer(res, 500, { detail: err.message }),
    );
  });
});
server.keepAliveTimeout = 60_000;

pool.query(SCHEMA).then(
  () => server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready')),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
