/**
 * Tenants at once (issue 12): N customer tenants, each with one Entra directory and one webhook
 * endpoint, all running Entra's initial provisioning cycle at Entra's pace at the same time. The
 * ramp raises N step by step; each step gets fresh tenants, a fixed window of the cycle, and a
 * bounded wait for its webhooks. Reports per step offered vs achieved rate, errors, latency,
 * per-tenant fairness, webhooks delivered vs events written and CPU per request, then the largest
 * N that met every criterion. The paced clients run in forked processes of their own (this file,
 * forked); the webhook receiver runs in the bench's process. The same ramp measures the raw
 * baseline (RawTarget): the same clients against a bare server.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import type { AddressInfo, Socket } from 'node:net';
import type { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import { cpuMeter, machineMeter } from './process-cpu';
import type { LoopbackCertificate } from './webhooks';

/** The platform as deployed: its API (tenants made through the admin API), worker and webhooks. */
export interface PlatformTarget {
  readonly kind: 'platform';
  /** The API's origin, e.g. http://127.0.0.1:3901. */
  readonly apiUrl: string;
  readonly adminToken: string;
  readonly apiPid: number;
  readonly workerPid: number;
  readonly receiverTls: LoopbackCertificate;
}

/**
 * The raw baseline: the same clients against raw-scim-server.ts, one PostgreSQL statement per
 * request and nothing else, so the platform's figure can be quoted as a share of what this machine
 * gives a bare server at Entra's pace. Its tenants are bearer tokens; there are no webhooks.
 */
export interface RawTarget {
  readonly kind: 'raw';
  /** The raw server's origin. */
  readonly url: string;
  readonly pid: number;
}

export interface TenantsBenchOptions {
  readonly target: PlatformTarget | RawTarget;
  readonly pg: Client;
  /** Tenants per step, e.g. [10, 20, 30, 40, 50, 60]. */
  readonly ramp: readonly number[];
  /** The window of the cycle each step measures, in seconds. */
  readonly seconds: number;
  /** Users per tenant's cycle (default 2,000). */
  readonly users: number;
  /** Groups per tenant's cycle; every user joins one of them (default 50). */
  readonly groups: number;
  /** Requests/s each tenant offers: Entra's pace, 25. */
  readonly rate: number;
  /** Longest wait for a step's webhooks after its load, in seconds. */
  readonly drainSeconds: number;
  /** Load-generator processes the tenants are spread over. */
  readonly clients: number;
  /**
   * Their nice value. Entra does not run on the platform's machine; here its stand-in takes the
   * cycles the platform leaves rather than competing for them. Nothing is hidden by it: a request
   * the generator sends late is timed from its due time, so its lag counts against the p99.
   */
  readonly clientNice: number;
  readonly log: (s: string) => void;
}

/** The pass criteria of issue 12. */
export const CRITERIA = { achievedShare: 0.98, errors: 0, p99Ms: 500 } as const;

export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export interface TenantsStep {
  readonly tenants: number;
  readonly seconds: number;
  /** Requests scheduled in the window, and per second. */
  readonly offered: number;
  readonly offeredRps: number;
  /** 2xx answers per second, over the window or until the last answer if that came later. */
  readonly achievedRps: number;
  readonly achievedShare: number;
  /** Non-2xx answers, transport errors, deadlines missed and requests whose prerequisite failed. */
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly requestsByKind: Record<string, number>;
  readonly p50: number;
  readonly p99: number;
  /** Per-tenant achieved rate (req/s) and p99 (ms): fairness. */
  readonly tenantRps: Spread;
  readonly tenantP99: Spread;
  /**
   * p99 (ms) of the requests due in each TIMELINE_SECONDS of the step, in order: whether the step's
   * p99 comes from its first seconds (a backlog that then drains) or from all along.
   */
  readonly p99Timeline: readonly number[];
  /** How late the load generator sent, p99 over every request (ms): near 0 if it kept up. */
  readonly sendLagP99: number;
  /**
   * Connections the tenants opened, and the p99 (ms) of the requests that were the first on one.
   * A busy Node process accepts one connection per event-loop iteration (libuv 1.45 and later),
   * so a burst of new connections waits in the kernel's accept queue (BENCHMARKS.md, session 12).
   */
  readonly connections: { readonly opened: number; readonly firstRequestP99: number };
  readonly webhooks: {
    readonly written: number;
    readonly delivered: number;
    readonly missing: number;
    readonly duplicates: number;
    readonly badSignatures: number;
    readonly drainSeconds: number;
  };
  /** CPU per SCIM request from the step's start to the end of its drain, ms. */
  readonly cpuMsPerRequest: {
    readonly api: number;
    readonly worker: number;
    readonly postgres: number;
    readonly loadGenerator: number;
    /** The whole machine (/proc/stat): the four above plus Redis, the webhook receiver and the kernel. */
    readonly machine: number;
  };
  readonly passed: boolean;
  readonly failedOn: readonly string[];
}

