/**
 * The webhook and worker figures: sustained SCIM writes with every webhook delivered to a local receiver
 * (missing, duplicates, commit → receiver lag, outbox backlog over time, worker RSS); a
 * 50,000-member group replace (time to store, time until every per-member webhook is out); and a
 * 1,000,000-event audit export (time, worker peak RSS). Everything on loopback, bounded in time.
 */
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'pg';
import autocannon from 'autocannon';
import { peakRssMiB, rssMiB, rssSampler } from './process-memory';
import { UUID_V7 } from '../../shared/db/sql';

export interface WebhookBenchOptions {
  readonly apiUrl: string;
  readonly adminToken: string;
  readonly pg: Client;
  readonly workerPid: number;
  readonly rate: number;
  readonly seconds: number;
  readonly groupSize: number;
  readonly exportEvents: number;
  readonly receiverTls: LoopbackCertificate;
  readonly log: (s: string) => void;
}

/** A self-signed certificate for 127.0.0.1: the worker runs with production's https-only policy. */
export interface LoopbackCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Makes one with openssl; the worker trusts it through NODE_EXTRA_CA_CERTS=certFile. */
export function makeLoopbackCertificate(): LoopbackCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scim-bench-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}

interface Received {
  at: number;
  lagMs: number;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A webhook receiver on https://127.0.0.1 that answers 200 and remembers every webhook-id it saw. */
async function startReceiver(tls: LoopbackCertificate) {
  const seen = new Map<string, Received[]>();
  const server = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      let lagMs = NaN;
      try {
        lagMs = Date.now() - Date.parse(JSON.parse(Buffer.concat(chunks).toString()).timestamp);
      } catch {
        /* counted as a delivery all the same */
      }
      const list = seen.get(id) ?? [];
      list.push({ at: Date.now(), lagMs });
      seen.set(id, list);
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { seen, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, close: () => new Promise((r) => server.close(r)) };
}

async function admin(o: WebhookBenchOptions, method: string, path: string, body?: unknown) {
  const res = await fetch(`${o.apiUrl}/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${o.adminToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, any>) : {};
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 250): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(stepMs);
  }
  return false;
}

async function backlog(pg: Client): Promise<number> {
  const { rows } = await pg.query<{ n: string }>(
    `SELECT count(*) AS n FROM events e, outbox_positions p WHERE p.name = 'webhooks' AND (e.txid, e.seq) > (p.txid, p.seq)`,
  );
  return Number(rows[0].n);
}

export async function runWebhookBench(o: WebhookBenchOptions) {
  const receiver = await startReceiver(o.receiverTls);
  try {
    const tenant = await admin(o, 'POST', '/tenants', { name: 'Webhook bench' });
    const dir = await admin(o, 'POST', `/tenants/${tenant.id}/directories`, { name: 'Entra', provider: 'entra' });
    // The figure is delivery under 500 writes/s, five times the default limit: lifted, as for the throughput scenarios.
    await admin(o, 'PATCH', `/directories/${dir.id}`, { rateLimit: { requestsPerSecond: 100_000, burst: 100_000 } });
    await admin(o, 'POST', `/tenants/${tenant.id}/webhooks`, { url: receiver.url });
    const token = dir.key.token as string;
    const scim = `${o.apiUrl}/scim/v2`;

    // 1. Sustained writes at a fixed rate, every one a webhook.
    o.log(`webhooks: ${o.rate} POST /Users per second for ${o.seconds} s`);
    let n = 0;
    const backlogSeries: number[] = [];
    const sampler = setInterval(() => {
      backlog(o.pg).then(
        (b) => backlogSeries.push(b),
        () => undefined,
      );
    }, 1000);
    const workerRss = rssSampler(o.workerPid);
    const load = await autocannon({
      url: scim,
      connections: 50,
      overallRate: o.rate,
      duration: o.seconds,
      requests: [
        {
          method: 'POST',
          path: '/scim/v2/Users',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ userName: `hook${++n}@bench.example`, active: true }) }),
        },
      ],
    });
    const written = await o.pg.query<{ id: string }>(`SELECT id FROM events WHERE tenant_id = $1 AND type = 'user.created'`, [tenant.id]);
    const expected = new Set(written.rows.map((r) => r.id));
    const drained = await waitFor(() => [...expected].every((id) => receiver.seen.has(id)), 120_000);
    clearInterval(sampler);
    const workerRssDuring = workerRss();
    const lags = [...expected].flatMap(
      (id) =>
        receiver.seen
          .get(id)
          ?.slice(0, 1)
          .map((r) => r.lagMs) ?? [],
    );
    const missing = [...expected].filter((id) => !receiver.seen.has(id)).length;
    const duplicates = [...expected].reduce((acc, id) => acc + Math.max(0, (receiver.seen.get(id)?.length ?? 0) - 1), 0);
    const sustained = {
      requested: `${o.rate}/s × ${o.seconds} s`,
      achievedRps: load.requests.average,
      writes: expected.size,
      non2xx: load.non2xx,
      delivered: expected.size - missing,
      missing,
      duplicates,
      drained,
      lagP50Ms: percentile(lags, 50),
      lagP99Ms: percentile(lags, 99),
      backlogMax: Math.max(0, ...backlogSeries),
      backlogSeries,
      workerRssMiB: workerRssDuring,
      workerPeakRssMiB: peakRssMiB(o.workerPid),
    };
    o.log(`webhooks: ${JSON.stringify({ ...sustained, backlogSeries: undefined })}`);

    // 2. A group replaced with groupSize members at once.
    o.log(`webhooks: group replace of ${o.groupSize} members`);
    await o.pg.query(
      `INSERT INTO scim_users (directory_id, id, tenant_id, user_name, data)
       SELECT $1, gen_random_uuid(), $2, 'member' || n || '@bench.example', jsonb_build_object('userName', 'member' || n || '@bench.example')
         FROM generate_series(1, $3) AS n`,
      [dir.id, tenant.id, o.groupSize],
    );
    const members = await o.pg.query<{ id: string }>(`SELECT id FROM scim_users WHERE directory_id = $1 AND user_name LIKE 'member%'`, [dir.id]);
    const group = (await (
      await fetch(`${scim}/Groups`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
        body: JSON.stringify({ displayName: 'Everyone' }),
      })
    ).json()) as { id: string };
    const t0 = Date.now();
    const put = await fetch(`${scim}/Groups/${group.id}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
      body: JSON.stringify({ displayName: 'Everyone', members: members.rows.map((m) => ({ value: m.id })) }),
    });
    const storedMs = Date.now() - t0;
    const added = await o.pg.query<{ id: string }>(`SELECT id FROM events WHERE tenant_id = $1 AND type = 'group.user_added' AND resource_id = $2`, [
      tenant.id,
      group.id,
    ]);
    const allOut = await waitFor(() => added.rows.every((r) => receiver.seen.has(r.id)), 600_000, 500);
    const replace = {
      members: o.groupSize,
      status: put.status,
      storeMs: storedMs,
      events: added.rows.length,
      allDelivered: allOut,
      untilAllOutMs: Date.now() - t0,
    };
    o.log(`webhooks: ${JSON.stringify(replace)}`);

