import type { Database } from '../db/sequelize';
import { collectFrom, METRICS, registerScrapedGauges } from '../telemetry/metrics';
import { outboxBacklog, WEBHOOKS_POSITION } from './outbox-relay';

// Events committed but not yet handed to the queues, read from PostgreSQL on scrape.

let watchedOutbox: Database | undefined;

registerScrapedGauges(async () => {
  const db = watchedOutbox;
  return db && collectFrom('outbox', () => outboxBacklog(db));
}, [
  {
    name: METRICS.outboxBacklog,
    help: 'Events committed in PostgreSQL that the relay has not yet enqueued, per relay position',
    // A label (one value) so that an unreadable outbox leaves no series rather than a false 0.
    labelNames: ['position'],
    report: (backlog, set) => set({ position: WEBHOOKS_POSITION }, backlog.events),
  },
  {
    name: METRICS.outboxOldest,
    help: 'Age in seconds of the oldest event the relay has not yet enqueued (0 when none), per relay position',
    labelNames: ['position'],
    report: (backlog, set) => set({ position: WEBHOOKS_POSITION }, backlog.oldestAgeSeconds),
  },
]);

/** Reports the outbox backlog read through `db` on every scrape; returns a function that stops it. */
export function watchOutbox(db: Database): () => void {
  watchedOutbox = db;
  return () => {
    if (watchedOutbox === db) watchedOutbox = undefined;
  };
}
