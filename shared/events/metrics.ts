import type { OperatorRepositories } from '../db/repositories';
import { collectFrom, METRICS, registerScrapedGauges } from '../telemetry/metrics';
import { outboxBacklog, WEBHOOKS_POSITION } from './outbox-relay';

// Events committed but not yet handed to the queues, read from PostgreSQL on scrape.

let watchedOutbox: OperatorRepositories | undefined;

registerScrapedGauges(async () => {
  const operator = watchedOutbox;
  return operator && collectFrom('outbox', () => outboxBacklog(operator));
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

/** Reports the outbox backlog read through `operator` on every scrape; returns a function that stops it. */
export function watchOutbox(operator: OperatorRepositories): () => void {
  watchedOutbox = operator;
  return () => {
    if (watchedOutbox === operator) watchedOutbox = undefined;
  };
}