export interface TenantsFigures {
  /** What was measured: the platform ('tenants at once') or the raw baseline. */
  readonly target: string;
  readonly rate: number;
  readonly users: number;
  readonly groups: number;
  /** The window of the cycle each step measured (BENCH_TENANTS_SECONDS, or the whole cycle if shorter). */
  readonly seconds: number;
  readonly steps: readonly TenantsStep[];
  /** The largest N among the steps that met every criterion, or 0. */
  readonly largestPassing: number;
}

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
// Entra sends its ADSCIM group schema beside the core URN (test/api/groups.test.ts).
const ADSCIM_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Connections per tenant: Entra keeps a handful; requests past them wait in the client, and that wait counts. */
const SOCKETS_PER_TENANT = 8;
/** A request not answered this long after its scheduled time is abandoned and counted as an error. */
const DEADLINE_MS = 15_000;
/** The width of the p99 timeline's windows, in seconds of the step. */
const TIMELINE_SECONDS = 5;
/** Stop the ramp after this many failing steps in a row: bigger steps cannot pass either. */
const FAILURES_TO_STOP = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const at = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? NaN : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 10) / 10;

/** The p99 of values in any order. */
const p99 = (values: readonly number[]) =>
  at(
    [...values].sort((a, b) => a - b),
    0.99,
  );

const spread = (values: readonly number[]): Spread => {
  const s = [...values].sort((a, b) => a - b);
  return { min: s[0] ?? NaN, median: s[Math.floor(s.length / 2)] ?? NaN, max: s[s.length - 1] ?? NaN };
};

// ---------------------------------------------------------------------------------------------
// The cycle: what one tenant's Entra sends, in order.

type Op =
  | { readonly kind: 'user lookup' | 'user create'; readonly user: number }
  | { readonly kind: 'group lookup' | 'group create'; readonly group: number }
  | { readonly kind: 'member add'; readonly group: number; readonly user: number };

/**
 * One tenant's cycle, the first `limit` requests of it. Entra's initial cycle looks up and creates
 * every user, then every group with one-member `Add` PATCHes. A window of minutes from the start
 * of that order would hold user requests only, so the cycle is cut into blocks with the whole
 * cycle's mix: a group's lookup and create, then its share of users (lookup, create each), then one
 * Add per each of those users. The group's create comes first so its id is back long before its
 * first Add (about 3 s at 25/s), and each user's create at least 40 requests (1.6 s) before its Add.
 */
export function cycle(users: number, groups: number, limit: number): Op[] {
  const ops: Op[] = [];
  const perGroup = Math.ceil(users / Math.max(1, groups));
  for (let g = 0; g < groups && ops.length < limit; g++) {
    ops.push({ kind: 'group lookup', group: g }, { kind: 'group create', group: g });
    const members = [];
    for (let u = g * perGroup; u < Math.min(users, (g + 1) * perGroup); u++) members.push(u);
    for (const u of members) ops.push({ kind: 'user lookup', user: u }, { kind: 'user create', user: u });
    for (const u of members) ops.push({ kind: 'member add', group: g, user: u });
  }
  return ops.slice(0, limit);
}

/** The cycle's length in requests. */
export const cycleLength = (users: number, groups: number) => 2 * groups + 3 * users;

const upn = (label: string, u: number) => `user${u + 1}@${label}.example`;
const groupName = (label: string, g: number) => `Team ${g + 1} of ${label}`;

/**
 * A create as Entra sends it with its default attribute mappings (Microsoft's "Develop and plan
 * provisioning for a SCIM endpoint" create request, plus the mapped title, phones, work address and
 * enterprise attributes): about 1.3 KB.
 */
