import { type FormEvent, useEffect, useRef, useState } from 'react';
import { ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type Directory, type Event, type EventPage, type List } from '../api';
import { PageHeader, TenantTabs, useTenant } from '../layout';
import { Table, useOpenRows } from '../list-table';
import { Link, navigate, useSearch } from '../router';
import { SUBSCRIBABLE_TYPES } from './webhook-parts';

const PAGE = 50;
/**
 * A filtered page of the feed looks at a bounded stretch of it (FILTERED_WALK events) and may come
 * back short, even empty, while more remains: the page reads on by itself up to this many times
 * before it waits for "Load more".
 */
const READS_PER_PAGE = 10;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The filters the feed API takes, as the page's URL holds them (?type=…&directoryId=…&resourceId=…). */
interface Filters {
  readonly type: string;
  readonly directoryId: string;
  readonly resourceId: string;
}

function filtersOf(search: string): Filters {
  const params = new URLSearchParams(search);
  return { type: params.get('type') ?? '', directoryId: params.get('directoryId') ?? '', resourceId: params.get('resourceId') ?? '' };
}

/** The filters that are set, as a query string (empty when none is). */
function queryOf(filters: Filters): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  const query = params.toString();
  return query ? `?${query}` : '';
}

/**
 * The tenant's events feed in commit order, oldest first, a page at a time from the cursor. The
 * filters are the feed API's own (type, directory, resource), kept in the URL so a filtered view
 * can be shared and bookmarked and Back returns to the one before; "Load more" goes on with the
 * same filtered walk.
 */
