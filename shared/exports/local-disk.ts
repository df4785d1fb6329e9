import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, type ReadStream, type WriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { splitExportKey, type ExportStorage } from './storage';

/**
 * Exports as files under one root directory (config.EXPORT_DIR). A key is a relative path of
 * plain segments (splitExportKey); anything else is refused before it reaches the file system,
 * and the resolved path is checked to stay under the root, so a key can never name a file
 * outside it.
 */
export class LocalDiskExportStorage implements ExportStorage {
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  write(key: string): { stream: WriteStream; done: Promise<{ bytes: number }> } {
    const target = this.pathOf(key);
    // Written beside the target and renamed when complete: rename is atomic on one file system,
    // so `read` sees the whole export or nothing, and a rerun simply replaces it.
    const partial = `${target}.${randomUUID()}.partial`;
    mkdirSync(path.dirname(target), { recursive: true });
    const stream = createWriteStream(partial);
    const done = (async () => {
      try {
        await finished(stream);
        await rename(partial, target);
        return { bytes: (await stat(target)).size };
      } catch (err) {
        await rm(partial, { force: true });
        throw err;
      }
    })();
    return { stream, done };
  }

  read(key: string): ReadStream {
    return createReadStream(this.pathOf(key));
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  private pathOf(key: string): string {
    const full = path.resolve(this.root, ...splitExportKey(key));
    if (!full.startsWith(this.root + path.sep)) throw new TypeError(`export key "${key}" escapes the export directory`);
    return full;
  }
}
