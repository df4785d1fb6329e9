/**
 * `npm run api` with WEB_CONCURRENCY=2: two API processes on one port behind a cluster primary.
 * One scrape of /metrics reports the requests both answered; a process that dies is replaced;
 * SIGTERM drains both and the primary exits 0.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/redis';
import { logLines, spawnEntry, waitForStatus, type Spawned } from './processes';

/** GET on a connection of its own, so the primary hands each request to the next process in turn. */
function getOnce(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const healthzCount = (metrics: string): number =>
  Number(/^scim_http_requests_total\{method="GET",route="\/healthz",status="2xx"\} (\d+)/m.exec(metrics)?.[1] ?? 0);

/** The pids of the primary's API processes (not the TypeScript loader's helper process). */
const childrenOf = (pid: number): number[] =>
  execFileSync('pgrep', ['-P', String(pid), '-f', 'services/api/server'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map(Number);

const listening = (api: Spawned) => logLines(api.output()).filter((l) => l.msg === 'api listening').length;

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('npm run api › WEB_CONCURRENCY=2', () => {
  let api: Spawned;
  let port: number;
  before(async () => {
    port = await freePort();
    api = spawnEntry('services/api/server.ts', { PORT: String(port), WEB_CONCURRENCY: '2' });
    await until('two processes listening', () => listening(api) === 2, 30_000);
    await waitForStatus(`http://127.0.0.1:${port}/healthz`, 200, 10_000, api);
  });
  after(() => api.kill());

  it('/metrics › one scrape › the requests of both processes, added up', async () => {
    const before = healthzCount((await getOnce(port, '/metrics')).body);
    for (let i = 0; i < 40; i++) assert.equal((await getOnce(port, '/healthz')).status, 200);
    const scrapes = await Promise.all([getOnce(port, '/metrics'), getOnce(port, '/metrics')]);
    // Each process answered about half; either one's scrape counts all 40.
    for (const scrape of scrapes) {
      assert.equal(scrape.status, 200);
      assert.equal(healthzCount(scrape.body) - before, 40);
    }
  });

  it('a process killed › another started in its place, and the port keeps answering', async () => {
    const [first] = childrenOf(api.child.pid!);
    process.kill(first, 'SIGKILL');
    await until('a third "api listening"', () => listening(api) === 3, 30_000);
    assert.equal(childrenOf(api.child.pid!).length, 2);
    assert.ok(!childrenOf(api.child.pid!).includes(first));
    for (let i = 0; i < 4; i++) assert.equal((await getOnce(port, '/healthz')).status, 200);
  });

  it('SIGTERM › both processes drain and the primary exits 0', async () => {
    const children = childrenOf(api.child.pid!);
    api.child.kill('SIGTERM');
    assert.deepEqual(await api.exited(20_000), { code: 0, signal: null });
    const shutdowns = logLines(api.output()).filter((l) => l.msg === 'api shutting down').length;
    assert.ok(shutdowns >= 2, api.output());
    for (const pid of children) assert.throws(() => process.kill(pid, 0), 'an API process outlived its primary');
  });
});
