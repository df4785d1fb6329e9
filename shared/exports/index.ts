import type { Config } from '../config';
import { LocalDiskExportStorage } from './local-disk';
import type { ExportStorage } from './storage';

export { exportKey, type ExportStorage } from './storage';
export { LocalDiskExportStorage } from './local-disk';

/**
 * The export storage this deployment is configured for; the API (downloads) and the worker
 * (writes) both call this, so they always agree. Only local disk exists today: an S3-compatible
 * store would be a second ExportStorage chosen here by its own config keys.
 */
export function createExportStorage(config: Pick<Config, 'EXPORT_DIR'>): ExportStorage {
  return new LocalDiskExportStorage(config.EXPORT_DIR);
}
