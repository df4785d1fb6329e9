import { createApp } from '../../services/api/app';
import { ScimActivityRecorder } from '../../services/api/scim-activity';
import { config } from '../../shared/config';
import { AuthChangeListener } from '../../shared/db/auth-changes';
import { type Repositories, repositoriesFor } from '../../shared/db/repositories';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { logger } from '../../shared/telemetry/logger';

export const ADMIN_TOKEN = 'test-admin-token-0123456789-abcdefghij';
export const PUBLIC_BASE_URL = 'https://scim.test.example';

export interface TestApp {
  readonly app: ReturnType<typeof createApp>;
  readonly db: Database;
  /** The repositories the app uses, for tests that read or write beside it. */
  readonly repos: Repositories;
  /** The SCIM request recorder, when asked for with `recordActivity` (tests call its flush()). */
  readonly activity?: ScimActivityRecorder;
  close(): Promise<void>;
}

export interface TestAppOptions extends Partial<Parameters<typeof createApp>[0]> {
  readonly db?: Database;
  /** Record SCIM requests for the setup page, as server.ts does. Default: off. */
  readonly recordActivity?: boolean;
}

/** The real Express app on the real test database; close() in after(). */
export function makeTestApp(overrides: TestAppOptions = {}): TestApp {
  const { db: given, recordActivity, ...options } = overrides;
  const db = given ?? createDatabase({ poolMax: 5 });
  const repos = repositoriesFor(db, config);
  const activity = recordActivity ? new ScimActivityRecorder({ writer: repos.operator.scimActivity, logger }) : undefined;
  // The same key cache as production, invalidated by PostgreSQL notifications, so revocation
  // tests prove the cache cannot serve a revoked key.
  const authChanges = new AuthChangeListener({ url: config.DATABASE_DIRECT_URL, logger });
  void authChanges.start();
  const app = createApp({
    repos,
    authChanges,
    logger,
    adminToken: ADMIN_TOKEN,
    publicBaseUrl: PUBLIC_BASE_URL,
    region: 'us',
    maxPayloadBytes: 1_048_576,
    maxPageSize: 1000,
    maxBulkOperations: 1000,
    activity,
    ...options,
  });
  return {
    app,
    db,
    repos,
    activity,
    close: async () => {
      await activity?.close();
      await authChanges.close();
      await db.close();
    },
  };
}
