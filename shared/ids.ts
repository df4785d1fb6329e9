import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type DirectoryId = Brand<string, 'DirectoryId'>;
export type ApiKeyId = Brand<string, 'ApiKeyId'>;
export type UserId = Brand<string, 'UserId'>;
export type GroupId = Brand<string, 'GroupId'>;
export type EventId = Brand<string, 'EventId'>;

/** Time-ordered UUIDs (version 7): inserts land at the right edge of the primary key index. */
export const newId = <T extends string>(): T => uuidv7() as T;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A syntactically valid UUID (any version); used before a value reaches a uuid column. */
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);

/** Namespace of delivery ids, which every producer derives alike (deliveryIdOf); never change it, ids are stored. */
const DELIVERY_NAMESPACE = '6f1d6b3e-3c2b-4b8e-9a53-2f6a1c9b7e10';

/**
 * The id of the delivery of one event to one endpoint: a UUID v5 of `endpointId:eventId`, so the
 * relay, a replay and a retried relay batch all name the same row (and the same BullMQ job).
 */
export const deliveryIdOf = (endpointId: string, eventId: string): string => uuidv5(`${endpointId}:${eventId}`, DELIVERY_NAMESPACE);
