import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Transaction } from 'sequelize';
import type { Database } from '../shared/db/sequelize';
import { createExportStorage, exportKey, type ExportStorage } from '../shared/exports';
import { AuditExportRepository } from '../shared/exports/repository';
import { MAX_ROW_RUNS, QUEUES, type AuditExportJob } from '../shared/queue/catalog';
import { heartbeat, heartbeatEvery } from '../shared/queue/heartbeat';
import { rateLimitedErrorLog } from '../shared/queue/redis';
import { withSpanFrom } from '../shared/telemetry/context';
import type { Logger } from '../shared/telemetry/logger';
import { parseDuration } from '../shared/config';
import type { StartProcessor } from './deps';

/** Events read per query. One batch is the most the worker holds in memory at once. */
const BATCH_SIZE = 1000;

/**
 * One NDJSON line per event: id, type, timestamp, tenantId, directoryId, resourceType,
 * resourceId, actor, data — the webhook body's fields plus who did it. `data` is spliced in as
 * jsonb's own text (valid JSON), so a million events are not parsed only to be printed again.
 */
const LINE = `'{"id":' || to_json(id)::text
  || ',"type":' || to_json(type)::text
  || ',"timestamp":' || to_json(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
  || ',"tenantId":' || to_json(tenant_id)::text
  || ',"directoryId":' || coalesce(to_json(directory_id)::text, 'null')
  || ',"resourceType":' || to_json(resource_type)::text
  || ',"resourceId":' || to_json(resource_id)::text
  || ',"actor":' || coalesce(to_json(actor)::text, 'null')
  || ',"data":' || data::text || '}'`;

/**
 * The tenant's events in [from, to) as NDJSON text, one batch of lines per chunk, in
 * (occurred_at, seq) order, read through a server-side cursor: one query, one snapshot, planned
 * for fast start (cursor_tuple_fraction), so PostgreSQL walks events_tenant_time_idx in order and
 * hands over BATCH_SIZE rows per FETCH. Keyset paging was tried first: with stale statistics
 * (right after a bulk load) its planner chose to sort the remaining range for every page.
 */
async function* eventLines(db: Database, t: Transaction, tenantId: string, range: { from: Date; to: Date }, counted: { events: number }) {
  await db.exec(
    `DECLARE audit_export NO SCROLL CURSOR FOR
       SELECT ${LINE} AS line FROM events
        WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
        ORDER BY occurred_at, seq`,
    [tenantId, range.from, range.to],
    t,
  );
  for (;;) {
    const rows = await db.query<{ line: string }>(`FETCH FORWARD ${BATCH_SIZE} FROM audit_export`, [], t);
    if (rows.length === 0) return;
    counted.events += rows.length;
    yield `${rows.map((r) => r.line).join('\n')}\n`;
    if (rows.length < BATCH_SIZE) return;
  }
}

export interface AuditExportDeps {
  readonly db: Database;
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
  const exportsRepo = new AuditExportRepository(deps.db);
  const found = await exportsRepo.find(job.tenantId, job.exportId);
  if (!found) {
    deps.logger.warn({ 'export.id': job.exportId }, 'audit export not found; nothing to do');
    return undefined;
  }
  if (found.status === 'done') return { eventCount: found.eventCount, bytes: found.bytes };

  const runs = await exportsRepo.markRunning(job.tenantId, job.exportId);
  if (runs > MAX_ROW_RUNS) {
    await exportsRepo.markFailed(job.tenantId, job.exportId, `gave up after ${MAX_ROW_RUNS} runs`, true);
    throw new UnrecoverableError(`audit export ${job.exportId} started ${MAX_ROW_RUNS} times without finishing`);
  }
  const key = exportKey(job.tenantId, job.exportId);
  const stopHeartbeat = heartbeat(() => exportsRepo.touch(job.tenantId, job.exportId), deps.heartbeatMs ?? 40_000);
  try {
    const counted = { events: 0 };
    const { bytes } = await deps.db.sequelize.transaction({ readOnly: true }, async (t) => {
      const target = deps.storage.write(key);
      // Settled by the pipeline below; observed here so a failure is never an unhandled rejection.
      target.done.catch(() => undefined);
      const range = { from: new Date(found.from), to: new Date(found.to) };
      // Not object mode, and a small high-water mark: the generator is asked for the next batch
      // only once the previous one has gone into gzip.
      const source = Readable.from(eventLines(deps.db, t, job.tenantId, range, counted), { objectMode: false, highWaterMark: 64 * 1024 });
      await pipeline(source, createGzip(), target.stream);
      return target.done;
    });
    await exportsRepo.markDone(job.tenantId, job.exportId, { storageKey: key, eventCount: counted.events, bytes });
    deps.logger.info({ 'export.id': job.exportId, events: counted.events, bytes }, 'audit export written');
    return { eventCount: counted.events, bytes };
  } catch (err) {
    await exportsRepo.markFailed(job.tenantId, job.exportId, (err as Error).message || 'export failed', attempt.final);
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
        runAuditExport({ db: deps.db, storage, logger, heartbeatMs }, job.data, { final: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }),
      );
    },
    { connection: deps.redis(), prefix: deps.queuePrefix, concurrency: 1 },
  );
  worker.on('error', rateLimitedErrorLog(deps.logger.child({ queue: QUEUES.auditExport }), 'audit export worker error'));
  let closing: Promise<void> | undefined;
  return { name: QUEUES.auditExport, close: () => (closing ??= worker.close()) };
};
