import type { Config } from '../config';
import { LocalDiskExportStorage } from './local-disk';
import type { S3ExportStorage } from './s3';
import type { ExportStorage } from './storage';

export { exportKey, type ExportStorage } from './storage';
export { LocalDiskExportStorage } from './local-disk';

/** The config keys that choose and set up the export storage. */
export type ExportStorageConfig = Pick<
  Config,
  'EXPORT_DIR' | 'EXPORT_S3_BUCKET' | 'EXPORT_S3_ENDPOINT' | 'EXPORT_S3_REGION' | 'EXPORT_S3_PREFIX' | 'EXPORT_S3_FORCE_PATH_STYLE'
>;

/**
 * The export storage this deployment is configured for; the API (downloads) and the worker
 * (writes) both call this, so they always agree. EXPORT_S3_BUCKET set: an S3-compatible bucket
 * (EXPORT_S3_ENDPOINT, _REGION, _PREFIX, _FORCE_PATH_STYLE); unset: local disk under EXPORT_DIR.
 */
export function createExportStorage(config: ExportStorageConfig): ExportStorage {
  if (config.EXPORT_S3_BUCKET) {
    // Loaded only when configured: the AWS SDK adds to the memory of every process that imports it.
    const { S3ExportStorage: Storage } = require('./s3') as { S3ExportStorage: typeof S3ExportStorage };
    return new Storage({
      bucket: config.EXPORT_S3_BUCKET,
      endpoint: config.EXPORT_S3_ENDPOINT,
      region: config.EXPORT_S3_REGION,
      prefix: config.EXPORT_S3_PREFIX,
      forcePathStyle: config.EXPORT_S3_FORCE_PATH_STYLE,
    });
  }
  return new LocalDiskExportStorage(config.EXPORT_DIR);
}
