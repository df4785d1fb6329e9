import { type ReactNode, useId } from 'react';
import { Alert, Badge, Time } from '../common/ui';
import type { RecordedRequest, SetupStatus } from './api';
import type { LiveStatus } from './use-live-status';

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  412: 'Precondition failed',
  413: 'Too large',
  429: 'Too many requests',
  500: 'Server error',
  503: 'Unavailable',
};

function Outcome({ status }: { status: number }) {
  const tone = status < 300 ? 'ok' : status < 500 && status !== 429 ? 'danger' : 'warn';
  return <Badge tone={tone}>{`${status} ${REASONS[status] ?? (status < 300 ? 'OK' : 'Error')}`}</Badge>;
}

/** Requests have no id: time, method, route and status tell them apart, and a counter the rare twins. */
function keyed(requests: RecordedRequest[]) {
  const seen = new Map<string, number>();
  return requests.map((request) => {
    const base = `${request.at} ${request.method} ${request.route} ${request.status}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return { key: `${base} ${n}`, request };
  });
}

/** Whether Test connection arrived; shown at the step that asks for it and in the live status. */
export function TestConnectionState({ status, idp }: { status?: SetupStatus; idp: string }) {
  if (!status) return null;
  if (status.testConnection) {
    return (
      <p className="test-connection">
        <Badge tone="ok">✓ Test connection received</Badge> <Time value={status.testConnection.receivedAt} />
      </p>
    );
  }
  return (
    <p className="test-connection">
      <Badge tone="warn">Waiting for Test connection</Badge> <span className="hint">Click Test connection in {idp}: it shows here within a few seconds.</span>
    </p>
  );
}

function RequestRow({ request }: { request: RecordedRequest }) {
  return (
    <tr className={request.status >= 400 ? 'failed' : undefined}>
      <td className="request-time">
        <Time value={request.at} />
      </td>
      <td>
        <code>
          {request.method} {request.route}
        </code>
        {request.testConnection ? (
          <>
            {' '}
            <Badge tone="info">Test connection</Badge>
          </>
        ) : null}
      </td>
      <td>
        <Outcome status={request.status} />
        {request.explanation ? (
          <div className="explanation">
            <p>{request.explanation.summary}</p>
            <p>
              <strong>Fix:</strong> {request.explanation.fix}
            </p>
          </div>
        ) : null}
      </td>
    </tr>
  );
}

/** One figure, its label naming it for screen readers too. */
function Stat({ label, small = false, children }: { label: string; small?: boolean; children: ReactNode }) {
  const id = useId();
  return (
    // biome-ignore lint/a11y/useSemanticElements: a labelled group, not a form's fieldset: the figure is read with its label.
    <div className="stat" role="group" aria-labelledby={id}>
      <div className="label" id={id}>
        {label}
      </div>
      <div className={small ? 'value small' : 'value'}>{children}</div>
    </div>
  );
}

/** "Live status": Test connection, the latest activity, the counts and the last requests, explained. */
export function LiveStatusSection({ live, idp }: { live: LiveStatus; idp: string }) {
  const { status, stale } = live;
  return (
    <section className="card" aria-labelledby="live-status">
      <div className="section-header">
        <h2 id="live-status">Live status</h2>
        <span className="hint">Updates every few seconds while this page is open.</span>
      </div>
      {stale ? <Alert kind="warning">The status could not be refreshed: the server did not answer. Trying again…</Alert> : null}
      {status ? (
        <>
          <TestConnectionState status={status} idp={idp} />
          <div className="stats">
            <Stat label="Last provisioning activity" small>
              <Time value={status.lastActivityAt} />
            </Stat>
            <Stat label="Last change" small>
              <Time value={status.lastChangeAt} />
            </Stat>
            <Stat label="Users">{status.users}</Stat>
            <Stat label="Groups">{status.groups}</Stat>
          </div>
          <h3>Last requests</h3>
          {status.requests.length === 0 ? (
            <p className="empty">No requests yet. When {idp} sends its first one (Test connection), it shows here within a few seconds.</p>
          ) : (
            <table className="requests stack-on-mobile">
              <caption className="visually-hidden">The last requests {idp} sent, newest first</caption>
              <colgroup>
                <col className="col-time" />
                <col className="col-request" />
                <col />
              </colgroup>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Request</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {keyed(status.requests).map(({ key, request }) => (
                  <RequestRow key={key} request={request} />
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : stale ? null : (
        <p className="hint">Loading the status…</p>
      )}
    </section>
  );
}
