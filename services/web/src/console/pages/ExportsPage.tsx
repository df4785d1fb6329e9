import { type FormEvent, useState } from 'react';
import { Alert, Badge, ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type AuditExport, type List } from '../api';
import { ListTable } from '../list-table';
import { PageHeader, TenantTabs, useTenant } from '../layout';
import { usePoll } from '../poll';

const POLL_MS = 2000;
const STATUS_TONE = { queued: 'info', running: 'warn', done: 'ok', failed: 'danger' } as const;

/** A <input type="datetime-local"> value for an instant, in the reader's time zone, to the minute. */
function localInput(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return '–';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Audit exports of the tenant's events: start one for a time range, watch it, download it. */
export function ExportsPage({ tenantId }: { tenantId: string }) {
  const tenant = useTenant(tenantId);
  const base = `/tenants/${encodeURIComponent(tenantId)}/exports`;
  const exports = useLoad(() => admin<List<AuditExport>>(`${base}?limit=50`), [base]);
  const working = exports.data?.data.some((e) => e.status === 'queued' || e.status === 'running') ?? false;
  usePoll(exports.reload, POLL_MS, working);

  const [from, setFrom] = useState(() => localInput(new Date(Date.now() - 7 * 24 * 3600 * 1000)));
  const [to, setTo] = useState(() => localInput(new Date(Date.now() + 60 * 1000)));
  const [error, setError] = useState<unknown>();
  const [started, setStarted] = useState(false);
  const rangeError = from && to && new Date(from) >= new Date(to) ? 'Must be after the start.' : undefined;
  const start = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setStarted(false);
    try {
      await admin<AuditExport>(base, { method: 'POST', body: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } });
      setStarted(true);
      exports.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <PageHeader
        title="Audit exports"
        subtitle="The tenant's events in a time range, as one gzip-compressed NDJSON file (one event a line), written by a worker."
        trail={[
          { to: '/', label: 'Tenants' },
          { to: `/tenants/${tenantId}`, label: tenant.data?.name ?? 'Tenant' },
        ]}
      />
      <TenantTabs tenantId={tenantId} />
      <ErrorAlert error={tenant.error} />
      <section className="card" aria-labelledby="new-export">
        <h2 id="new-export">Start an export</h2>
        <ErrorAlert error={error} />
        {started ? <Alert kind="success">Export started: it is listed below and can be downloaded once done.</Alert> : null}
        <form className="inline-form" onSubmit={start}>
          <Field label="From" hint="(your time zone; included)">
            {({ id, describedBy }) => (
              <input id={id} type="datetime-local" required value={from} onChange={(e) => setFrom(e.target.value)} aria-describedby={describedBy} />
            )}
          </Field>
          <Field label="To" hint="(excluded)" error={rangeError}>
            {({ id, describedBy, invalid }) => (
              <input
                id={id}
                type="datetime-local"
                required
                value={to}
                onChange={(e) => setTo(e.target.value)}
                aria-describedby={describedBy}
                aria-invalid={invalid}
              />
            )}
          </Field>
          <button type="submit" disabled={!from || !to || Boolean(rangeError)}>
            Start export
          </button>
        </form>
      </section>
      <section className="card" aria-labelledby="export-list">
        <h2 id="export-list">Exports</h2>
        {working ? <p className="hint">Refreshing every few seconds until every export is done.</p> : null}
        <ListTable
          list={exports}
          loadingText="Loading the exports…"
          empty="No exports yet: start one above to keep a record of every change in a time range."
          columns={[
            { header: 'Started', cell: (e) => <Time value={e.createdAt} /> },
            {
              header: 'Time range',
              cell: (e) => (
                <>
                  <Time value={e.from} /> – <Time value={e.to} />
                </>
              ),
            },
            {
              header: 'Status',
              cell: (e) => (
                <>
                  <Badge tone={STATUS_TONE[e.status]}>{e.status}</Badge>
                  {e.error ? <div className="hint">{e.error}</div> : null}
                </>
              ),
            },
            { header: 'Events', cell: (e) => e.eventCount ?? '–' },
            { header: 'Size', cell: (e) => formatBytes(e.bytes) },
            {
              header: 'File',
              cell: (e) =>
                e.status === 'done' ? (
                  <a href={`/admin/v1${base}/${e.id}/download`} download>
                    Download<span className="visually-hidden"> the export started {new Date(e.createdAt).toLocaleString()}</span>
                  </a>
                ) : (
                  <span className="empty">{e.status === 'failed' ? 'none' : 'when done'}</span>
                ),
            },
          ]}
        />
      </section>
    </>
  );
}
