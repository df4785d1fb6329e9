import { OutboxRelay, outboxPositionFor } from '../shared/events/outbox-relay';
import { QUEUES } from '../shared/queue/catalog';
import { createQueue } from '../shared/queue/queues';
import type { StartProcessor } from './deps';

/**
 * The outbox relay: committed events → webhook delivery jobs. Every worker process runs one;
 * the position row lock lets one advance at a time and the others skip (see OutboxRelay).
 */
export const startOutboxRelay: StartProcessor = (deps) => {
  // A connection of its own: the relay checks its state before each enqueue (Redis down →
  // back off, keep the events in PostgreSQL) without being disturbed by other processors.
  const connection = deps.redis();
  const queue = createQueue(QUEUES.webhookDelivery, { connection, prefix: deps.queuePrefix, logger: deps.logger });
  const relay = new OutboxRelay({
    operator: deps.repos.operator,
    queue,
    connection,
    logger: deps.logger,
    positionName: outboxPositionFor(deps.queuePrefix),
  }).start();
  let closing: Promise<void> | undefined;
  return {
    name: 'outbox-relay',
    close: () =>
      (closing ??= (async () => {
        await relay.close();
        await queue.close();
      })()),
  };
};
