import { v5 as uuidv5 } from 'uuid';

/** Namespace of delivery ids (issue 4 delivery contract); never change it, ids are stored. */
const DELIVERY_NAMESPACE = '6f1d6b3e-3c2b-4b8e-9a53-2f6a1c9b7e10';

/**
 * The id of the delivery of one event to one endpoint: a UUID v5 of `endpointId:eventId`, so the
 * relay, a replay and a retried relay batch all name the same row (and the same BullMQ job).
 */
export const deliveryIdOf = (endpointId: string, eventId: string): string => uuidv5(`${endpointId}:${eventId}`, DELIVERY_NAMESPACE);
