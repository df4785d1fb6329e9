import type { DependencyCheck } from '../telemetry/health';
import type { Database } from './sequelize';

/** The readiness probes' PostgreSQL check: `SELECT 1` through the process's own pool. */
export function postgresCheck(db: Database): DependencyCheck {
  return { name: 'postgres', check: () => db.acrossTenants().query('SELECT 1') };
}
