import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';

interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

describe('web pages › assets', () => {
  let t: TestApp;
  let server: http.Server;
  let script: string;
  /** The bytes as sent (supertest would decode them): a real socket, node:http. */
  const raw = (asset: string, acceptEncoding: string) =>
    new Promise<RawAnswer>((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      http
        .get({ host: '127.0.0.1', port, path: asset, headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
  let stylesheet: string;

  before(async () => {
    t = makeTestApp();
    server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const page = await request(t.app).get('/admin/console/').expect(200);
    script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(page.text)?.[1] ?? '';
    stylesheet = /href="(\/ui\/assets\/[^"]+\.css)"/.exec(page.text)?.[1] ?? '';
    assert.ok(script && stylesheet, 'the console page names its script and stylesheet');
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  for (const [encoding, decode] of [
    ['br', brotliDecompressSync],
    ['gzip', gunzipSync],
  ] as const) {
    it(`a script and a stylesheet › Accept-Encoding ${encoding} › the build's ${encoding} copy, with the asset's type, cacheable for a year`, async () => {
      for (const [asset, type] of [
        [script, /^text\/javascript|^application\/javascript/],
        [stylesheet, /^text\/css/],
      ] as const) {
        const plain = await raw(asset, 'identity');
        assert.equal(plain.status, 200);
        assert.equal(plain.headers['content-encoding'], undefined);
        const packed = await raw(asset, `${encoding}, deflate`);
        assert.equal(packed.status, 200);
        assert.equal(packed.headers['content-encoding'], encoding);
        assert.match(packed.headers['content-type'] ?? '', type);
        assert.match(packed.headers.vary ?? '', /Accept-Encoding/i);
        assert.match(packed.headers['cache-control'] ?? '', /immutable/);
        assert.ok(packed.body.length < plain.body.length, 'smaller');
        assert.deepEqual(decode(packed.body), plain.body);
      }
    });
  }

  it('brotli and gzip both accepted › brotli (the smaller)', async () => {
    const res = await raw(script, 'gzip, deflate, br');
    assert.equal(res.headers['content-encoding'], 'br');
  });

  it('an asset that does not exist › a SCIM 404, in any encoding; a path climbing out › 400', async () => {
    const missing = await request(t.app).get('/ui/assets/nothing-here.js').set('Accept-Encoding', 'br').expect(404);
    assert.deepEqual(missing.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
    await request(t.app).get('/ui/assets/../../package.json').expect(400);
  });
});
