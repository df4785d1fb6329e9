/**
 * What the browser suites (test/browser) run against: the real API listening on 127.0.0.1 with
 * the built pages (npm test builds them first), a worker in-process with its own queue prefix,
 * and Debian's chromium driven by playwright-core.
 *
 *   const platform = await startPlatform();        // platform.url → http://127.0.0.1:<port>
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 *   await page.goto(`${platform.url}/admin/console/`);
 *   await expectAccessible(page);                  // axe-core: no violations
 *   await screenshot(page, 'console-tenants');     // SCREENSHOTS_DIR or a temporary directory
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import type { Queue } from 'bullmq';
import { type Browser, chromium, type Page } from 'playwright-core';
import { config, type Config } from '../../shared/config';
import { createExportStorage } from '../../shared/exports';
import { type AuditExportJob, type GroupReconcileJob, QUEUES, type DeliveryQueue } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { startWorker } from '../../workers/main';
import { AuthChangeListener } from '../../shared/db/auth-changes';
import { createDatabase } from '../../shared/db/sequelize';
import { logger } from '../../shared/telemetry/logger';
import { makeTestApp, type TestApp } from './app';
import { createPrivateDatabase } from './private-database';
import { redisConnections } from './connections';

/** Debian's package (apt-get install chromium); .ci/run installs it when missing. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Platform {
  /** e.g. http://127.0.0.1:40123, also the app's PUBLIC_BASE_URL (setup links and Tenant URLs point here). */
  readonly url: string;
  /** The app's repositories and database (a private one: closed and dropped by close()), for arranging data beside the browser. */
  readonly t: TestApp;
  close(): Promise<void>;
}

/**
 * The API on a real listening socket, recording SCIM activity for the setup page, and a worker
 * (relay, deliveries, audit exports, group reconciliation, sweeper) on a queue prefix of its
 * own, retrying fast so a dead delivery happens within seconds.
 */
export async function startPlatform(options: { retrySchedule?: string } = {}): Promise<Platform> {
  // A database of its own: the worker's relay reads every tenant's events, and on the shared test
  // database it would take (and deliver) those of the suites running beside it.
  const database = await createPrivateDatabase('browser');
  const db = createDatabase({ url: database.url, poolMax: 5 });
  // Revoked keys are announced on this database, so the key cache listens to it.
  const authChanges = new AuthChangeListener({ url: database.url, logger });
  void authChanges.start();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connections = redisConnections();
  const prefix = `test-browser-${process.pid}-${Date.now().toString(36)}`;
  const webhookDelivery: DeliveryQueue = createQueue(QUEUES.webhookDelivery, { connection: connections.connect(), prefix });
  const auditExport: Queue<AuditExportJob> = createQueue(QUEUES.auditExport, { connection: connections.connect(), prefix });
  const groupReconcile: Queue<GroupReconcileJob> = createQueue(QUEUES.groupReconcile, { connection: connections.connect(), prefix });
  // Exports are written (worker) and read (downloads) in a directory of this run's own.
  const exportDir = mkdtempSync(path.join(os.tmpdir(), 'scim-browser-exports-'));
  const workerConfig: Config = Object.freeze({
    ...config,
    WEBHOOK_RETRY_SCHEDULE: options.retrySchedule ?? '100ms,200ms',
    WEBHOOK_TIMEOUT_MS: 1000,
    EXPORT_DIR: exportDir,
    EXPORT_S3_BUCKET: undefined,
  });
  const t = makeTestApp({
    db,
    authChanges,
    publicBaseUrl: url,
    recordActivity: true,
    queues: { webhookDelivery, auditExport, groupReconcile },
    exportStorage: createExportStorage(workerConfig),
  });
  server.on('request', t.app);
  const worker = await startWorker({ db: t.db, redis: connections.connect, queuePrefix: prefix, config: workerConfig });
  return {
    url,
    t,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await worker.close();
      for (const queue of [webhookDelivery, auditExport, groupReconcile] as Queue[]) {
        await queue.obliterate({ force: true }).catch(() => undefined);
        await queue.close();
      }
      rmSync(exportDir, { recursive: true, force: true });
      connections.disconnectAll();
      await t.close();
      await authChanges.close();
      await database.drop();
    },
  };
}

/** Headless Debian chromium; fails with what to install when it is missing. */
export async function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  // --no-sandbox: CI runs as root, where chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A page with clipboard access, so "Copy" buttons can be checked by reading the clipboard back. */
export async function newPage(browser: Browser, origin: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  return context.newPage();
}

/** axe-core over the whole page (WCAG 2.1 A and AA rules): no violations, listed by rule when there are. */
export async function expectAccessible(page: Page): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  assert.deepEqual(
    violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    [],
  );
}

let screenshotDir: string | undefined;

/**
 * A full-page PNG named for the page. With SCREENSHOTS_DIR set (docs/screenshots refreshes the
 * README's pictures) it is written there; otherwise to a temporary directory.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  screenshotDir ??= process.env.SCREENSHOTS_DIR ? path.resolve(process.env.SCREENSHOTS_DIR) : mkdtempSync(path.join(os.tmpdir(), 'scim-screens-'));
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