export function EventsPage({ tenantId }: { tenantId: string }) {
  const tenant = useTenant(tenantId);
  const base = `/tenants/${encodeURIComponent(tenantId)}`;
  const directories = useLoad(() => admin<List<Directory>>(`${base}/directories`), [base]);
  const search = useSearch();
  const query = queryOf(filtersOf(search));
  const applied = filtersOf(query);
  const filtering = query !== '';
  const [draft, setDraft] = useState<Filters>(applied);
  const [resourceError, setResourceError] = useState<string>();
  const [events, setEvents] = useState<Event[]>();
  const [cursor, setCursor] = useState<{ next: string | null; hasMore: boolean }>({ next: null, hasMore: false });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const opened = useOpenRows('event');
  // The filters the newest read is for: an answer for filters since left behind is dropped.
  const current = useRef(query);

  const read = async (after: string | null, into: Event[], forQuery: string) => {
    setBusy(true);
    try {
      let next = after;
      let hasMore = false;
      const found: Event[] = [];
      for (let reads = 0; reads < (forQuery ? READS_PER_PAGE : 1); reads++) {
        const params = new URLSearchParams(forQuery);
        params.set('limit', String(PAGE - found.length));
        if (next) params.set('after', next);
        const page = await admin<EventPage>(`${base}/events?${params}`);
        if (current.current !== forQuery) return;
        found.push(...page.data);
        // An empty page keeps the cursor: "Check for newer events" asks from the same point.
        next = page.next ?? next;
        hasMore = page.hasMore;
        if (found.length >= PAGE || !hasMore) break;
      }
      setEvents([...into, ...found]);
      setCursor({ next, hasMore });
      setError(undefined);
    } catch (e) {
      if (current.current === forQuery) setError(e);
    } finally {
      if (current.current === forQuery) setBusy(false);
    }
  };

  // A new filter (Apply, Clear, Back, a shared link): the form shows it, the feed starts over.
  // biome-ignore lint/correctness/useExhaustiveDependencies: read is rebuilt each render; the query alone says when to start over
  useEffect(() => {
    current.current = query;
    setDraft(filtersOf(query));
    setResourceError(undefined);
    setEvents(undefined);
    opened.closeAll();
    void read(null, [], query);
  }, [query, base]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const resourceId = draft.resourceId.trim();
    if (resourceId && !UUID.test(resourceId)) {
      setResourceError('A user or group id is a UUID, e.g. 0192f1d2-7c3a-7b4e-9f00-2d1c3b4a5e6f.');
      return;
    }
    setResourceError(undefined);
    navigate(`/tenants/${tenantId}/events${queryOf({ ...draft, resourceId })}`);
  };
  const clear = () => navigate(`/tenants/${tenantId}/events`);

  const directoryName = (id: string) => directories.data?.data.find((d) => d.id === id)?.name ?? id;
  const describe = (f: Filters) =>
    [f.type && `type ${f.type}`, f.directoryId && `directory ${directoryName(f.directoryId)}`, f.resourceId && `resource ${f.resourceId}`]
      .filter(Boolean)
      .join(', ');

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
        <form className="inline-form" onSubmit={apply} aria-describedby="event-filters-hint">
          <Field label="Type">
            {({ id }) => (
              <select id={id} value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.target.value })}>
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
              <select id={id} value={draft.directoryId} onChange={(e) => setDraft({ ...draft, directoryId: e.target.value })}>
                <option value="">Every directory</option>
                {directories.data?.data.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
                {draft.directoryId && directories.data && !directories.data.data.some((d) => d.id === draft.directoryId) ? (
                  <option value={draft.directoryId}>{draft.directoryId} (not this tenant's)</option>
                ) : null}
              </select>
            )}
          </Field>
          <Field label="Resource id" hint="(a user's or group's id)" error={resourceError}>
            {({ id, describedBy, invalid }) => (
              <input
                id={id}
                type="text"
                spellCheck={false}
                autoComplete="off"
                value={draft.resourceId}
                onChange={(e) => setDraft({ ...draft, resourceId: e.target.value })}
                aria-describedby={describedBy}
                aria-invalid={invalid || undefined}
              />
            )}
          </Field>
          <div className="actions">
            <button type="submit">Apply</button>
            <button type="button" className="secondary" onClick={clear} disabled={!filtering && draft.type + draft.directoryId + draft.resourceId === ''}>
              Clear
            </button>
          </div>
        </form>
        <p className="hint" id="event-filters-hint">
          The feed filters on the server: "Load more" goes on through the tenant's events with the same filters. The address of this page keeps them, to
          bookmark or share.
        </p>
        <p className="hint" role="status">
          {events === undefined
            ? ''
            : filtering
              ? `${events.length} ${events.length === 1 ? 'event matches' : 'events match'} ${describe(applied)}${cursor.hasMore ? ' so far' : ''}.`
              : `${events.length} ${events.length === 1 ? 'event' : 'events'} loaded.`}
        </p>
      </section>
      <section className="card" aria-labelledby="event-list">
        <h2 id="event-list">Feed</h2>
        <ErrorAlert error={error} />
        {events === undefined && !error ? <p className="hint">Loading the events…</p> : null}
        {events && events.length === 0 && !filtering ? (
          <p className="empty">
            No events yet: they appear as soon as an identity provider creates, changes or removes a user or group in one of this tenant's{' '}
            <Link to={`/tenants/${tenantId}`}>directories</Link>.
          </p>
        ) : null}
        {events && events.length === 0 && filtering ? (
          <>
            <p className="empty">
              {cursor.hasMore
                ? `No events match these filters in the part of the feed searched so far (${describe(applied)}). "Search further" reads on.`
                : `No events match these filters (${describe(applied)}).`}
            </p>
            <p>
              <button type="button" className="secondary" onClick={clear}>
                Clear the filters
              </button>
            </p>
          </>
        ) : null}
        {events && events.length > 0 ? (
          <Table
            rows={events}
            columns={[
              { header: 'Time', cell: (event) => <Time value={event.timestamp} /> },
              { header: 'Type', className: 'nowrap', cell: (event) => <code>{event.type}</code> },
              { header: 'Directory', cell: (event) => directoryName(event.directoryId) },
              {
                header: 'Resource',
                className: 'wrap-anywhere',
                cell: (event) => (
                  <>
                    {event.resourceType} <code>{event.resourceId}</code>
                  </>
                ),
              },
              { header: 'Actor', className: 'wrap-anywhere', cell: (event) => event.actor ?? <span className="empty">unknown</span> },
              {
                header: 'Data',
                hidden: true,
                cell: (event) =>
                  opened.button(
                    event.id,
                    { closed: 'Data', opened: 'Hide data' },
                    <>
                      of {event.type} {event.resourceId}
                    </>,
                    'secondary nowrap',
                  ),
              },
            ]}
            detail={(event) =>
              opened.detail(event.id, () => (
                <>
                  <p className="hint">
                    Event <code>{event.id}</code> · cursor <code>{event.cursor}</code>
                  </p>
                  <pre>{JSON.stringify(event.data, null, 2)}</pre>
                </>
              ))
            }
          />
        ) : null}
        {events ? (
          <p>
            <button type="button" className="secondary" disabled={busy} onClick={() => read(cursor.next ?? events.at(-1)?.cursor ?? null, events, query)}>
              {cursor.hasMore ? (events.length === 0 ? 'Search further' : 'Load more') : 'Check for newer events'}
            </button>
          </p>
        ) : null}
      </section>
    </>
  );
}
