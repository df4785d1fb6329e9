import type { OperatorRepositories } from '../db/repositories';
import type { FailureWindow } from '../db/repositories/scim-activity';
import { collectFrom, METRICS, registerScrapedGauges } from '../telemetry/metrics';

/**
 * When a directory counts as heading for Entra's quarantine: at least 10 requests in the last
 * 15 minutes, half or more of them failed. Entra quarantines a job whose calls mostly fail over
 * time; listing the directory well before that gives the operator time to call the customer.
 */
export const QUARANTINE_WATCH: FailureWindow = Object.freeze({ minutes: 15, minRequests: 10, minRatio: 0.5 });

let watched: OperatorRepositories | undefined;

// A count, not a series per directory: metrics carry no ids (telemetry/metrics.ts). Which
// directories they are is GET /admin/v1/failing-directories, by name and tenant.
registerScrapedGauges(async () => {
  const operator = watched;
  return operator && collectFrom('failing-directories', () => operator.failingDirectories.list(QUARANTINE_WATCH));
}, [
  {
    name: METRICS.directoriesFailing,
    help: "Directories whose SCIM requests mostly failed in the last 15 minutes (at least 10, half failed: 5xx, or 4xx but 404 and 429), as Entra's quarantine would judge them",
    // A label (one value) so that an unreadable log leaves no series rather than a false 0.
    labelNames: ['window'],
    report: (failing, set) => set({ window: `${QUARANTINE_WATCH.minutes}m` }, failing.length),
  },
]);

/** Reports the failing directories read through `operator` on every scrape; returns a function that stops it. */
export function watchFailingDirectories(operator: OperatorRepositories): () => void {
  watched = operator;
  return () => {
    if (watched === operator) watched = undefined;
  };
}
