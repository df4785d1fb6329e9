/**
 * What the setup page's polite live region says between two polls of the status: the first Test
 * connection, new counts and new failures, and nothing for a poll that brought only successes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedRequest, SetupStatus } from '../../services/web/src/setup/api';
import { describeNews } from '../../services/web/src/setup/status-news';

const request = (at: string, status: number): RecordedRequest => ({
  at,
  method: 'POST',
  route: '/scim/v1/Users',
  status,
  scimType: null,
  attribute: null,
  testConnection: false,
  explanation: null,
});

const status = (overrides: Partial<SetupStatus> = {}): SetupStatus => ({
  testConnection: null,
  lastActivityAt: null,
  lastChangeAt: null,
  users: 0,
  groups: 0,
  requests: [],
  ...overrides,
});

const T1 = '2026-01-01T10:00:00.000Z';
const T2 = '2026-01-01T10:00:03.000Z';

describe('setup page › status news', () => {
  const cases: [string, SetupStatus, SetupStatus, string][] = [
    ['nothing changed › says nothing', status(), status(), ''],
    ['only new successful requests › says nothing', status({ requests: [request(T1, 200)] }), status({ requests: [request(T2, 200), request(T1, 200)] }), ''],
    ['the first Test connection › announced', status(), status({ testConnection: { receivedAt: T1 } }), 'Test connection received.'],
    ['a later Test connection › not announced again', status({ testConnection: { receivedAt: T1 } }), status({ testConnection: { receivedAt: T2 } }), ''],
    ['counts changed › both counts, singular and plural', status(), status({ users: 1, groups: 2 }), 'Now 1 user and 2 groups.'],
    [
      'two failures newer than the last poll › counted, older ones not',
      status({ requests: [request(T1, 409)] }),
      status({ requests: [request(T2, 409), request(T2, 400), request(T1, 409)] }),
      '2 new failed requests: see Last requests.',
    ],
    [
      'all at once › one sentence each, in order',
      status(),
      status({ testConnection: { receivedAt: T1 }, users: 1, requests: [request(T1, 409)] }),
      'Test connection received. Now 1 user and 0 groups. 1 new failed request: see Last requests.',
    ],
  ];
  for (const [name, before, after, expected] of cases) {
    it(name, () => assert.equal(describeNews(before, after), expected));
  }
});
