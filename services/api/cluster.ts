import cluster, { type Worker } from 'node:cluster';
import { serveClusterMetrics } from '../../shared/telemetry/metrics';
import type { Logger } from '../../shared/telemetry/logger';

/** How long the primary waits on SIGTERM for its processes to drain before it stops them. */
const SHUTDOWN_TIMEOUT_MS = 30_000;
/** A process that dies sooner than this after its start counts as a crash loop: restarts slow down. */
const STEADY_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The primary of `WEB_CONCURRENCY` API processes (Node's cluster module: they share PORT's
 * socket, and the kernel spreads connections over them). It serves nothing itself: it starts the
 * processes, starts a new one when one dies (waiting longer each time one dies young, so a
 * process that cannot start does not spin), answers their requests for the metrics of all, and
 * on SIGTERM or SIGINT passes the signal on and exits once every process has drained.
 */
export function runPrimary(processes: number, logger: Logger): void {
  serveClusterMetrics();
  let stopping = false;
  let restartDelayMs = 0;
  const startedAt = new Map<Worker, number>();

  const start = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) {
      if (startedAt.size === 0) process.exit(0);
      return;
    }
    restartDelayMs = lived >= STEADY_AFTER_MS ? 0 : Math.min(MAX_RESTART_DELAY_MS, Math.max(1_000, restartDelayMs * 2));
    logger.error({ pid: worker.process.pid, code, signal, restart_in_ms: restartDelayMs }, 'api process exited; starting another');
    setTimeout(() => {
      if (!stopping) start();
    }, restartDelayMs).unref();
  });
  for (let i = 0; i < processes; i++) start();
  logger.info({ processes }, 'api cluster started');

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, processes: startedAt.size }, 'api cluster shutting down');
    if (startedAt.size === 0) process.exit(0);
    for (const worker of startedAt.keys()) worker.process.kill(signal);
    setTimeout(() => {
      logger.warn({ still_running: startedAt.size, timeout_ms: SHUTDOWN_TIMEOUT_MS }, 'api processes still running at the deadline; stopping them');
      for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