export function entraCreateUser(label: string, u: number): string {
  const given = `Given${u + 1}`;
  const family = `Family${u + 1}`;
  const mail = upn(label, u);
  return JSON.stringify({
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: randomUUID(),
    userName: mail,
    active: true,
    displayName: `${given} ${family}`,
    nickName: `${given.toLowerCase()}.${family.toLowerCase()}`,
    userType: 'Member',
    title: 'Senior Account Manager, Strategic Enterprise Accounts',
    preferredLanguage: 'en-US',
    emails: [{ primary: true, type: 'work', value: mail }],
    meta: { resourceType: 'User' },
    name: { formatted: `${given} ${family}`, familyName: family, givenName: given },
    phoneNumbers: [
      { type: 'work', value: '+1 425 555 0100' },
      { type: 'mobile', value: '+1 425 555 0199' },
      { type: 'fax', value: '+1 425 555 0101' },
    ],
    addresses: [
      {
        type: 'work',
        formatted: '1 Contoso Way, Building 42, Floor 3, Redmond, WA 98052, US',
        streetAddress: '1 Contoso Way, Building 42, Floor 3',
        locality: 'Redmond',
        region: 'WA',
        postalCode: '98052',
        country: 'US',
        primary: true,
      },
    ],
    roles: [],
    [ENTERPRISE]: {
      employeeNumber: String(100_000 + u),
      costCenter: `CC-${4000 + (u % 40)}`,
      organization: 'Contoso Pharmaceuticals Ltd',
      division: 'Commercial Operations, Europe, Middle East and Africa',
      department: `Enterprise Sales, Region ${u % 12}`,
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The load generator (runs in a forked process).

interface TenantLoad {
  readonly index: number;
  readonly token: string;
  readonly label: string;
  /** Where in the 1/rate interval this tenant's requests fall, so tenants do not send in lockstep. */
  readonly offsetMs: number;
}

interface StepLoad {
  readonly scimUrl: string;
  readonly tenants: readonly TenantLoad[];
  readonly rate: number;
  readonly seconds: number;
  readonly users: number;
  readonly groups: number;
  /** Wall-clock ms at which every tenant's first request is due (the same in every process). */
  readonly startAt: number;
}

interface TenantRun {
  readonly index: number;
  readonly offered: number;
  readonly ok: number;
  readonly statuses: Record<string, number>;
  readonly byKind: Record<string, number>;
  /** Scheduled time to last byte, ms, for every answered request. */
  readonly latencies: number[];
  /** When each of those was due, ms after the step's start (the same order as latencies). */
  readonly dueAt: number[];
  /** Send time minus scheduled time, ms, for every request sent. */
  readonly sendLags: number[];
  /** Latencies of the requests that were the first on their connection (also in latencies). */
  readonly firstOnConnection: number[];
  /** Last answer, ms after the first request was due. */
  readonly lastAnswerMs: number;
}

/**
 * Open model: request k of a tenant is due at start + offset + k/rate, and leaves then whatever
 * earlier ones are doing (as Entra's cycles do). Latency runs from the due time, not from the send,
 * so a slow answer or a client that fell behind is counted, not hidden (coordinated omission). An
 * Add whose group or user is not created yet leaves as soon as it is, still timed from its due time.
 */
function tenantClient(step: StepLoad, t: TenantLoad, startPerf: number) {
  const base = new URL(step.scimUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS_PER_TENANT });
  const ops = cycle(step.users, step.groups, Math.round(step.rate * step.seconds));
  const latencies: number[] = [];
  const dueAt: number[] = [];
  const sendLags: number[] = [];
  const firstOnConnection: number[] = [];
  const connections = new WeakSet<Socket>();
  const statuses: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  let ok = 0;
  let lastAnswer = 0;
  const count = (status: string) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
  };
  // Ids the creates answered with: one per user and group, null when the create failed.
  interface Created {
    value?: string | null;
    readonly promise: Promise<string | null>;
    resolve(id: string | null): void;
  }
  const created = new Map<string, Created>();
  const slot = (key: string): Created => {
    const known = created.get(key);
    if (known) return known;
    let settle!: (id: string | null) => void;
    const promise = new Promise<string | null>((r) => {
      settle = r;
    });
    const entry: Created = {
      promise,
      resolve: (id) => {
        entry.value = id;
        settle(id);
      },
    };
    created.set(key, entry);
    return entry;
  };

  const request = (due: number, method: string, path: string, body: string | undefined, onAnswer?: (status: number, text: string) => void) =>
    new Promise<void>((resolve) => {
      const sentAt = performance.now();
      if (sentAt - due > DEADLINE_MS) {
        count('deadline');
        onAnswer?.(0, '');
        resolve();
        return;
      }
      const chunks: Buffer[] = [];
      let first = false;
      const req = http.request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path: base.pathname + path,
          headers: {
            Authorization: `Bearer ${t.token}`,
            'Content-Type': 'application/scim+json',
            ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          if (onAnswer) res.on('data', (c: Buffer) => chunks.push(c));
          else res.resume();
          res.once('end', () => {
            clearTimeout(deadline);
            const now = performance.now();
            latencies.push(now - due);
            if (first) firstOnConnection.push(now - due);
            dueAt.push(due - startPerf);
            lastAnswer = Math.max(lastAnswer, now - startPerf);
            const status = res.statusCode ?? 0;
            count(String(status));
            if (status >= 200 && status < 300) ok++;
            onAnswer?.(status, Buffer.concat(chunks).toString());
            resolve();
          });
        },
      );
      req.once('socket', (socket) => {
        first = !connections.has(socket);
        connections.add(socket);
      });
      const deadline = setTimeout(() => req.destroy(new Error('deadline')), Math.max(0, due + DEADLINE_MS - sentAt));
      req.once('error', (err) => {
        clearTimeout(deadline);
        count(err.message === 'deadline' ? 'deadline' : 'error');
        onAnswer?.(0, '');
        resolve();
      });
      req.end(body);
    });

  const idFrom = (status: number, text: string) => {
    if (status !== 201) return null;
    try {
      return String((JSON.parse(text) as { id: string }).id);
    } catch {
      return null;
    }
  };

  const send = (op: Op, due: number): Promise<void> => {
    byKind[op.kind] = (byKind[op.kind] ?? 0) + 1;
    switch (op.kind) {
      case 'user lookup':
        return request(due, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${upn(t.label, op.user)}"`)}`, undefined);
      case 'user create': {
        const s = slot(`u${op.user}`);
        return request(due, 'POST', '/Users', entraCreateUser(t.label, op.user), (status, text) => s.resolve(idFrom(status, text)));
      }
      case 'group lookup':
        return request(
          due,
          'GET',
          `/Groups?filter=${encodeURIComponent(`displayName eq "${groupName(t.label, op.group)}"`)}&excludedAttributes=members`,
          undefined,
        );
      case 'group create': {
        const s = slot(`g${op.group}`);
        const body = JSON.stringify({
          schemas: [GROUP_SCHEMA, ADSCIM_GROUP],
          externalId: randomUUID(),
          displayName: groupName(t.label, op.group),
          meta: { resourceType: 'Group' },
        });
        return request(due, 'POST', '/Groups', body, (status, text) => s.resolve(idFrom(status, text)));
      }
      case 'member add': {
        const g = slot(`g${op.group}`);
        const u = slot(`u${op.user}`);
        const add = (groupId: string | null, userId: string | null): Promise<void> => {
          if (!groupId || !userId) {
            count('prerequisite failed');
            return Promise.resolve();
          }
          const body = JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: userId }] }] });
          return request(due, 'PATCH', `/Groups/${groupId}`, body);
        };
        // Sent at once when both ids are back, as nearly always; otherwise when they are.
        if (g.value !== undefined && u.value !== undefined) return add(g.value, u.value);
        return Promise.all([g.promise, u.promise]).then(([groupId, userId]) => add(groupId, userId));
      }
    }
  };

  const inFlight: Promise<void>[] = [];
  const first = startPerf + t.offsetMs;
  const interval = 1000 / step.rate;
  let sent = 0;
  return {
    /** When the next request is due (performance.now() ms); Infinity once all are out. */
    nextDue: () => (sent < ops.length ? first + sent * interval : Infinity),
    /** Sends the next request, due at or before `now`; how late it leaves is the generator's own lag. */
    sendNext: (now: number) => {
      const due = first + sent * interval;
      sendLags.push(now - due);
      inFlight.push(send(ops[sent++], due));
    },
    finish: async (): Promise<TenantRun> => {
      await Promise.all(inFlight);
      agent.destroy();
      return { index: t.index, offered: ops.length, ok, statuses, byKind, latencies, dueAt, sendLags, firstOnConnection, lastAnswerMs: lastAnswer };
    },
  };
}

