/**
 * A private Redis Cluster for tests: three masters (no replicas) on free loopback ports, each a
 * redis-server with cluster mode on and nothing persisted, joined by `redis-cli --cluster create`.
 * The shared Redis on 6379 is never touched. Every wait is bounded.
 *
 *   const cluster = await startRedisCluster();   // cluster.nodes → ClusterNodes for createRedis
 *   cluster.ports                                // [p1, p2, p3]
 *   await cluster.stopNode(port);                // SIGKILL one master: its slots are then unserved
 *   await cluster.restartNode(port);             // back, empty, with its slots; resolves at cluster_state:ok
 *   await cluster.close();                       // in after(); kills the servers, deletes their dirs; safe twice
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterNodes } from '../../shared/config-formats';
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
  /** Kills (SIGKILL) the master on `port`; resolves when it has exited. Its slots are then unserved. */
  stopNode(port: number): Promise<void>;
  /** Starts a stopped master again on its port (empty, same id and slots); resolves once the cluster is ok. */
  restartNode(port: number): Promise<void>;
  /** Kills every server and deletes their directories. Safe to call twice. */
  close(): Promise<void>;
}

const MASTERS = 3;
const START_TIMEOUT_MS = 10_000;
const STATE_TIMEOUT_MS = 15_000;
const CLI_TIMEOUT_MS = 10_000;

export async function startRedisCluster(): Promise<PrivateRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'scim-redis-cluster-'));
  const nodes = new Map<number, { index: number; proc: ChildProcess }>();
  // A test process that ends without close() (a runner's timeout) still takes its servers along.
  const killAll = () => {
    for (const { proc } of nodes.values()) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', killAll);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      process.off('exit', killAll);
      await Promise.all([...nodes.values()].map(({ proc }) => kill(proc)));
      await rm(dir, { recursive: true, force: true });
    })());
  const cli = async (args: readonly string[], port = ports[0]) =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: CLI_TIMEOUT_MS })).stdout;
  const ports: number[] = [];
  const waitUntilOk = async () => {
    // Every node must agree: slots are assigned at once, but nodes learn of each other by gossip.
    const deadline = Date.now() + STATE_TIMEOUT_MS;
    for (const port of ports) {
      while (!/^cluster_state:ok\b/m.test(await cli(['cluster', 'info'], port).catch(() => ''))) {
        if (Date.now() > deadline) throw new Error(`redis cluster node ${port} did not reach cluster_state:ok within ${STATE_TIMEOUT_MS} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  try {
    for (let index = 0; index < MASTERS; index++) {
      for (let attempt = 1; ; attempt++) {
        // Suites run side by side, so a port found free may be taken before redis-server binds it.
        const port = await freePort();
        const proc = await startNode(dir, index, port);
        if (proc) {
          nodes.set(port, { index, proc });
          ports.push(port);
          break;
        }
        if (attempt >= 3) throw new Error(`redis-server for cluster node ${index} exited at start three times`);
      }
    }
    // `--cluster-yes` answers the "Can I set the above configuration?" prompt.
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: CLI_TIMEOUT_MS,
    });
    await waitUntilOk();
  } catch (err) {
    await close();
    throw err;
  }

  const nodeOn = (port: number) => {
    const node = nodes.get(port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  };
  const stopNode = (port: number) => kill(nodeOn(port).proc);
  const restartNode = async (port: number) => {
    const node = nodeOn(port);
    if (node.proc.exitCode === null && node.proc.signalCode === null) throw new Error(`cluster node ${port} is still running`);
    const proc = await startNode(dir, node.index, port);
    if (!proc) throw new Error(`cluster node ${port} could not start again`);
    node.proc = proc;
    await waitUntilOk();
  };
  const seedList = ports.map((p) => `127.0.0.1:${p}`).join(',');
  return {
    ports,
    nodes: { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), tls: false },
    seedList,
    cli,
    stopNode,
    restartNode,
    close,
  };
}

/**
 * Starts node `index` on `port`; resolves with its process when it answers PING, or undefined
 * when it exited first (the port was taken). Its cluster config file is kept by index and port,
 * so a node started again on the same port rejoins with its id and slots.
 */
async function startNode(dir: string, index: number, port: number): Promise<ChildProcess | undefined> {
  const proc = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1'],
      ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${index}-${port}.conf`), '--cluster-node-timeout', '2000'],
      ...['--dir', dir, '--save', '', '--appendonly', 'no'],
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<false>((resolve) => proc.once('exit', () => resolve(false)));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (await Promise.race([pong(port), exited])) return proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return undefined;
    if (Date.now() > deadline) {
      await kill(proc);
      throw new Error(`redis-server on port ${port} did not answer within ${START_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
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
