/**
 * `npm start` while its ports are taken (another `npm start` running, usually): the real script
 * as a child process, against sockets really listening. It must stop before it touches anything:
 * no database created, no key minted, no dist/ rebuilt.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { portsInUse } from '../../infra/scripts/ports';
import { config } from '../../shared/config';
import { freePort } from '../support/redis';

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

/** Runs `npm start`'s script with `env`; resolves with its exit code and output, SIGKILLed after the bound. */
function runStart(env: Record<string, string>): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'infra/scripts/start-local.ts')], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += String(d)));
  child.stderr.on('data', (d) => (output += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_BOUND_MS);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/** Runs `run` on the server's maintenance database, given the name of `url`'s database. */
async function onServer<T>(url: string, run: (client: Client, name: string) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await run(client, name);
  } finally {
    await client.end();
  }
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

    const run = await runStart({ PORT: String(api.port), WORKER_METRICS_PORT: String(worker.port), DATABASE_URL: url, ADMIN_TOKEN: 'adm_e2e-not-minted' });

    assert.equal(run.code, 1, run.output);
    assert.ok(run.output.includes(`${api.port} (PORT)`), run.output);
    assert.ok(run.output.includes(`${worker.port} (WORKER_METRICS_PORT)`), run.output);
    assert.ok(!/Secret token|, ready/.test(run.output), 'no banner, no key');
    assert.equal(await databaseExists(url), false, 'stopped before creating the database');
    assert.equal(builtAt(), dist, 'dist/ not rebuilt');
  });

  it('the real script › only the worker port taken › exits 1 naming that port alone', async () => {
    const url = neverCreated();

    const run = await runStart({ PORT: String(await freePort()), WORKER_METRICS_PORT: String(worker.port), DATABASE_URL: url, ADMIN_TOKEN: 'adm_e2e-not-minted' });

    assert.equal(run.code, 1, run.output);
    assert.ok(run.output.includes(`${worker.port} (WORKER_METRICS_PORT)`), run.output);
    assert.ok(!run.output.includes('(PORT)'), run.output);
    assert.equal(await databaseExists(url), false);
  });
});
