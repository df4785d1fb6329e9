import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Transaction } from 'sequelize';
import type { Repositories } from '../shared/db/repositories';
import type { AuditExportRows } from '../shared/db/repositories/audit-export-rows';
import { createExportStorage, exportKey, type ExportStorage } from '../shared/exports';
import { MAX_ROW_RUNS, QUEUES, type AuditExportJob } from '../shared/queue/catalog';
import { heartbeat, heartbeatEvery } from '../shared/queue/heartbeat';
import { rateLimitedErrorLog } from '../shared/queue/redis';
import { withSpanFrom } from '../shared/telemetry/context';
import type { Logger } from '../shared/telemetry/logger';
import { parseDuration } from '../shared/config-formats';
import type { TenantId } from '../shared/ids';
import type { StartProcessor } from './deps';

/** Events read per query. One batch is the most the worker holds in memory at once. */
const BATCH_SIZE = 1000;

/**
 * The tenant's events in [from, to) as NDJSON text, one batch of lines per chunk (see
 * AuditExportRows.lineBatches for how they are read).
 */
async function* eventLines(rows: AuditExportRows, t: Transaction, range: { from: Date; to: Date }, counted: { events: number }) {
  for await (const lines of rows.lineBatches(t, range, BATCH_SIZE)) {
    counted.events += lines.length;
    yield `${lines.join('\n')}\n`;
  }
}

export interface AuditExportDeps {
  readonly repos: Repositories;
  readonly storage: ExportStorage;
  readonly logger: Logger;
  /** How often a running export touches its row (shared/queue/heartbeat.ts), ms. Default 40,000 (a third of 2 min). */
  readonly heartbeatMs?: number;
}

/**
 * Writes one export: the tenant's events for its range, gzip-compressed NDJSON, streamed from
 * PostgreSQL to storage. Memory stays bounded: the source is pulled one batch at a time and only
 * when gzip and storage have drained (stream backpressure). Redelivery of a finished export
 * changes nothing; a rerun of an unfinished one rewrites the file whole.
 */
export async function runAuditExport(deps: AuditExportDeps, job: AuditExportJob, attempt: { final: boolean }) {
  const tenant = deps.repos.forTenant(job.tenantId as TenantId);
  const exportsRepo = tenant.exports;
  const found = await exportsRepo.find(job.exportId);
  if (!found) {
    deps.logger.warn({ 'export.id': job.exportId }, 'audit export not found; nothing to do');
    return undefined;
  }
  if (found.status === 'done') return { eventCount: found.eventCount, bytes: found.bytes };

  const runs = await exportsRepo.markRunning(job.exportId);
  if (runs > MAX_ROW_RUNS) {
    await exportsRepo.markFailed(job.exportId, `gave up after ${MAX_ROW_RUNS} runs`, true);
    throw new UnrecoverableError(`audit export ${job.exportId} started ${MAX_ROW_RUNS} times without finishing`);
  }
  const key = exportKey(job.tenantId, job.exportId);
  const stopHeartbeat = heartbeat(() => exportsRepo.touch(job.exportId), deps.heartbeatMs ?? 40_000);
  try {
    const counted = { events: 0 };
    const rows = tenant.exportRows;
    const { bytes } = await rows.snapshot(async (t) => {
      const target = deps.storage.write(key);
      // Settled by the pipeline below; observed here so a failure is never an unhandled rejection.
      target.done.catch(() => undefined);
      const range = { from: new Date(found.from), to: new Date(found.to) };
      // Not object mode, and a small high-water mark: the generator is asked for the next batch
      // only once the previous one has gone into gzip.
      const source = Readable.from(eventLines(rows, t, range, counted), { objectMode: false, highWaterMark: 64 * 1024 });
      await pipeline(source, createGzip(), target.stream);
      return target.done;
    });
    await exportsRepo.markDone(job.exportId, { storageKey: key, eventCount: counted.events, bytes });
    deps.logger.info({ 'export.id': job.exportId, events: counted.events, bytes }, 'audit export written');
    return { eventCount: counted.events, bytes };
  } catch (err) {
    await exportsRepo.markFailed(job.exportId, (err as Error).message || 'export failed', attempt.final);
    throw err;
  } finally {
    stopHeartbeat();
  }
}

/** The audit-export queue's processor: one export at a time per worker process. */
export const startAuditExport: StartProcessor = (deps) => {
  const storage = createExportStorage(deps.config);
  const heartbeatMs = heartbeatEvery(parseDuration(deps.config.JOB_OVERDUE_AFTER));
  const worker = new Worker<AuditExportJob>(
    QUEUES.auditExport,
    (job: Job<AuditExportJob>) => {
      const logger = deps.logger.child({ 'job.id': job.id, 'tenant.id': job.data.tenantId });
      // Continues the trace of the admin request that asked for the export.
      return withSpanFrom(job.data.trace, 'audit-export', { 'tenant.id': job.data.tenantId, 'export.id': job.data.exportId }, () =>
        runAuditExport({ repos: deps.repos, storage, logger, heartbeatMs }, job.data, { final: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }),
      );
    },
    { connection: deps.redis(), prefix: deps.queuePrefix, concurrency: 1 },
  );
  worker.on('error', rateLimitedErrorLog(deps.logger.child({ queue: QUEUES.auditExport }), 'audit export worker error'));
  let closing: Promise<void> | undefined;
  return { name: QUEUES.auditExport, close: () => (closing ??= worker.close()) };
};
