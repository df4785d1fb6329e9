import type { Readable, Writable } from 'node:stream';
import { splitRelativePath } from '../config-formats';

/**
 * Where audit exports are kept. Small on purpose: an export is written once as a stream and read
 * back as a stream, so an S3-compatible store (multipart upload / GetObject) fits behind the same
 * three methods without the worker or the API changing.
 */
export interface ExportStorage {
  /**
   * Opens `key` for writing. Write the bytes into `stream` and end it; `done` resolves once the
   * object is durable and visible to `read` under `key` (never before, so a reader cannot see half
   * a file), and rejects, leaving nothing under `key`, if the stream is destroyed with an error.
   */
  write(key: string): { stream: Writable; done: Promise<{ bytes: number }> };
  /** The stored bytes of `key`; the stream errors if there is no such object. */
  read(key: string): Readable;
  exists(key: string): Promise<boolean>;
}

/**
 * The segments of `key`, which must be a plain relative path (`tenant/export.ndjson.gz`, see
 * splitRelativePath). Every ExportStorage checks its keys here, before touching its store, so a
 * key means the same on local disk and in a bucket and can never name anything outside the exports.
 */
export function splitExportKey(key: string): string[] {
  const segments = splitRelativePath(key);
  if (!segments) throw new TypeError(`export key "${key}" is not a plain relative path`);
  return segments;
}

/** The storage key of one export: `<tenantId>/<exportId>.ndjson.gz`. */
export const exportKey = (tenantId: string, exportId: string) => `${tenantId}/${exportId}.ndjson.gz`;