/** Every tenant of this process from one timer, woken when the earliest next request is due. */
async function runStepLoad(step: StepLoad): Promise<TenantRun[]> {
  const startPerf = performance.now() + (step.startAt - Date.now());
  const tenants = step.tenants.map((t) => tenantClient(step, t, startPerf));
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      let next = Infinity;
      for (const c of tenants) {
        while (c.nextDue() <= now) c.sendNext(now);
        next = Math.min(next, c.nextDue());
      }
      if (next === Infinity) resolve();
      else setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  });
  return Promise.all(tenants.map((c) => c.finish()));
}

if (require.main === module) {
  process.on('message', (step: StepLoad) => {
    void runStepLoad(step).then((runs) => process.send!(runs));
  });
  process.send!('ready');
}

interface LoadProcess {
  readonly pid: number;
  run(step: StepLoad, timeoutMs: number): Promise<TenantRun[]>;
  stop(): void;
}

/** This file, forked, as a load generator: it answers each step with its tenants' runs. */
function startLoadProcess(nice: number): Promise<LoadProcess> {
  const child: ChildProcess = fork(__filename, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (child.pid !== undefined) os.setPriority(child.pid, nice);
  return new Promise((resolve, reject) => {
    const failed = setTimeout(() => reject(new Error('the load generator did not start within 60 s')), 60_000);
    child.once('error', reject);
    child.once('message', () => {
      clearTimeout(failed);
      resolve({
        pid: child.pid!,
        run: (step, timeoutMs) =>
          new Promise<TenantRun[]>((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`a load generator gave no answer within ${timeoutMs} ms`)), timeoutMs);
            child.once('message', (runs) => {
              clearTimeout(timer);
              done(runs as TenantRun[]);
            });
            child.send(step);
          }),
        stop: () => child.kill(),
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver (in the bench's process): per tenant, every webhook-id seen and its signature checked.

interface TenantInbox {
  readonly verifier: Webhook;
  readonly seen: Map<string, number>;
  badSignatures: number;
}

async function startReceiver(tls: LoopbackCertificate) {
  const inboxes = new Map<string, TenantInbox>();
  const server = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const inbox = inboxes.get((req.url ?? '').split('/').pop() ?? '');
      if (inbox) {
        const id = String(req.headers['webhook-id'] ?? '');
        inbox.seen.set(id, (inbox.seen.get(id) ?? 0) + 1);
        try {
          inbox.verifier.verify(Buffer.concat(chunks).toString(), {
            'webhook-id': id,
            'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
            'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
          });
        } catch {
          inbox.badSignatures++;
        }
      }
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    /** Starts counting for a tenant, whose endpoint is `${url}/${tenantId}`. */
    expect: (tenantId: string, secret: string) => inboxes.set(tenantId, { verifier: new Webhook(secret), seen: new Map(), badSignatures: 0 }),
    inbox: (tenantId: string) => inboxes.get(tenantId)!,
    close: () => new Promise((r) => server.close(r)),
  };
}

// ---------------------------------------------------------------------------------------------
// The ramp.

async function admin(t: PlatformTarget, method: string, path: string, body?: unknown) {
  const res = await fetch(`${t.apiUrl}/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${t.adminToken}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, any>) : {};
}

/** Events the outbox relay has not passed yet. */
async function outboxBacklog(pg: Client): Promise<number> {
  const { rows } = await pg.query<{ n: string }>(
    `SELECT count(*) AS n FROM events e, outbox_positions p WHERE p.name = 'webhooks' AND (e.txid, e.seq) > (p.txid, p.seq)`,
  );
  return Number(rows[0].n);
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 250): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(stepMs);
  }
  return check();
}

interface StepTenant {
  readonly id: string;
  readonly load: TenantLoad;
}

/** What the ramp needs of what it measures: the platform or the raw baseline. */
interface Side {
  /** How its log lines and table are headed. */
  readonly name: string;
  readonly scimUrl: string;
  /** Metered as the API (with PostgreSQL) and as the worker. */
  readonly apiPid: number;
  readonly workerPid?: number;
  /** A fresh tenant: its id and the bearer token its client sends. */
  makeTenant(label: string): Promise<{ readonly id: string; readonly token: string }>;
  /** Before a step's load: nothing of the last step left to do. */
  settle(): Promise<void>;
  /** After it: the events the tenants' requests wrote, and the wait for their webhooks. */
  webhooks(tenantIds: readonly string[]): Promise<TenantsStep['webhooks']>;
  close(): Promise<void>;
}

async function platformSide(t: PlatformTarget, o: TenantsBenchOptions): Promise<Side> {
  const receiver = await startReceiver(t.receiverTls);
  return {
    name: 'tenants at once',
    scimUrl: `${t.apiUrl}/scim/v2`,
    apiPid: t.apiPid,
    workerPid: t.workerPid,
    // Each tenant with an Entra directory (default rate limit) and a webhook endpoint.
    async makeTenant(label) {
      const tenant = await admin(t, 'POST', '/tenants', { name: `Tenants at once ${label}` });
      const dir = await admin(t, 'POST', `/tenants/${tenant.id}/directories`, { name: `Entra ${label}`, provider: 'entra' });
      const hook = await admin(t, 'POST', `/tenants/${tenant.id}/webhooks`, { url: `${receiver.url}/${tenant.id}` });
      receiver.expect(tenant.id, hook.secret);
      return { id: tenant.id, token: dir.key.token };
    },
    settle: async () => {
      await waitFor(async () => (await outboxBacklog(o.pg)) === 0, o.drainSeconds * 1000, 500);
    },
    async webhooks(tenantIds) {
      const drainStart = Date.now();
      const { rows } = await o.pg.query<{ id: string; tenant_id: string }>(`SELECT id, tenant_id FROM events WHERE tenant_id = ANY($1::uuid[])`, [tenantIds]);
      const seen = (r: { id: string; tenant_id: string }) => receiver.inbox(r.tenant_id).seen.has(r.id);
      await waitFor(() => rows.every(seen), o.drainSeconds * 1000);
      const drainSeconds = (Date.now() - drainStart) / 1000;
      const delivered = rows.filter(seen).length;
      const inboxes = tenantIds.map((id) => receiver.inbox(id));
      const duplicates = inboxes.reduce((sum, b) => sum + [...b.seen.values()].reduce((n, c) => n + c - 1, 0), 0);
      const badSignatures = inboxes.reduce((sum, b) => sum + b.badSignatures, 0);
      return { written: rows.length, delivered, missing: rows.length - delivered, duplicates, badSignatures, drainSeconds };
    },
    close: async () => {
      await receiver.close();
    },
  };
}

function rawSide(t: RawTarget): Side {
  return {
    name: 'tenants at once, raw baseline',
    scimUrl: `${t.url}/scim/v2`,
    apiPid: t.pid,
    makeTenant: async () => {
      const id = randomUUID();
      return { id, token: id };
    },
    settle: async () => undefined,
    webhooks: async () => ({ written: 0, delivered: 0, missing: 0, duplicates: 0, badSignatures: 0, drainSeconds: 0 }),
    close: async () => undefined,
  };
}

export async function runTenantsBench(o: TenantsBenchOptions): Promise<TenantsFigures> {
  const side = o.target.kind === 'platform' ? await platformSide(o.target, o) : rawSide(o.target);
  const log = (line: string) => o.log(`${side.name}: ${line}`);
  const clients: LoadProcess[] = [];
  let made = 0;
  const makeTenants = async (n: number, stepName: string): Promise<StepTenant[]> => {
    const out: StepTenant[] = [];
    for (let i = 0; i < n; i++) {
      const label = `${stepName}-t${i + 1}-${++made}`;
      const { id, token } = await side.makeTenant(label);
      out.push({ id, load: { index: i, token, label, offsetMs: (i / n) * (1000 / o.rate) } });
    }
    return out;
  };

  const runStep = async (n: number, seconds: number, stepName: string): Promise<TenantsStep> => {
    const tenants = await makeTenants(n, stepName);
    // Each step starts with the relay caught up, the tables' statistics current (autovacuum's
    // analyze would keep them so; it is off on the bench machine, and a run with BENCH_ONLY=tenants
    // starts from empty tables, planned as such) and no dirty pages of the last one to flush.
    await side.settle();
    await o.pg.query('ANALYZE');
    await o.pg.query('CHECKPOINT');
    const meters = {
      api: cpuMeter(side.apiPid),
      worker: side.workerPid === undefined ? undefined : cpuMeter(side.workerPid),
      clients: clients.map((c) => cpuMeter(c.pid)),
      machine: machineMeter(),
    };
    const startAt = Date.now() + 1000;
    const common = { scimUrl: side.scimUrl, rate: o.rate, seconds, users: o.users, groups: o.groups, startAt };
    const runs = (
      await Promise.all(
        clients.map((c, k) =>
          c.run(
            { ...common, tenants: tenants.filter((_, i) => i % clients.length === k).map((t) => t.load) },
            (seconds + (2 * DEADLINE_MS) / 1000 + 30) * 1000,
          ),
        ),
      )
    )
      .flat()
      .sort((a, b) => a.index - b.index);

    const webhooks = await side.webhooks(tenants.map((t) => t.id));
    const { apiMs, pgMs } = meters.api();
    const workerMs = meters.worker?.().apiMs ?? 0;
    const clientMs = meters.clients.reduce((sum, m) => sum + m().apiMs, 0);
    const machineMs = meters.machine();

    const statuses: Record<string, number> = {};
    const requestsByKind: Record<string, number> = {};
    for (const r of runs) {
      for (const [k, c] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + c;
      for (const [k, c] of Object.entries(r.byKind)) requestsByKind[k] = (requestsByKind[k] ?? 0) + c;
    }
    const offered = runs.reduce((s, r) => s + r.offered, 0);
    const ok = runs.reduce((s, r) => s + r.ok, 0);
    const errors = offered - ok;
    const elapsed = (r: TenantRun) => Math.max(seconds, r.lastAnswerMs / 1000);
    const achievedRps = ok / Math.max(...runs.map(elapsed));
    const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const lags = runs.flatMap((r) => r.sendLags).sort((a, b) => a - b);
    const windows: number[][] = [];
    for (const r of runs) {
      for (let i = 0; i < r.dueAt.length; i++) (windows[Math.floor(r.dueAt[i] / (TIMELINE_SECONDS * 1000))] ??= []).push(r.latencies[i]);
    }
    const step = {
      tenants: n,
      seconds,
      offered,
      offeredRps: offered / seconds,
      achievedRps,
      achievedShare: achievedRps / (offered / seconds),
      errors,
      statuses,
      requestsByKind,
      p50: at(latencies, 0.5),
      p99: at(latencies, 0.99),
      tenantRps: spread(runs.map((r) => Math.round((r.ok / elapsed(r)) * 10) / 10)),
      tenantP99: spread(runs.map((r) => p99(r.latencies))),
      p99Timeline: Array.from(windows, (w) => p99(w ?? [])),
      sendLagP99: at(lags, 0.99),
      connections: {
        opened: runs.reduce((s, r) => s + r.firstOnConnection.length, 0),
        firstRequestP99: p99(runs.flatMap((r) => r.firstOnConnection)),
      },
      webhooks,
      cpuMsPerRequest: {
        api: apiMs / Math.max(1, offered),
        worker: workerMs / Math.max(1, offered),
        postgres: pgMs / Math.max(1, offered),
        loadGenerator: clientMs / Math.max(1, offered),
        machine: machineMs / Math.max(1, offered),
      },
    };
    const failedOn = [
      ...(step.achievedShare < CRITERIA.achievedShare ? ['rate'] : []),
      ...(step.errors > CRITERIA.errors ? ['errors'] : []),
      ...(!(step.p99 <= CRITERIA.p99Ms) ? ['p99'] : []),
      ...(step.webhooks.missing > 0 || step.webhooks.badSignatures > 0 ? ['webhooks'] : []),
    ];
    return { ...step, passed: failedOn.length === 0, failedOn };
  };

  try {
    for (let k = 0; k < Math.max(1, o.clients); k++) clients.push(await startLoadProcess(o.clientNice));
    const full = cycleLength(o.users, o.groups) / o.rate;
    const window = Math.min(o.seconds, full);
    log(
      `${o.users} users and ${o.groups} groups per tenant (a full cycle is ${cycleLength(o.users, o.groups)} requests, ${full.toFixed(0)} s at ${o.rate}/s); each step measures its first ${window.toFixed(1)} s`,
    );
    // The load generators' code, the API's and the worker's paths and the receiver are cold until then.
    log('warm-up, 2 tenants for 5 s (not counted)');
    await runStep(2, Math.min(5, o.seconds), 'warmup');

    const steps: TenantsStep[] = [];
    let failures = 0;
    for (const n of o.ramp) {
      log(`${n} tenants × ${o.rate} requests/s for ${window.toFixed(1)} s`);
      const step = await runStep(n, window, `n${n}`);
      steps.push(step);
      log(
        `${n} tenants: ${step.achievedRps.toFixed(0)}/${step.offeredRps.toFixed(0)} req/s, ${step.errors} errors, p50/p99 ${step.p50}/${step.p99} ms (by ${TIMELINE_SECONDS} s: ${step.p99Timeline.join(' ')}), ${step.connections.opened} connections opened (p99 of their first requests ${step.connections.firstRequestP99} ms), webhooks ${step.webhooks.delivered}/${step.webhooks.written}, machine CPU ${step.cpuMsPerRequest.machine.toFixed(2)} ms/req: ${step.passed ? 'passed' : `failed on ${step.failedOn.join(', ')}`}`,
      );
      failures = step.passed ? 0 : failures + 1;
      if (failures >= FAILURES_TO_STOP) {
        log(`${FAILURES_TO_STOP} failing steps in a row, the ramp stops here`);
        break;
      }
    }
    const passing = steps.filter((s) => s.passed).map((s) => s.tenants);
    return {
      target: side.name,
      rate: o.rate,
      users: o.users,
      groups: o.groups,
      seconds: window,
      steps,
      largestPassing: passing.length > 0 ? Math.max(...passing) : 0,
    };
  } finally {
    for (const c of clients) c.stop();
    await side.close();
  }
}

/** The figures as a markdown table for BENCHMARKS.md. */
export function tenantsTable(f: TenantsFigures): string {
  const s = (x: Spread, digits = 0) => `${x.min.toFixed(digits)} / ${x.median.toFixed(digits)} / ${x.max.toFixed(digits)}`;
  const rows = f.steps.map((st) => {
    const c = st.cpuMsPerRequest;
    return `| ${st.tenants} | ${st.offeredRps.toFixed(0)} | ${st.achievedRps.toFixed(0)} (${(st.achievedShare * 100).toFixed(1)} %) | ${st.errors} | ${st.p50} / ${st.p99} | ${s(st.tenantRps, 1)} | ${s(st.tenantP99)} | ${st.webhooks.delivered} / ${st.webhooks.written} (${st.webhooks.drainSeconds.toFixed(1)} s) | ${c.api.toFixed(2)} / ${c.worker.toFixed(2)} / ${c.postgres.toFixed(2)} / ${c.loadGenerator.toFixed(2)} | ${c.machine.toFixed(2)} | ${st.connections.opened} / ${st.connections.firstRequestP99} | ${st.sendLagP99} | ${st.passed ? 'yes' : `no (${st.failedOn.join(', ')})`} |`;
  });
  return [
    `| ${f.target} (${f.rate} req/s each, first ${f.seconds.toFixed(1)} s of the cycle) | offered req/s | achieved req/s | errors | p50 / p99 ms | per-tenant req/s min / median / max | per-tenant p99 ms min / median / max | webhooks delivered / written (drain) | CPU ms/req API / worker / PG / load gen | CPU ms/req, whole machine | connections opened / p99 ms of their first requests | send lag p99 ms | passed |`,
    '|---:|---:|---:|---:|---:|---|---|---|---|---:|---|---:|---|',
    ...rows,
    '',
    `largest N meeting every criterion (0 errors, ≥ ${CRITERIA.achievedShare * 100} % of the offered rate, p99 ≤ ${CRITERIA.p99Ms} ms, every webhook delivered with a valid signature): **${f.largestPassing}**`,
  ].join('\n');
}
