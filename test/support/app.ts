import { createApp } from '../../services/api/app';
import { config } from '../../shared/config';
import { AuthChangeListener } from '../../shared/db/auth-changes';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { logger } from '../../shared/telemetry/logger';

export const ADMIN_TOKEN = 'test-admin-token-0123456789-abcdefghij';
export const PUBLIC_BASE_URL = 'https://scim.test.example';

export interface TestApp {
  readonly app: ReturnType<typeof createApp>;
  readonly db: Database;
  close(): Promise<void>;
}

/** The real Express app on the real test database; close() in after(). */
export function makeTestApp(overrides: Partial<Parameters<typeof createApp>[0]> = {}): TestApp {
  const db = createDatabase({ poolMax: 5 });
  // The same key cache as production, invalidated by PostgreSQL notifications, so revocation
  // tests prove the cache cannot serve a revoked key.
  const authChanges = new AuthChangeListener({ url: config.DATABASE_URL, logger });
  void authChanges.start();
  const app = createApp({
    db,
    authChanges,
    logger,
    adminToken: ADMIN_TOKEN,
    publicBaseUrl: PUBLIC_BASE_URL,
    region: 'us',
    maxPayloadBytes: 1_048_576,
    maxPageSize: 1000,
    maxBulkOperations: 1000,
    ...overrides,
  });
  return {
    app,
    db,
    close: async () => {
      await authChanges.close();
      await db.close();
    },
  };
}
