// The audit_exports statements live in shared/db/repositories/audit-exports.ts; this path stays
// while shared/telemetry/metrics.ts, changed on another branch right now, imports the sweep here.
export { auditExportSweep } from '../db/repositories/audit-exports';
