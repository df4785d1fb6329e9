import { Fragment, useCallback, useEffect, useState } from 'react';
import { ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type Directory, type Event, type EventPage, type List } from '../api';
import { PageHeader, TenantTabs, useTenant } from '../layout';
import { Link } from '../router';
import { SUBSCRIBABLE_TYPES } from './webhook-parts';

const PAGE = 50;

/**
 * The tenant's events feed in commit order, oldest first, a page at a time from the cursor.
 * The feed API takes no filters, so the filters narrow the events loaded so far (and say so).
 */
export function EventsPage({ tenantId }: { tenantId: string }) {
  const tenant = useTenant(tenantId);
  const base = `/tenants/${encodeURIComponent(tenantId)}`;
  const directories = useLoad(() => admin<List<Directory>>(`${base}/directories`), [base]);
  const [events, setEvents] = useState<Event[]>();
  const [cursor, setCursor] = useState<{ next: string | null; hasMore: boolean }>({ next: null, hasMore: false });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [type, setType] = useState('');
  const [directoryId, setDirectoryId] = useState('');
  const [resource, setResource] = useState('');
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());

  const read = useCallback(
    async (after: string | null, into: Event[]) => {
      setBusy(true);
      try {
        const params = new URLSearchParams({ limit: String(PAGE) });
        if (after) params.set('after', after);
        const page = await admin<EventPage>(`${base}/events?${params}`);
        setEvents([...into, ...page.data]);
        // An empty page keeps the cursor: "Check for newer events" asks from the same point.
        setCursor({ next: page.next ?? after, hasMore: page.hasMore });
        setError(undefined);
      } catch (e) {
        setError(e);
      } finally {
        setBusy(false);
      }
    },
    [base],
  );
  useEffect(() => {
    setEvents(undefined);
    void read(null, []);
  }, [read]);

  const directoryName = (id: string) => directories.data?.data.find((d) => d.id === id)?.name ?? id;
  const needle = resource.trim().toLowerCase();
  const shown = (events ?? []).filter(
    (e) => (!type || e.type === type) && (!directoryId || e.directoryId === directoryId) && (!needle || e.resourceId.toLowerCase().includes(needle)),
  );
  const filtering = Boolean(type || directoryId || needle);
  const toggle = (id: string) =>
    setOpen((was) => {
      const next = new Set(was);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  return (
    <>
      <PageHeader
        title="Events"
        subtitle="Every change in this tenant's directories, in the order it was committed: what webhooks deliver and audit exports keep."
        trail={[
          { to: '/', label: 'Tenants' },
          { to: `/tenants/${tenantId}`, label: tenant.data?.name ?? 'Tenant' },
        ]}
      />
      <TenantTabs tenantId={tenantId} />
      <ErrorAlert error={tenant.error} />
      <section className="card" aria-labelledby="event-filters">
        <h2 id="event-filters">Show only</h2>
        <p className="hint">The feed is read a page at a time; these filters narrow the events loaded so far.</p>
        <div className="inline-form">
          <Field label="Type">
            {({ id }) => (
              <select id={id} value={type} onChange={(e) => setType(e.target.value)}>
                <option value="">Every type</option>
                {SUBSCRIBABLE_TYPES.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Directory">
            {({ id }) => (
              <select id={id} value={directoryId} onChange={(e) => setDirectoryId(e.target.value)}>
                <option value="">Every directory</option>
                {directories.data?.data.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Resource id">{({ id }) => <input id={id} type="search" value={resource} onChange={(e) => setResource(e.target.value)} />}</Field>
        </div>
        <p className="hint" role="status">
          {events === undefined
            ? ''
            : filtering
              ? `${shown.length} of the ${events.length} events loaded match.${cursor.hasMore ? ' Load more to search further.' : ''}`
              : `${events.length} ${events.length === 1 ? 'event' : 'events'} loaded.`}
        </p>
      </section>
      <section className="card" aria-labelledby="event-list">
        <h2 id="event-list">Feed</h2>
        <ErrorAlert error={error} />
        {events === undefined && !error ? <p className="hint">Loading the events…</p> : null}
        {events && events.length === 0 ? (
          <p className="empty">
            No events yet: they appear as soon as an identity provider creates, changes or removes a user or group in one of this tenant's{' '}
            <Link to={`/tenants/${tenantId}`}>directories</Link>.
          </p>
        ) : null}
        {events && events.length > 0 && shown.length === 0 ? <p className="empty">No loaded event matches these filters.</p> : null}
        {shown.length > 0 ? (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Type</th>
                  <th scope="col">Directory</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Actor</th>
                  <th scope="col">
                    <span className="visually-hidden">Data</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((event) => {
                  const expanded = open.has(event.id);
                  const dataId = `event-${event.id}`;
                  return (
                    <Fragment key={event.id}>
                      <tr>
                        <td>
                          <Time value={event.timestamp} />
                        </td>
                        <td className="nowrap">
                          <code>{event.type}</code>
                        </td>
                        <td>{directoryName(event.directoryId)}</td>
                        <td className="wrap-anywhere">
                          {event.resourceType} <code>{event.resourceId}</code>
                        </td>
                        <td className="wrap-anywhere">{event.actor ?? <span className="empty">unknown</span>}</td>
                        <td>
                          <button type="button" className="secondary nowrap" aria-expanded={expanded} aria-controls={dataId} onClick={() => toggle(event.id)}>
                            {expanded ? 'Hide data' : 'Data'}
                            <span className="visually-hidden">
                              {' '}
                              of {event.type} {event.resourceId}
                            </span>
                          </button>
                        </td>
                      </tr>
                      {expanded ? (
                        <tr id={dataId} className="expanded">
                          <td colSpan={6}>
                            <p className="hint">
                              Event <code>{event.id}</code> · cursor <code>{event.cursor}</code>
                            </p>
                            <pre>{JSON.stringify(event.data, null, 2)}</pre>
                          </td>
                        </tr>
                      ) : null}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </div>
        ) : null}
        {events ? (
          <p>
            <button type="button" className="secondary" disabled={busy} onClick={() => read(cursor.next ?? events.at(-1)?.cursor ?? null, events)}>
              {cursor.hasMore ? 'Load more' : 'Check for newer events'}
            </button>
          </p>
        ) : null}
      </section>
    </>
  );
}
