/**
 * `npm start` as a newcomer meets it, the real script as a child process: while its ports are
 * taken (by sockets really listening, then by a first `npm start`) it must stop before it touches
 * anything: no database created, no key minted, no dist/ rebuilt. A restart keeps the demo key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { portsInUse } from '../../infra/scripts/ports';
import { config } from '../../shared/config';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis';
import { onServer } from '../support/private-database';

const root = path.resolve(__dirname, '..', '..');
const EXIT_BOUND_MS = 20_000;

/** A server listening as the API and the worker do (every address); close() in after(). */
function listenAnywhere(): Promise<net.Server & { port: number }> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(0, () => resolve(Object.assign(server, { port: (server.address() as net.AddressInfo).port })));
  });
}

const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

interface StartRun {
  readonly pid: number;
  output(): string;
  /** Resolves with the exit code once it exits; SIGKILLs its process group after `boundMs`. */
  exited(boundMs?: number): Promise<number | null>;
  /** Its process group (the script, the API and the worker) gets SIGKILL; safe to call twice. */
  kill(): void;
}

/**
 * Starts `npm start`'s script with `env`, in a process group of its own, so that a test that
 * fails half-way can still end the API and worker it spawned.
 */
function spawnStart(env: Record<string, string>): StartRun {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'infra/scripts/start-local.ts')], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += String(d)));
  child.stderr.on('data', (d) => (output += String(d)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let groupAlive = true;
  const kill = () => {
    if (!groupAlive) return;
    groupAlive = false;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return {
    pid: child.pid!,
    output: () => output,
    exited: async (boundMs = EXIT_BOUND_MS) => {
      const timer = setTimeout(kill, boundMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    kill,
  };
}

/** Runs the script to its end (bounded); resolves with its exit code and output. */
async function runStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const run = spawnStart(env);
  const code = await run.exited();
  run.kill();
  return { code, output: run.output() };
}

/** Resolves once the banner is printed, with its secret token and directory; rejects after `boundMs`. */
async function banner(run: StartRun, boundMs = 90_000): Promise<{ token: string; directoryId: string }> {
  for (const deadline = Date.now() + boundMs; Date.now() < deadline; ) {
    const token = /Secret token (\S+)/.exec(run.output())?.[1];
    const directoryId = /Directory {4}(\S+)/.exec(run.output())?.[1];
    if (token && directoryId) return { token, directoryId };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no banner within ${boundMs} ms:\n${run.output()}`);
}

const databaseExists = (url: string) =>
  onServer(url, async (c, name) => ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0);

/** A database that does not exist: the script would create it first thing past the check. */
const neverCreated = () => {
  const url = new URL(config.DATABASE_URL);
  url.pathname = `${url.pathname}_never_${process.pid}`;
  return url.toString();
};

const builtServer = path.join(root, 'dist', 'services', 'api', 'server.js');
const builtAt = () => (existsSync(builtServer) ? statSync(builtServer).mtimeMs : undefined);

describe('npm start › its ports are taken', () => {
  let api: net.Server & { port: number };
  let worker: net.Server & { port: number };
  before(async () => {
    [api, worker] = [await listenAnywhere(), await listenAnywhere()];
  });
  after(async () => {
    await close(api);
    await close(worker);
    // Only ever there if the script failed to stop in time.
    await onServer(neverCreated(), (c, name) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });

  it('portsInUse › a listening API port and worker port, a free one and 0 (off) › reports the two taken, by variable', async () => {
    const free = await freePort();

    const taken = await portsInUse([
      { variable: 'PORT', port: api.port },
      { variable: 'WORKER_METRICS_PORT', port: worker.port },
      { variable: 'FREE', port: free },
      { variable: 'OFF', port: 0 },
    ]);

    assert.deepEqual(taken, [
      { variable: 'PORT', port: api.port },
      { variable: 'WORKER_METRICS_PORT', port: worker.port },
    ]);
  });

  it('portsInUse › a port held on 127.0.0.1 only › taken too (the API would fail to listen on it)', async () => {
    const local = net.createServer();
    await new Promise<void>((resolve) => local.listen(0, '127.0.0.1', resolve));
    try {
      const port = (local.address() as net.AddressInfo).port;
      assert.deepEqual(await portsInUse([{ variable: 'PORT', port }]), [{ variable: 'PORT', port }]);
    } finally {
      await close(local);
    }
  });

  it('the real script › both ports taken › exits 1 at once naming both ports, with nothing created, minted or built', async () => {
    const url = neverCreated();
    const dist = builtAt();

    const run = await runStart({
      PORT: String(api.port),
      WORKER_METRICS_PORT: String(worker.port),
      DATABASE_URL: url,
      ADMIN_TOKEN: 'adm_e2e-not-minted-0123456789abcdefghij',
    });

    assert.equal(run.code, 1, run.output);
    assert.ok(run.output.includes(`${api.port} (PORT)`), run.output);
    assert.ok(run.output.includes(`${worker.port} (WORKER_METRICS_PORT)`), run.output);
    assert.ok(!/Secret token|, ready/.test(run.output), 'no banner, no key');
    assert.equal(await databaseExists(url), false, 'stopped before creating the database');
    assert.equal(builtAt(), dist, 'dist/ not rebuilt');
  });

  it('the real script › only the worker port taken › exits 1 naming that port alone', async () => {
    const url = neverCreated();

    const run = await runStart({
      PORT: String(await freePort()),
      WORKER_METRICS_PORT: String(worker.port),
      DATABASE_URL: url,
      ADMIN_TOKEN: 'adm_e2e-not-minted-0123456789abcdefghij',
    });

    assert.equal(run.code, 1, run.output);
    assert.ok(run.output.includes(`${worker.port} (WORKER_METRICS_PORT)`), run.output);
    assert.ok(!run.output.includes('(PORT)'), run.output);
    assert.equal(await databaseExists(url), false);
  });
});

describe('npm start › a first one runs, a second is started, then the first restarts', () => {
  const url = (() => {
    const u = new URL(config.DATABASE_URL);
    u.pathname = `${u.pathname}_start`;
    return u.toString();
  })();
  const adminToken = 'adm_e2e-npm-start-0123456789abcdefghij';
  const tokenFile = path.join(root, '.data', `demo-token.${new URL(url).pathname.slice(1)}`);
  let redis: PrivateRedis;
  let env: Record<string, string>;
  const runs: StartRun[] = [];

  before(async () => {
    await onServer(url, (c, name) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    redis = await startPrivateRedis();
    env = { PORT: String(await freePort()), WORKER_METRICS_PORT: String(await freePort()), DATABASE_URL: url, REDIS_URL: redis.url, ADMIN_TOKEN: adminToken };
  });
  after(async () => {
    for (const run of runs) run.kill();
    await redis.close();
    rmSync(tokenFile, { force: true });
    await onServer(url, (c, name) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  });

  const base = () => `http://127.0.0.1:${env.PORT}`;
  const call = (pathname: string, token: string, init: RequestInit = {}) =>
    fetch(`${base()}${pathname}`, {
      ...init,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...init.headers },
      signal: AbortSignal.timeout(5_000),
    });
  const liveKeys = async (directoryId: string) => {
    const res = await call(`/admin/v1/directories/${directoryId}/keys`, adminToken);
    return ((await res.json()) as { data: { revokedAt: string | null }[] }).data.filter((k) => k.revokedAt === null).length;
  };

  it('start, README step 4, a second start, a restart › the README POST is 201; the second stops at once; the restart prints the same working key', async () => {
    const first = spawnStart(env);
    runs.push(first);
    const shown = await banner(first);
    assert.equal((await call('/scim/v1/Users?filter=userName%20eq%20%22x%22', shown.token)).status, 200);
    const readme = await call('/admin/v1/schemas', adminToken, {
      method: 'POST',
      body: JSON.stringify({
        id: 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User',
        name: 'ActivTrakUser',
        attributes: [
          { name: 'userPrincipalNames', type: 'complex', multiValued: true, subAttributes: [{ name: 'value', type: 'string' }] },
          { name: 'tracking', type: 'boolean' },
        ],
      }),
    });
    assert.equal(readme.status, 201, await readme.text());
    // The console it prints, built and served by the compiled API, with its script.
    assert.match(first.output(), /Console +http:\/\/\S+\/admin\/console /);
    const page = await call('/admin/console/', adminToken);
    assert.equal(page.status, 200);
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    assert.ok(script, 'the console page names its script');
    assert.equal((await call(script, adminToken)).status, 200);

    const second = await runStart(env);

    assert.equal(second.code, 1, second.output);
    assert.ok(second.output.includes(`${env.PORT} (PORT)`) && second.output.includes(`${env.WORKER_METRICS_PORT} (WORKER_METRICS_PORT)`), second.output);
    assert.ok(!second.output.includes('Secret token'), second.output);
    assert.equal(await liveKeys(shown.directoryId), 1, 'the second start minted nothing');
    assert.equal((await call('/scim/v1/Users', shown.token)).status, 200, 'the first still runs');

    process.kill(first.pid, 'SIGTERM');
    assert.equal(await first.exited(30_000), 0, first.output());
    const restarted = spawnStart(env);
    runs.push(restarted);
    const again = await banner(restarted);

    assert.deepEqual(again, shown);
    assert.equal((await call('/scim/v1/Users', again.token)).status, 200);
    assert.equal(await liveKeys(again.directoryId), 1);
    process.kill(restarted.pid, 'SIGTERM');
    assert.equal(await restarted.exited(30_000), 0, restarted.output());
  });
});
