/**
 * `npm start`: the whole platform on one machine. Makes sure PostgreSQL and Redis answer
 * (starting or installing them when they are the local defaults), creates and migrates the
 * database, then runs the API and a worker as child processes. Outside production it prints the
 * admin token and a ready demo directory (SCIM URL and its key) for curl or Entra. Stops before
 * doing anything when the API's or the worker's port is taken (another `npm start`, usually).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { config } from '../../shared/config';
import { createDatabase } from '../../shared/db/sequelize';
import { buildWeb } from './build-web';
import { prepareDemoDirectory } from './demo-directory';
import { ensureServices } from './ensure-services';
import { migrate } from './migrate';
import { portsInUse, portsInUseMessage } from './ports';

const root = path.resolve(__dirname, '..', '..');

/** In development the admin token persists in .data/ so it survives restarts. */
function developmentAdminToken(): string {
  const file = path.join(root, '.data', 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true });
  const token = `adm_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

function run(name: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', path.join(root, script)], { stdio: 'inherit', env });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping the platform`);
      stop(1);
    }
  });
  return child;
}

let stopping = false;
const children: ChildProcess[] = [];
function stop(code: number) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const deadline = setTimeout(() => process.exit(code), 15_000);
  deadline.unref();
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined))).then(() => process.exit(code));
}

/**
 * The demo directory, with the key printed last time when it still works (kept in .data/ like
 * the admin token, one file per database), so restarts neither break a connected curl or Entra
 * nor pile up keys.
 */
async function withDemoDirectory() {
  const database = decodeURIComponent(new URL(config.DATABASE_URL).pathname.slice(1));
  const file = path.join(root, '.data', `demo-token.${database.replace(/[^A-Za-z0-9_-]/g, '_')}`);
  const previous = existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  const db = createDatabase({ poolMax: 2 });
  const demo = await prepareDemoDirectory(db, config.REGION, previous).finally(() => db.close());
  if (!demo.reused) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, demo.token, { mode: 0o600 });
  }
  return demo;
}

/** Waits (up to 60 s) until the API's /healthz answers on this machine. */
async function apiAnswering(): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && !stopping; ) {
    try {
      if ((await fetch(`http://127.0.0.1:${config.PORT}/healthz`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  // Before anything is minted or built: a second start would otherwise print a key answered by
  // the first instance, rebuild dist/ under it, and only then die on the worker's port.
  const taken = await portsInUse([
    { variable: 'PORT', port: config.PORT },
    { variable: 'WORKER_METRICS_PORT', port: config.WORKER_METRICS_PORT },
  ]);
  if (taken.length) {
    console.error(portsInUseMessage(taken));
    process.exit(1);
  }
  await ensureServices({ database: config.DATABASE_DIRECT_URL, redis: config.REDIS_URL });
  const applied = await migrate(config.DATABASE_DIRECT_URL);
  if (applied.length) console.log(`migrations applied: ${applied.join(', ')}`);

  const production = config.NODE_ENV === 'production';
  const adminToken = config.ADMIN_TOKEN ?? developmentAdminToken();
  const env = { ...process.env, ADMIN_TOKEN: adminToken };

  const demo = production ? undefined : await withDemoDirectory();
  // The API and worker run compiled (npm run build): no TypeScript loader in their memory.
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  buildWeb();
  children.push(run('api', 'dist/services/api/server.js', env), run('worker', 'dist/workers/main.js', env));
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  if (demo) {
    // Printed once the API answers, so the curl below works the moment it is shown.
    await apiAnswering();
    const scimUrl = `${config.publicBaseUrl}/scim/v1`;
    console.log(`
SCIM Platform (development), ready
  Console      ${config.publicBaseUrl}/admin/console   (sign in with the admin token)
  Admin API    ${config.publicBaseUrl}/admin/v1   Authorization: Bearer ${adminToken}
  Demo tenant  ${demo.tenantId}
  Directory    ${demo.directoryId}
  Tenant URL   ${scimUrl}        (paste into Entra: Provisioning > Tenant URL)
  Secret token ${demo.token}
  Try it       curl -H "Authorization: Bearer ${demo.token}" '${scimUrl}/Users?filter=userName%20eq%20%22x%22'
`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
