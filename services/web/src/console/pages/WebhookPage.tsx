import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react';
import { Alert, ConfirmButton, ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type Delivery, type DeliveryDetail, type DeliveryPage, type ReplayResult, type WebhookEndpoint, type WebhookWithSecret } from '../api';
import { PageHeader, TenantTabs, useTenant } from '../layout';
import { Table, useOpenRows } from '../list-table';
import { usePoll } from '../poll';
import { navigate } from '../router';
import { DeliveryStatus, type EventChoice, EndpointStatus, EventTypesField, SecretOnce, SubscribedEvents } from './webhook-parts';

/** How often the delivery log refreshes itself while a delivery is pending, ms. */
const POLL_MS = 2000;
const PAGE = 25;

/** One webhook endpoint: its settings, secret, a test event, and the delivery log with replay. */
export function WebhookPage({ tenantId, webhookId }: { tenantId: string; webhookId: string }) {
  const tenant = useTenant(tenantId);
  const path = `/tenants/${encodeURIComponent(tenantId)}/webhooks/${encodeURIComponent(webhookId)}`;
  const endpoint = useLoad(() => admin<WebhookEndpoint>(path), [path]);
  const [logVersion, setLogVersion] = useState(0);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<unknown>();
  const refreshLog = () => setLogVersion((v) => v + 1);

  const sendTest = async () => {
    setNotice(undefined);
    setError(undefined);
    try {
      await admin<Delivery>(`${path}/test`, { method: 'POST' });
      setNotice('Test event queued: its delivery is in the log below, which refreshes until it is delivered or dead.');
      refreshLog();
    } catch (e) {
      setError(e);
    }
  };

  const trail = [
    { to: '/', label: 'Tenants' },
    { to: `/tenants/${tenantId}`, label: tenant.data?.name ?? 'Tenant' },
    { to: `/tenants/${tenantId}/webhooks`, label: 'Webhooks' },
  ];
  const current = endpoint.data;
  return (
    <>
      <PageHeader
        title="Webhook endpoint"
        subtitle={current ? <code>{current.url}</code> : undefined}
        trail={trail}
        actions={
          current ? (
            <button type="button" onClick={sendTest} disabled={current.status === 'disabled'}>
              Send test event
            </button>
          ) : undefined
        }
      />
      <TenantTabs tenantId={tenantId} />
      <ErrorAlert error={endpoint.error ?? tenant.error} />
      <ErrorAlert error={error} />
      {notice ? <Alert kind="success">{notice}</Alert> : null}
      {current?.status === 'disabled' ? (
        <Alert kind="info">This endpoint is disabled: nothing is sent to it, and test events and replays wait until it is enabled.</Alert>
      ) : null}
      {endpoint.loading && !current ? <p className="hint">Loading the endpoint…</p> : null}
      {current ? (
        <>
          <Details endpoint={current} path={path} onChanged={endpoint.reload} />
          <DeliveryLog path={path} version={logVersion} canReplay={current.status !== 'disabled'} onReplayed={endpoint.reload} />
          <Secret endpoint={current} path={path} onRotated={endpoint.reload} />
          <section className="card" aria-labelledby="remove-webhook">
            <h2 id="remove-webhook">Remove the endpoint</h2>
            <p>Removing it stops every delivery and deletes its delivery log. The tenant's events stay in the events feed.</p>
            <ConfirmButton
              label="Delete webhook"
              title="Delete this webhook endpoint?"
              confirmLabel="Delete it"
              danger
              onConfirm={async () => {
                setError(undefined);
                try {
                  await admin<void>(path, { method: 'DELETE' });
                  navigate(`/tenants/${tenantId}/webhooks`);
                } catch (e) {
                  setError(e);
                }
              }}
            >
              <p>
                Nothing more is sent to <code>{current.url}</code>, and its deliveries are deleted. This cannot be undone.
              </p>
            </ConfirmButton>
          </section>
        </>
      ) : null}
    </>
  );
}

