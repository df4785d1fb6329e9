import { GetObjectCommand, HeadObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Readable, Writable } from 'node:stream';
import { splitExportKey, type ExportStorage } from './storage';

/**
 * Bytes per multipart part: S3's minimum part size. lib-storage fills one part while others
 * upload, so an export of any size holds at most about (QUEUE_SIZE + 1) parts in memory.
 */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts uploaded at once: the next part fills while one is in flight; more would only cost memory. */
const QUEUE_SIZE = 2;

export interface S3ExportStorageOptions {
  /** The bucket; it must exist already (the platform never creates buckets). */
  readonly bucket: string;
  /** URL of an S3-compatible store (MinIO, Cloudflare R2, Ceph RGW). Default: AWS S3 of `region`. */
  readonly endpoint?: string;
  /** Default `us-east-1`. */
  readonly region?: string;
  /** Folder every key is stored under, a plain relative path like `scim/exports`. Default: none. */
  readonly prefix?: string;
  /**
   * Path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted ones
   * (`bucket.endpoint/key`); MinIO and most self-hosted stores need it. Default false.
   */
  readonly forcePathStyle?: boolean;
}

/**
 * Exports as objects in an S3-compatible bucket, under `<prefix>/<key>`. Keys are checked like on
 * local disk (splitExportKey). Credentials come from the AWS SDK's default provider chain
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, profiles, instance and task
 * roles), never from our config, so nothing here can log them.
 */
export class S3ExportStorage implements ExportStorage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3ExportStorageOptions) {
    if (!options.bucket) throw new TypeError('S3ExportStorage needs a bucket');
    if (options.prefix !== undefined) splitExportKey(options.prefix);
    this.bucket = options.bucket;
    this.prefix = options.prefix ? `${options.prefix}/` : '';
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      // Since SDK 3.729 every upload carries a CRC32 checksum header that stores such as R2
      // refuse; with a custom endpoint, only where the API requires one.
      ...(options.endpoint && { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }),
    });
  }

  /**
   * A multipart upload fed from `stream` (a single PutObject when the export is under one part).
   * The object appears under its key only when the upload completes. If `stream` is destroyed,
   * lib-storage stops, aborts the multipart upload (its parts are deleted) and `done` rejects with
   * the stream's error. If the upload fails by itself, `stream` is destroyed with that error.
   */
  write(key: string): { stream: Writable; done: Promise<{ bytes: number }> } {
    const objectKey = this.objectKey(key);
    let bytes = 0;
    // lib-storage reads `body`, not the caller's `stream`: when it stops reading it destroys what it
    // reads with a bare AbortError, and the writer must see the upload's real error instead.
    const body = new PassThrough();
    const stream = new Writable({
      write(chunk: Buffer, _encoding, next) {
        bytes += chunk.length;
        if (body.write(chunk)) next();
        else body.once('drain', next);
      },
      final(next) {
        body.end();
        next();
      },
      destroy(err, next) {
        // Also called after a normal finish (autoDestroy), when `body` must be left to drain.
        if (!stream.writableFinished) body.destroy(err ?? undefined);
        next(err);
      },
    });
    // Errors of either stream reach the caller through `done` (and a writer's own pipeline); as
    // with local disk's finished(stream), destroying `stream` never makes an uncaught 'error'.
    stream.on('error', () => undefined);
    body.on('error', () => undefined);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: objectKey, Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    });
    const done = upload.done().then(
      () => ({ bytes }),
      (err: unknown) => {
        // Fails the writer's pipeline rather than leaving it blocked on backpressure. The writer's
        // own error, when it caused the failure, is the one reported.
        stream.destroy(err as Error);
        throw stream.errored ?? err;
      },
    );
    return { stream, done };
  }

  /**
   * The object's bytes. The stream is returned at once, like fs.createReadStream, and a missing
   * object (NoSuchKey) is its 'error', never a throw.
   */
  read(key: string): Readable {
    const client = this.client;
    const input = { Bucket: this.bucket, Key: this.objectKey(key) };
    async function* body() {
      const { Body } = await client.send(new GetObjectCommand(input));
      // In Node the SDK's Body is the HTTP response, a Readable; yield* hands it on chunk by
      // chunk, and a reader that stops early destroys it through the delegated return().
      yield* Body as Readable;
    }
    return Readable.from(body(), { objectMode: false });
  }

  /**
   * HeadObject. A HEAD answer has no body, so "missing" is only its 404 (the SDK's NotFound); a
   * missing bucket looks the same. Any other failure is thrown.
   */
  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return false;
      throw err;
    }
  }

  /** Closes the client's pooled connections; safe to call twice. */
  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    splitExportKey(key);
    return this.prefix + key;
  }
}
