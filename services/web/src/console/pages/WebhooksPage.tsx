import { type FormEvent, useEffect, useRef, useState } from 'react';
import { ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type List, type WebhookEndpoint, type WebhookWithSecret } from '../api';
import { ListTable } from '../list-table';
import { PageHeader, TenantTabs, useTenant } from '../layout';
import { Link } from '../router';
import { type EventChoice, EndpointStatus, EventTypesField, SecretOnce, SubscribedEvents } from './webhook-parts';

/** A tenant's webhook endpoints, and a form to add one (its secret shown once). */
export function WebhooksPage({ tenantId }: { tenantId: string }) {
  const tenant = useTenant(tenantId);
  const base = `/tenants/${encodeURIComponent(tenantId)}/webhooks`;
  const endpoints = useLoad(() => admin<List<WebhookEndpoint>>(base), [base]);
  const [created, setCreated] = useState<WebhookWithSecret>();
  const createdHeading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (created) createdHeading.current?.focus();
  }, [created]);
  const tenantName = tenant.data?.name ?? 'Tenant';
  return (
    <>
      <PageHeader
        title="Webhooks"
        subtitle="Endpoints of the vendor's application that are sent every change in this tenant's directories, signed."
        trail={[
          { to: '/', label: 'Tenants' },
          { to: `/tenants/${tenantId}`, label: tenantName },
        ]}
      />
      <TenantTabs tenantId={tenantId} />
      <ErrorAlert error={tenant.error} />
      {created ? (
        <section className="card" aria-labelledby="created-webhook">
          <h2 id="created-webhook" ref={createdHeading} tabIndex={-1}>
            Webhook added
          </h2>
          <p>
            Deliveries to <code>{created.url}</code> start with the next change.{' '}
            <Link to={`/tenants/${tenantId}/webhooks/${created.id}`}>Open it to send a test event</Link>.
          </p>
          <SecretOnce secret={created.secret} heading="This is the endpoint's signing secret." />
        </section>
      ) : null}
      <section className="card" aria-labelledby="endpoints">
        <h2 id="endpoints">Endpoints</h2>
        <ListTable
          list={endpoints}
          loadingText="Loading the endpoints…"
          empty="No webhooks yet: add one below to be told of every user and group change, signed and retried until it is received."
          columns={[
            {
              header: 'URL',
              className: 'wrap-anywhere',
              cell: (endpoint) => (
                <>
                  <Link to={`/tenants/${tenantId}/webhooks/${endpoint.id}`}>{endpoint.url}</Link>
                  {endpoint.description ? <div className="hint">{endpoint.description}</div> : null}
                </>
              ),
            },
            { header: 'Events', cell: (endpoint) => <SubscribedEvents events={endpoint.events} /> },
            { header: 'Status', cell: (endpoint) => <EndpointStatus endpoint={endpoint} /> },
            { header: 'Added', cell: (endpoint) => <Time value={endpoint.createdAt} /> },
          ]}
        />
      </section>
      <NewWebhook
        base={base}
        onCreated={(webhook) => {
          setCreated(webhook);
          endpoints.reload();
        }}
      />
    </>
  );
}

function NewWebhook({ base, onCreated }: { base: string; onCreated: (webhook: WebhookWithSecret) => void }) {
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState<EventChoice>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const webhook = await admin<WebhookWithSecret>(base, {
        method: 'POST',
        body: { url, events, ...(description.trim() ? { description } : {}) },
      });
      setUrl('');
      setDescription('');
      setEvents(null);
      onCreated(webhook);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="new-webhook">
      <h2 id="new-webhook">Add an endpoint</h2>
      <ErrorAlert error={error} />
      <form onSubmit={create}>
        <div className="grid-2">
          <Field label="Endpoint URL" hint="https in production; it receives a POST per event.">
            {({ id, describedBy }) => (
              <input
                id={id}
                type="url"
                required
                placeholder="https://app.example.com/webhooks/scim"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <Field label="Description" hint="Optional, for you.">
            {({ id, describedBy }) => (
              <input id={id} type="text" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} aria-describedby={describedBy} />
            )}
          </Field>
        </div>
        <EventTypesField value={events} onChange={setEvents} />
        <button type="submit" disabled={busy || !url.trim() || (events !== null && events.length === 0)}>
          Add webhook
        </button>
      </form>
    </section>
  );
}
