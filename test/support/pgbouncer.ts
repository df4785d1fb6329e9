/**
 * A private PgBouncer in front of the test PostgreSQL, for suites that check the platform through
 * a transaction pooler (Debian's pgbouncer package). Its own loopback port and a small pool, so
 * clients are made to share server connections; a system pgbouncer on 6432, if any, is never used.
 *
 *   const bouncer = await startPgBouncer({ poolSize: 2 });  // bouncer.url → postgres://…:<port>/<test db>
 *   await bouncer.close();                                    // in after(); safe twice
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { config } from '../../shared/config';
import { freePort } from './redis';

export interface PrivatePgBouncer {
  readonly port: number;
  /** The test database (DATABASE_URL's), through this PgBouncer. */
  readonly url: string;
  /** Stops it (and removes its files). Safe to call twice. */
  close(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database and user (default_pool_size). Default 2. */
  readonly poolSize?: number;
  /** pool_mode. Default `transaction`. */
  readonly poolMode?: 'session' | 'transaction';
}

const START_TIMEOUT_MS = 10_000;

/** Where Debian installs it (/usr/sbin is not on every PATH), else the PATH's. */
function pgbouncerBinary(): string {
  if (existsSync('/usr/sbin/pgbouncer')) return '/usr/sbin/pgbouncer';
  try {
    return execFileSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('pgbouncer is not installed: apt-get install pgbouncer (Debian/Ubuntu)');
  }
}

/** pgbouncer exited before listening: most often its port was taken after freePort() chose it. */
class PgBouncerExitedAtStart extends Error {}

export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<PrivatePgBouncer> {
  const binary = pgbouncerBinary();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(binary, await freePort(), options);
    } catch (err) {
      if (!(err instanceof PgBouncerExitedAtStart) || attempt >= 3) throw err;
    }
  }
}

async function startOn(binary: string, port: number, options: PgBouncerOptions): Promise<PrivatePgBouncer> {
  const target = new URL(config.DATABASE_URL);
  const user = decodeURIComponent(target.username || 'postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgbouncer-'));
  // PgBouncer refuses to run as root; as root it is started as postgres, which must read these.
  chmodSync(dir, 0o755);
  const ini = path.join(dir, 'pgbouncer.ini');
  writeFileSync(path.join(dir, 'users.txt'), `"${user}" ""\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${target.hostname} port=${target.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // The test PostgreSQL trusts loopback; PgBouncer only checks that the user is listed.
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'users.txt')}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 2}`,
      'max_client_conn = 200',
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new PgBouncerExitedAtStart(`pgbouncer on port ${port} exited (${code}) before listening:\n${log}`))),
  );
  exited.catch(() => undefined);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([listening(port, START_TIMEOUT_MS), exited]);
  } catch (err) {
    await stop();
    throw err;
  }
  const url = new URL(config.DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  let closing: Promise<void> | undefined;
  return { port, url: url.toString(), close: () => (closing ??= stop()) };
}

async function listening(port: number, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer on port ${port} did not listen within ${timeoutMs} ms`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