/** What the endpoint is, and a form to change it or to disable and enable it. */
function Details({ endpoint, path, onChanged }: { endpoint: WebhookEndpoint; path: string; onChanged: () => void }) {
  const [editing, setEditing] = useState(false);
  const [url, setUrl] = useState(endpoint.url);
  const [description, setDescription] = useState(endpoint.description ?? '');
  const [events, setEvents] = useState<EventChoice>(endpoint.events);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState<string>();
  const startEditing = () => {
    setUrl(endpoint.url);
    setDescription(endpoint.description ?? '');
    setEvents(endpoint.events);
    setSaved(undefined);
    setEditing(true);
  };
  const patch = async (body: Record<string, unknown>, done: string) => {
    setError(undefined);
    setSaved(undefined);
    try {
      await admin<WebhookEndpoint>(path, { method: 'PATCH', body });
      setSaved(done);
      setEditing(false);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const save = (event: FormEvent) => {
    event.preventDefault();
    void patch({ url, description: description.trim() ? description : null, events }, 'Changes saved.');
  };
  return (
    <section className="card" aria-labelledby="webhook-details">
      <h2 id="webhook-details">Details</h2>
      <ErrorAlert error={error} />
      {saved ? <Alert kind="success">{saved}</Alert> : null}
      {editing ? (
        <form onSubmit={save}>
          <div className="grid-2">
            <Field label="Endpoint URL">{({ id }) => <input id={id} type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />}</Field>
            <Field label="Description" hint="Optional.">
              {({ id, describedBy }) => (
                <input
                  id={id}
                  type="text"
                  maxLength={500}
                  value={description}
                  onChange={(e) => setDescription(e.target.value)}
                  aria-describedby={describedBy}
                />
              )}
            </Field>
          </div>
          <EventTypesField value={events} onChange={setEvents} />
          <div className="actions">
            <button type="submit" disabled={!url.trim() || (events !== null && events.length === 0)}>
              Save changes
            </button>
            <button type="button" className="secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <dl className="details">
            <dt>URL</dt>
            <dd className="wrap-anywhere">
              <code>{endpoint.url}</code>
            </dd>
            <dt>Description</dt>
            <dd>{endpoint.description ? endpoint.description : <span className="empty">none</span>}</dd>
            <dt>Events</dt>
            <dd>
              <SubscribedEvents events={endpoint.events} />
            </dd>
            <dt>Status</dt>
            <dd>
              <EndpointStatus endpoint={endpoint} />
              {endpoint.failingSince ? (
                <div className="hint">
                  Failing since <Time value={endpoint.failingSince} />
                </div>
              ) : null}
            </dd>
            <dt>Added</dt>
            <dd>
              <Time value={endpoint.createdAt} />
            </dd>
          </dl>
          <div className="actions">
            <button type="button" className="secondary" onClick={startEditing}>
              Edit
            </button>
            {endpoint.status === 'disabled' ? (
              <button type="button" className="secondary" onClick={() => patch({ status: 'active' }, 'Endpoint enabled: deliveries resume.')}>
                Enable
              </button>
            ) : (
              <ConfirmButton
                label="Disable"
                title="Disable this endpoint?"
                confirmLabel="Disable it"
                onConfirm={() => patch({ status: 'disabled' }, 'Endpoint disabled: nothing is sent to it until it is enabled.')}
              >
                <p>Deliveries stop until you enable it again. Events that happen meanwhile can be replayed later.</p>
              </ConfirmButton>
            )}
          </div>
        </>
      )}
    </section>
  );
}

/** Rotation: a new secret shown once; the previous one keeps signing too until the overlap ends. */
function Secret({ endpoint, path, onRotated }: { endpoint: WebhookEndpoint; path: string; onRotated: () => void }) {
  const [rotated, setRotated] = useState<WebhookWithSecret>();
  const [error, setError] = useState<unknown>();
  const rotate = async () => {
    setError(undefined);
    try {
      setRotated(await admin<WebhookWithSecret>(`${path}/rotate-secret`, { method: 'POST', body: {} }));
      onRotated();
    } catch (e) {
      setError(e);
    }
  };
  const overlapEnds = rotated?.previousSecretExpiresAt ?? endpoint.previousSecretExpiresAt;
  return (
    <section className="card" aria-labelledby="webhook-secret">
      <h2 id="webhook-secret">Signing secret</h2>
      <ErrorAlert error={error} />
      {rotated ? <SecretOnce secret={rotated.secret} heading="The new signing secret." /> : null}
      {overlapEnds && new Date(overlapEnds) > new Date() ? (
        <p>
          Until <Time value={overlapEnds} /> each delivery carries a signature by the previous secret too, so the receiver can switch without a gap.
        </p>
      ) : (
        <p>The secret was shown once, when the endpoint was added. Rotate it if it was lost or leaked.</p>
      )}
      <ConfirmButton label="Rotate secret" title="Rotate the signing secret?" confirmLabel="Rotate it" onConfirm={rotate}>
        <p>
          A new secret is made and shown once. The current one keeps signing too for a day (each delivery then carries both signatures), time for the receiver
          to switch to the new one.
        </p>
      </ConfirmButton>
    </section>
  );
}

type StatusFilter = '' | Delivery['status'];

/**
 * The endpoint's deliveries, newest first, a page at a time; each opens to its attempts. While
 * one is pending the log refreshes itself (the loaded rows, re-read in one call).
 */
function DeliveryLog({ path, version, canReplay, onReplayed }: { path: string; version: number; canReplay: boolean; onReplayed: () => void }) {
  const [status, setStatus] = useState<StatusFilter>('');
  const [rows, setRows] = useState<Delivery[]>();
  const [page, setPage] = useState<{ next: string | null; hasMore: boolean }>({ next: null, hasMore: false });
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const opened = useOpenRows('delivery');
  const loaded = useRef(PAGE);

  const query = (limit: number, after?: string | null) => {
    const params = new URLSearchParams({ limit: String(limit) });
    if (status) params.set('status', status);
    if (after) params.set('after', after);
    return `${path}/deliveries?${params}`;
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: query reads path and status, named here.
  const refresh = useCallback(async () => {
    try {
      const answer = await admin<DeliveryPage>(query(Math.min(1000, Math.max(PAGE, loaded.current))));
      setRows(answer.data);
      setPage({ next: answer.next, hasMore: answer.hasMore });
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  }, [path, status]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new version (test sent, replay) reloads.
  useEffect(() => {
    void refresh();
  }, [refresh, version]);
  const pending = rows?.some((d) => d.status === 'pending') ?? false;
  usePoll(() => void refresh(), POLL_MS, pending);

  const loadMore = async () => {
    try {
      const answer = await admin<DeliveryPage>(query(PAGE, page.next));
      setRows((r) => [...(r ?? []), ...answer.data]);
      loaded.current += answer.data.length;
      setPage({ next: answer.next, hasMore: answer.hasMore });
    } catch (e) {
      setError(e);
    }
  };
  const changeFilter = (next: StatusFilter) => {
    loaded.current = PAGE;
    setRows(undefined);
    setStatus(next);
  };
  const replayOne = async (delivery: Delivery) => {
    setNotice(undefined);
    try {
      await admin<DeliveryDetail>(`${path}/deliveries/${delivery.id}/replay`, { method: 'POST' });
      setNotice(`The ${delivery.eventType} delivery is queued again.`);
      await refresh();
      onReplayed();
    } catch (e) {
      setError(e);
    }
  };
  const replayDead = async () => {
    setNotice(undefined);
    try {
      const { replayed } = await admin<ReplayResult>(`${path}/replay`, { method: 'POST', body: { status: 'dead' } });
      setNotice(replayed === 0 ? 'There were no dead deliveries to replay.' : `${replayed} dead ${replayed === 1 ? 'delivery' : 'deliveries'} queued again.`);
      await refresh();
      onReplayed();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section className="card" aria-labelledby="delivery-log">
      <div className="section-header">
        <h2 id="delivery-log">Delivery log</h2>
        <div className="actions">
          <button type="button" className="secondary" onClick={() => void refresh()}>
            Refresh
          </button>
          <ConfirmButton label="Replay all dead" title="Replay every dead delivery?" confirmLabel="Replay them" disabled={!canReplay} onConfirm={replayDead}>
            <p>Every dead delivery of this endpoint is sent again, with its original event id, so a receiver that keeps ids sees each once.</p>
          </ConfirmButton>
        </div>
      </div>
      <div className="inline-form log-filter">
        <Field label="Status">
          {({ id }) => (
            <select id={id} value={status} onChange={(e) => changeFilter(e.target.value as StatusFilter)}>
              <option value="">Every status</option>
              <option value="pending">Pending</option>
              <option value="delivered">Delivered</option>
              <option value="dead">Dead</option>
            </select>
          )}
        </Field>
        {pending ? <p className="hint">Refreshing every few seconds while a delivery is pending.</p> : null}
      </div>
      <ErrorAlert error={error} />
      {notice ? <Alert kind="success">{notice}</Alert> : null}
      {rows === undefined && !error ? <p className="hint">Loading the deliveries…</p> : null}
      {rows && rows.length === 0 ? (
        <p className="empty">{status ? `No ${status} deliveries.` : 'No deliveries yet: send a test event, or change a user or group in a directory.'}</p>
      ) : null}
      {rows && rows.length > 0 ? (
        <Table
          rows={rows}
          columns={[
            { header: 'Event', className: 'nowrap', cell: (delivery) => <code>{delivery.eventType}</code> },
            {
              header: 'Status',
              cell: (delivery) => (
                <>
                  <DeliveryStatus status={delivery.status} />
                  {delivery.status === 'pending' && delivery.nextAttemptAt ? (
                    <div className="hint">
                      next try <Time value={delivery.nextAttemptAt} />
                    </div>
                  ) : null}
                  {delivery.deliveredAt ? (
                    <div className="hint">
                      <Time value={delivery.deliveredAt} />
                    </div>
                  ) : null}
                </>
              ),
            },
            { header: 'Attempts', cell: (delivery) => delivery.attemptCount },
            { header: 'Last answer', className: 'wrap-anywhere', cell: (delivery) => <LastAnswer status={delivery.lastStatus} error={delivery.lastError} /> },
            { header: 'Queued', cell: (delivery) => <Time value={delivery.createdAt} /> },
            {
              header: 'Actions',
              hidden: true,
              cell: (delivery) => (
                <div className="actions nowrap">
                  {opened.button(
                    delivery.id,
                    { closed: 'Attempts', opened: 'Hide attempts' },
                    <>
                      of the {delivery.eventType} delivery queued {new Date(delivery.createdAt).toLocaleString()}
                    </>,
                  )}
                  <button type="button" className="secondary" disabled={!canReplay} onClick={() => replayOne(delivery)}>
                    Replay
                    <span className="visually-hidden">
                      {' '}
                      the {delivery.eventType} delivery queued {new Date(delivery.createdAt).toLocaleString()}
                    </span>
                  </button>
                </div>
              ),
            },
          ]}
          detail={(delivery) => opened.detail(delivery.id, () => <Attempts path={`${path}/deliveries/${delivery.id}`} delivery={delivery} />)}
        />
      ) : null}
      {page.hasMore ? (
        <p>
          <button type="button" className="secondary" onClick={loadMore}>
            Load older deliveries
          </button>
        </p>
      ) : null}
    </section>
  );
}

function LastAnswer({ status, error }: { status: number | null; error: string | null }) {
  if (status === null && !error) return <span className="empty">none yet</span>;
  return (
    <>
      {status !== null ? <span className="mono">HTTP {status}</span> : null}
      {status !== null && error ? ' · ' : null}
      {error ? <span>{error}</span> : null}
    </>
  );
}

/** Every call made for one delivery, re-read when the delivery changes. */
function Attempts({ path, delivery }: { path: string; delivery: Delivery }) {
  const detail = useLoad(() => admin<DeliveryDetail>(path), [path, delivery.updatedAt, delivery.attemptCount]);
  if (detail.error) return <ErrorAlert error={detail.error} />;
  if (!detail.data) return <p className="hint">Loading the attempts…</p>;
  if (detail.data.attempts.length === 0) return <p className="empty">No attempt yet.</p>;
  return (
    <table className="attempts">
      <caption>
        Attempts of event <code>{detail.data.eventId}</code>
      </caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Started</th>
          <th scope="col">Duration</th>
          <th scope="col">Answer</th>
          <th scope="col">Response excerpt</th>
        </tr>
      </thead>
      <tbody>
        {detail.data.attempts.map((a) => (
          <tr key={a.attempt}>
            <td>{a.attempt}</td>
            <td>
              <Time value={a.startedAt} />
            </td>
            <td>{a.durationMs === null ? '–' : `${a.durationMs} ms`}</td>
            <td className="wrap-anywhere">
              <LastAnswer status={a.statusCode} error={a.error} />
            </td>
            <td className="wrap-anywhere">{a.responseExcerpt ? <code>{a.responseExcerpt}</code> : <span className="empty">empty</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
