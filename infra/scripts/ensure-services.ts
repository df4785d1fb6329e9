import { execFileSync, execSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Makes sure PostgreSQL and Redis answer at the configured URLs. When a URL is a local default
 * and nothing answers, starts the service, installing it from the system's packages first when
 * missing and we are root on Debian/Ubuntu; otherwise says exactly what to run.
 */
export async function ensureServices(urls: { database: string; redis: string }, log = console.log): Promise<void> {
  await ensure('PostgreSQL', urls.database, 5432, startPostgres, log);
  await ensure('Redis', urls.redis, 6379, startRedis, log);
}

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

async function ensure(name: string, url: string, defaultPort: number, start: (log: (s: string) => void) => void, log: (s: string) => void) {
  const { hostname, port } = new URL(url);
  const p = Number(port || defaultPort);
  if (await answers(hostname, p)) return;
  if (!LOCAL.has(hostname) || p !== defaultPort) {
    throw new Error(`${name} does not answer at ${hostname}:${p}; start it or fix the URL`);
  }
  log(`${name} does not answer on ${hostname}:${p}; starting it`);
  start(log);
  for (let i = 0; i < 60; i++) {
    if (await answers(hostname, p)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} did not come up on ${hostname}:${p}`);
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const isRoot = () => process.getuid?.() === 0;
const has = (cmd: string) => {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

function aptInstall(pkgs: string[], log: (s: string) => void) {
  if (!isRoot() || !has('apt-get')) {
    throw new Error(`install them first: sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`);
  }
  log(`installing ${pkgs.join(', ')} from the system's packages`);
  execSync('apt-get update -qq', { stdio: 'inherit' });
  execSync(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs.join(' ')}`, { stdio: 'inherit' });
}

function startPostgres(log: (s: string) => void) {
  const installedNow = !existsSync('/etc/postgresql') && !has('pg_ctlcluster');
  if (installedNow) aptInstall(['postgresql'], log);
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  if (!versions.length) throw new Error('PostgreSQL is installed but has no cluster; run: sudo pg_createcluster <version> main');
  if (!isRoot()) throw new Error(`start it: sudo pg_ctlcluster --skip-systemctl-redirect ${versions[0]} main start`);
  if (installedNow) trustLoopback(`/etc/postgresql/${versions[0]}/main/pg_hba.conf`, log);
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0], 'main', 'start'], { stdio: 'inherit' });
}

/**
 * The default DATABASE_URL has no password. On a cluster we just installed for local use, let
 * loopback connections in without one (Debian's default is scram), as CI machines here do.
 */
function trustLoopback(hbaPath: string, log: (s: string) => void) {
  const current = readFileSync(hbaPath, 'utf8');
  const lines = 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n';
  if (current.startsWith(lines)) return;
  writeFileSync(hbaPath, `${lines}${current}`);
  log(`allowed passwordless loopback connections in ${hbaPath} (local development only)`);
}

function startRedis(log: (s: string) => void) {
  if (!has('redis-server')) aptInstall(['redis-server'], log);
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', '6379', '--save', '', '--appendonly', 'no', '--dir', '/tmp'], {
    stdio: 'inherit',
  });
}
