import { v7 as uuidv7 } from 'uuid';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type TenantId = Brand<string, 'TenantId'>;
export type DirectoryId = Brand<string, 'DirectoryId'>;
export type ApiKeyId = Brand<string, 'ApiKeyId'>;
export type UserId = Brand<string, 'UserId'>;
export type GroupId = Brand<string, 'GroupId'>;
export type EventId = Brand<string, 'EventId'>;

/** Time-ordered UUIDs (RFC 9562 v7): inserts land at the right edge of the primary key index. */
export const newId = <T extends string>(): T => uuidv7() as T;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A syntactically valid UUID (any version); used before a value reaches a uuid column. */
export const isUuid = (s: unknown): s is string => typeof s === 'string' && UUID.test(s);
