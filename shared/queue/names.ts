/** The closed catalog of BullMQ queue names. Workers and producers import these, never literals. */
export const QUEUES = {
  webhookDelivery: 'webhook-delivery',
  groupReconcile: 'group-reconcile',
  auditExport: 'audit-export',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
