/**
 * A private Redis Cluster for tests: three masters (no replicas) on free loopback ports, each a
 * redis-server with cluster mode on and nothing persisted, joined by `redis-cli --cluster create`.
 * The shared Redis on 6379 is never touched. Every wait is bounded.
 *
 *   const cluster = await startRedisCluster();   // cluster.nodes → ClusterNodes for createRedis
 *   cluster.ports                                // [p1, p2, p3]
 *   await cluster.close();                       // in after(); kills the servers, deletes their dirs; safe twice
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterNodes } from '../../shared/config';
import { freePort } from './redis';

const run = promisify(execFile);

export interface PrivateRedisCluster {
  readonly ports: readonly number[];
  /** The seeds as REDIS_CLUSTER_NODES would give them, for createRedis / limiterRedis. */
  readonly nodes: ClusterNodes;
  /** REDIS_CLUSTER_NODES's text for these seeds, e.g. `127.0.0.1:41001,127.0.0.1:41002,…`. */
  readonly seedList: string;
  /** Runs redis-cli against one node (default the first) and returns its output. */
  cli(args: readonly string[], port?: number): Promise<string>;
  /** Kills every server and deletes their directories. Safe to call twice. */
  close(): Promise<void>;
}

const MASTERS = 3;
const START_TIMEOUT_MS = 10_000;
const STATE_TIMEOUT_MS = 15_000;
const CLI_TIMEOUT_MS = 10_000;

export async function startRedisCluster(): Promise<PrivateRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'scim-redis-cluster-'));
  const children: ChildProcess[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all(children.map(kill));
      await rm(dir, { recursive: true, force: true });
    })());
  const cli = async (args: readonly string[], port = ports[0]) =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: CLI_TIMEOUT_MS })).stdout;
  const ports: number[] = [];
  try {
    for (let i = 0; i < MASTERS; i++) ports.push(await startNode(dir, i, children));
    // `--cluster-yes` answers the "Can I set the above configuration?" prompt.
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: CLI_TIMEOUT_MS,
    });
    // The slots are assigned at once, but every node must learn of the others (gossip) first.
    const deadline = Date.now() + STATE_TIMEOUT_MS;
    for (const port of ports) {
      while (!/^cluster_state:ok\b/m.test(await cli(['cluster', 'info'], port))) {
        if (Date.now() > deadline) throw new Error(`redis cluster node ${port} did not reach cluster_state:ok within ${STATE_TIMEOUT_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  const seedList = ports.map((p) => `127.0.0.1:${p}`).join(',');
  return { ports, nodes: { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), tls: false }, seedList, cli, close };
}

/** Starts node `i` on a free port (another try if the port was taken meanwhile); resolves when it answers PING. */
async function startNode(dir: string, i: number, children: ChildProcess[]): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${i}-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    children.push(proc);
    const exited = new Promise<false>((resolve) => proc.once('exit', () => resolve(false)));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ok = await Promise.race([pong(port), exited]);
      if (ok) return port;
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${START_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (attempt >= 3) throw new Error(`redis-server for cluster node ${i} exited at start three times`);
  }
}

async function pong(port: number): Promise<boolean> {
  try {
    return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { timeout: 1_000 })).stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  await exited;
}
