import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import request from 'supertest';
import { startAuditExport } from '../../workers/audit-export';
import { startWorker } from '../../workers/main';
import { config, parseConfig } from '../../shared/config';
import { createExportStorage, exportKey, LocalDiskExportStorage } from '../../shared/exports';
import { S3ExportStorage } from '../../shared/exports/s3';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { binaryBody, closeWorkerSuite, redisConnections } from '../support/connections';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, scimClient } from '../support/factories';

const BUCKET = 'scim-exports';
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every test's limit: a storage that never settles `done` or never ends a read fails, not hangs. */
const BOUNDED = { timeout: 30_000 };

/**
 * s3rver (the S3 REST API on a directory) behind our own loopback server, so a test can see each
 * request it answered: which parts were uploaded, whether an upload was aborted.
 */
async function startS3(directory: string) {
  const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: BUCKET, configs: [] }] });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** `METHOD /bucket/key?query` of every request so far. */
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Everything a readable gives, or its error. */
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('S3 export storage › a real S3 API (s3rver) on loopback', () => {
  const queuePrefix = `test-export-s3-${process.pid}-${Date.now().toString(36)}`;
  const connections = redisConnections();
  const redis = connections.connect;
  const queues = { auditExport: createQueue(QUEUES.auditExport, { connection: redis(), prefix: queuePrefix }) };
  let s3dir: string;
  let s3: Awaited<ReturnType<typeof startS3>>;
  let storage: S3ExportStorage;
  let t: TestApp;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  /** A plain SDK client for what the storage never does (deleting an object). */
  let admin: S3Client;
  const opened: S3ExportStorage[] = [];
  const open = (options: Partial<ConstructorParameters<typeof S3ExportStorage>[0]> = {}) => {
    const s = new S3ExportStorage({ bucket: BUCKET, endpoint: s3.endpoint, forcePathStyle: true, ...options });
    opened.push(s);
    return s;
  };
  /** What EXPORT_S3_* in the environment would give; the worker and the API both build from it. */
  const s3Config = () => ({
    ...config,
    EXPORT_S3_BUCKET: BUCKET,
    EXPORT_S3_ENDPOINT: s3.endpoint,
    EXPORT_S3_PREFIX: 'e2e',
    EXPORT_S3_FORCE_PATH_STYLE: true,
  });

  before(async () => {
    // s3rver's one account; the SDK's default provider chain picks these up, as in production
    // (node --test runs this file in a process of its own).
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    s3dir = await mkdtemp(path.join(os.tmpdir(), 'scim-s3rver-'));
    s3 = await startS3(s3dir);
    storage = open();
    admin = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    const apiStorage = createExportStorage(s3Config()) as S3ExportStorage;
    opened.push(apiStorage);
    t = makeTestApp({ queues, exportStorage: apiStorage });
    worker = await startWorker({ redis, queuePrefix, config: s3Config() }, [startAuditExport]);
  });
  after(async () => {
    await closeWorkerSuite({ worker, queue: queues.auditExport, connections, app: t });
    for (const s of opened) s.close();
    admin.destroy();
    await s3.close();
    await rm(s3dir, { recursive: true, force: true });
  });

  /** Polls an export's status until it is done or failed; bounded in time. */
  async function waitFinished(tenantId: string, id: string) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { body } = await asAdmin(request(t.app).get(`/admin/v1/tenants/${tenantId}/exports/${id}`)).expect(200);
      if (body.status === 'done' || body.status === 'failed') return body;
      if (Date.now() > deadline) assert.fail(`export ${id} still ${body.status}`);
      await sleep(25);
    }
  }

  const requestsFor = (objectKey: string) => s3.requests.filter((r) => r.split(' ')[1].split('?')[0] === `/${BUCKET}/${objectKey}`);

  it('write › 12 MiB of random bytes › uploaded in parts, read back byte-identical, done.bytes counts them', BOUNDED, async () => {
    const data = randomBytes(12 * MiB);
    const target = storage.write('tenant-a/big.bin');
    // Chunks that do not line up with the 5 MiB parts.
    await pipeline(Readable.from([data.subarray(0, 3_000_001), data.subarray(3_000_001, 9_000_000), data.subarray(9_000_000)]), target.stream);
    assert.deepEqual(await target.done, { bytes: data.length });

    const parts = requestsFor('tenant-a/big.bin').filter((r) => r.startsWith('PUT ') && r.includes('partNumber='));
    assert.equal(parts.length, 3, `5 MiB parts expected, saw: ${parts.join(', ')}`);
    assert.ok((await readAll(storage.read('tenant-a/big.bin'))).equals(data));
  });

  it('exists › a written key and one never written › true, then false', BOUNDED, async () => {
    const target = storage.write('tenant-a/small.ndjson.gz');
    await pipeline(Readable.from([Buffer.from('one line\n')]), target.stream);
    assert.deepEqual(await target.done, { bytes: 9 });
    assert.equal(await storage.exists('tenant-a/small.ndjson.gz'), true);
    assert.equal(await storage.exists('tenant-a/never-written.ndjson.gz'), false);
  });

  it("exists › the store is unreachable › the error is thrown, not taken for 'missing'", BOUNDED, async () => {
    // A port that was just free: nothing listens there.
    const probe = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    await assert.rejects(open({ endpoint: `http://127.0.0.1:${port}` }).exists('tenant-a/small.ndjson.gz'), { code: 'ECONNREFUSED' });
  });

  it('read › a key with no object › the stream emits NoSuchKey instead of throwing or hanging', BOUNDED, async () => {
    let stream: Readable | undefined;
    assert.doesNotThrow(() => (stream = storage.read('tenant-a/missing.ndjson.gz')));
    await assert.rejects(readAll(stream!), (err: Error) => err.name === 'NoSuchKey');
  });

  it('write › stream destroyed with an error after a part went up › done rejects with it, no object, the upload is aborted', BOUNDED, async () => {
    const key = 'tenant-a/broken.bin';
    const target = storage.write(key);
    target.done.catch(() => undefined);
    target.stream.write(randomBytes(7 * MiB));
    const isPart = (r: string) => r.startsWith('PUT ') && /[?&]partNumber=1(&|$)/.test(r);
    for (let i = 0; !requestsFor(key).some(isPart); i++) {
      if (i > 400) assert.fail(`no part was uploaded: ${requestsFor(key).join(', ')}`);
      await sleep(25);
    }
    target.stream.destroy(new Error('gzip failed'));

    await assert.rejects(target.done, { message: 'gzip failed' });
    assert.equal(await storage.exists(key), false);
    const uploadId = /uploadId=([^&]+)/.exec(requestsFor(key).find(isPart)!)![1];
    // AbortMultipartUpload deletes the uploaded parts. s3rver has no abort (it answers 405) nor a
    // list of uploads, so the request is what can be checked here; done still rejects with the
    // writer's error, not the abort's.
    assert.ok(
      requestsFor(key).some((r) => r.startsWith('DELETE ') && r.includes(`uploadId=${uploadId}`)),
      requestsFor(key).join(', '),
    );
  });

  it('write › stream destroyed with an error before a part is full › done rejects with it, nothing was stored', BOUNDED, async () => {
    const key = 'tenant-a/broken-early.bin';
    const target = storage.write(key);
    target.stream.write(randomBytes(64 * 1024));
    target.stream.destroy(new Error('gzip failed'));
    await assert.rejects(target.done, { message: 'gzip failed' });
    assert.equal(await storage.exists(key), false);
    assert.deepEqual(
      requestsFor(key).filter((r) => !r.startsWith('HEAD ')),
      [],
    );
  });

  it("write › the store refuses the upload (no such bucket) › the writer's pipeline fails instead of blocking", BOUNDED, async () => {
    const target = open({ bucket: 'no-such-bucket' }).write('tenant-a/x.bin');
    target.done.catch(() => undefined);
    // 12 MiB in gzip-sized chunks: once the upload fails nothing reads them, so unless the failure
    // reaches the stream the pipeline waits on backpressure forever.
    const chunks = Array.from({ length: 192 }, () => randomBytes(64 * 1024));
    await assert.rejects(pipeline(Readable.from(chunks), target.stream), (err: Error) => err.name === 'NoSuchBucket');
    await assert.rejects(target.done, (err: Error) => err.name === 'NoSuchBucket');
  });

  it('key prefix › a store with prefix scim/exports › objects land under it and are read back through it', BOUNDED, async () => {
    const prefixed = open({ prefix: 'scim/exports' });
    const target = prefixed.write('tenant-b/e.ndjson.gz');
    await pipeline(Readable.from([Buffer.from('prefixed')]), target.stream);
    await target.done;
    assert.equal(await storage.exists('scim/exports/tenant-b/e.ndjson.gz'), true);
    assert.equal(await storage.exists('tenant-b/e.ndjson.gz'), false);
    assert.equal(await prefixed.exists('tenant-b/e.ndjson.gz'), true);
    assert.equal((await readAll(prefixed.read('tenant-b/e.ndjson.gz'))).toString(), 'prefixed');
  });

  for (const key of [
    '../x',
    '../outside.ndjson.gz',
    'tenant/../../outside.gz',
    '/etc/passwd',
    'tenant//x.gz',
    '.hidden',
    'tenant/./x.gz',
    'tenant\\..\\x.gz',
    '',
  ]) {
    it(`key ${JSON.stringify(key)} › refused before any request`, BOUNDED, async () => {
      const sent = s3.requests.length;
      assert.throws(() => storage.write(key), TypeError);
      assert.throws(() => storage.read(key), TypeError);
      await assert.rejects(storage.exists(key), TypeError);
      assert.equal(s3.requests.length, sent);
    });
  }

  it('key prefix › not a plain relative path › refused by the config and by the constructor', () => {
    for (const bad of ['../x', '/abs', 'trailing/', 'a//b']) {
      assert.throws(() => parseConfig({ EXPORT_S3_BUCKET: BUCKET, EXPORT_S3_PREFIX: bad }), /EXPORT_S3_PREFIX/);
      assert.throws(() => new S3ExportStorage({ bucket: BUCKET, prefix: bad }), TypeError);
    }
  });

  it('createExportStorage › EXPORT_S3_BUCKET set or not › S3 with the parsed settings, else local disk', () => {
    const env = { EXPORT_S3_BUCKET: BUCKET, EXPORT_S3_ENDPOINT: 'http://127.0.0.1:9000', EXPORT_S3_FORCE_PATH_STYLE: 'true' };
    const parsed = parseConfig(env);
    assert.equal(parsed.EXPORT_S3_REGION, 'us-east-1');
    assert.equal(parsed.EXPORT_S3_FORCE_PATH_STYLE, true);
    assert.equal(parseConfig({}).EXPORT_S3_FORCE_PATH_STYLE, false);
    const chosen = createExportStorage(parsed);
    assert.ok(chosen instanceof S3ExportStorage);
    (chosen as S3ExportStorage).close();
    assert.ok(createExportStorage(parseConfig({ EXPORT_S3_BUCKET: '' })) instanceof LocalDiskExportStorage);
  });

  it("end to end › export through the admin API and the worker › stored in the bucket, downloaded and gunzipped to the tenant's lines", BOUNDED, async () => {
    const a = await makeDirectory(t.app);
    const scim = scimClient(t.app, a.token);
    const u = await scim.post('/Users', entraUser()).expect(201);
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${Date.now()}`, members: [{ value: u.body.id }] }).expect(201);

    const created = await asAdmin(request(t.app).post(`/admin/v1/tenants/${a.tenantId}/exports`))
      .send({ from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' })
      .expect(202);
    const id = created.body.id as string;
    const status = await waitFinished(a.tenantId, id);
    assert.equal(status.status, 'done', status.error);
    assert.equal(status.eventCount, 3);

    // In the bucket under EXPORT_S3_PREFIX, and not on local disk.
    assert.equal(await storage.exists(`e2e/${exportKey(a.tenantId, id)}`), true);
    assert.equal(existsSync(path.join(config.EXPORT_DIR, exportKey(a.tenantId, id))), false);

    const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${a.tenantId}/exports/${id}/download`))
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.equal(Number(res.headers['content-length']), status.bytes);
    const lines = gunzipSync(res.body as Buffer)
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => l.type),
      ['user.created', 'group.created', 'group.user_added'],
    );
    assert.ok(lines.every((l) => l.tenantId === a.tenantId));
    assert.equal((lines[0].data as { resource: { id: string } }).resource.id, u.body.id);
  });

  it('end to end › the export object was removed from the bucket › download is 410', BOUNDED, async () => {
    const a = await makeDirectory(t.app);
    await scimClient(t.app, a.token).post('/Users', entraUser()).expect(201);
    const created = await asAdmin(request(t.app).post(`/admin/v1/tenants/${a.tenantId}/exports`))
      .send({ from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' })
      .expect(202);
    assert.equal((await waitFinished(a.tenantId, created.body.id)).status, 'done');
    await admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `e2e/${exportKey(a.tenantId, created.body.id)}` }));
    await asAdmin(request(t.app).get(`/admin/v1/tenants/${a.tenantId}/exports/${created.body.id}/download`)).expect(410);
  });
});