    // 3. An audit export of exportEvents events.
    o.log(`export: ${o.exportEvents} events`);
    const exportTenant = await admin(o, 'POST', '/tenants', { name: 'Export bench' });
    const exportDir = await admin(o, 'POST', `/tenants/${exportTenant.id}/directories`, { name: 'Okta', provider: 'okta' });
    await o.pg.query(
      `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data, occurred_at)
       SELECT ${UUID_V7}, $1, $3, 'user.updated', 'User', gen_random_uuid(),
              jsonb_build_object('resource', jsonb_build_object('userName', 'u' || n || '@x.example', 'active', true), 'changedAttributes', jsonb_build_array('title')),
              timestamptz '2026-01-01' + (n || ' seconds')::interval
         FROM generate_series(1, $2) AS n`,
      [exportTenant.id, o.exportEvents, exportDir.id],
    );
    // A tenth of the range first, then all of it: flat memory means the same RSS for both.
    const exportRange = async (events: number) => {
      const rssBefore = rssMiB(o.workerPid);
      const sampling = rssSampler(o.workerPid);
      const e0 = Date.now();
      const to = new Date(Date.parse('2026-01-01T00:00:00Z') + events * 1000 + 500).toISOString();
      const started = await admin(o, 'POST', `/tenants/${exportTenant.id}/exports`, { from: '2026-01-01T00:00:00Z', to });
      let status: Record<string, any> = started;
      await waitFor(
        async () => {
          status = await admin(o, 'GET', `/tenants/${exportTenant.id}/exports/${started.id}`);
          return status.status === 'done' || status.status === 'failed';
        },
        900_000,
        500,
      );
      const figures = {
        events,
        status: status.status,
        seconds: (Date.now() - e0) / 1000,
        eventCount: status.eventCount,
        bytes: status.bytes,
        workerRssMiBBefore: rssBefore,
        workerRssMiBDuring: sampling(),
      };
      o.log(`export: ${JSON.stringify(figures)}`);
      return figures;
    };
    const exported = [await exportRange(Math.floor(o.exportEvents / 10)), await exportRange(o.exportEvents)];
    return { sustained, replace, exported };
  } finally {
    await receiver.close();
  }
}
