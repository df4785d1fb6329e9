import type { SetupStatus } from './api';

/**
 * What changed between two polls, in one sentence, or '' when nothing worth saying did: a
 * screen reader hears of the first Test connection, new counts and new failures, not of every
 * successful request.
 */
export function describeNews(before: SetupStatus, after: SetupStatus): string {
  const parts: string[] = [];
  if (!before.testConnection && after.testConnection) parts.push('Test connection received.');
  if (before.users !== after.users || before.groups !== after.groups) parts.push(`Now ${plural(after.users, 'user')} and ${plural(after.groups, 'group')}.`);
  const newest = before.requests[0]?.at;
  const failed = after.requests.filter((r) => r.status >= 400 && (!newest || r.at > newest)).length;
  if (failed > 0) parts.push(`${plural(failed, 'new failed request')}: see Last requests.`);
  return parts.join(' ');
}

export const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
