import type { Readable, Writable } from 'node:stream';

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

// One path segment: letters, digits, '_' and '-', with single dots between them, so '.', '..',
// hidden names and empty segments cannot be spelled.
const SEGMENT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The segments of `key`, which must be a plain relative path (`tenant/export.ndjson.gz`): no
 * leading, trailing or double slash, no '.', '..', backslash or hidden name, at most 512
 * characters. Every ExportStorage checks its keys here, before touching its store, so a key means
 * the same on local disk and in a bucket and can never name anything outside the exports.
 */
export function splitExportKey(key: string): string[] {
  const segments = key.split('/');
  if (key.length > 512 || !segments.every((s) => SEGMENT.test(s))) throw new TypeError(`export key "${key}" is not a plain relative path`);
  return segments;
}

/** The storage key of one export: `<tenantId>/<exportId>.ndjson.gz`. */
export const exportKey = (tenantId: string, exportId: string) => `${tenantId}/${exportId}.ndjson.gz`;
