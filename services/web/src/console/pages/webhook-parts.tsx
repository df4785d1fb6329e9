import { useId } from 'react';
import { EVENT_TYPES } from '../../../../../shared/events/catalog';
import { Alert, Badge, CopyValue } from '../../common/ui';
import type { Delivery, WebhookEndpoint } from '../api';

/**
 * The types an endpoint may subscribe to. webhook.test is sent only when an operator asks, to
 * one endpoint whatever its filter, so it is never a choice.
 */
export const SUBSCRIBABLE_TYPES = (EVENT_TYPES as readonly string[]).filter((t) => t !== 'webhook.test');

const ENDPOINT_TONE = { active: 'ok', failing: 'warn', disabled: 'danger' } as const;

/** An endpoint's health in words (never colour alone), with the reason when it has one. */
export function EndpointStatus({ endpoint }: { endpoint: Pick<WebhookEndpoint, 'status' | 'statusReason'> }) {
  return (
    <span className="status-with-reason">
      <Badge tone={ENDPOINT_TONE[endpoint.status]}>{endpoint.status}</Badge>
      {endpoint.statusReason ? <span className="hint"> {endpoint.statusReason}</span> : null}
    </span>
  );
}

const DELIVERY_TONE = { pending: 'info', delivered: 'ok', dead: 'danger' } as const;

export function DeliveryStatus({ status }: { status: Delivery['status'] }) {
  return <Badge tone={DELIVERY_TONE[status]}>{status}</Badge>;
}

/** "all" or the subscribed types, as text. */
export function SubscribedEvents({ events }: { events: readonly string[] | null }) {
  if (!events) return <span>all event types</span>;
  return <span className="mono">{events.join(', ')}</span>;
}

/** null: every type, including types added later; else the chosen ones. */
export type EventChoice = string[] | null;

/**
 * Every type, or some: two radios, then a checkbox per type (the API refuses an empty list, so
 * "Only these" with none ticked is flagged before sending).
 */
export function EventTypesField({ value, onChange }: { value: EventChoice; onChange: (next: EventChoice) => void }) {
  const name = useId();
  const hintId = `${name}-hint`;
  const some = value !== null;
  const toggle = (type: string, on: boolean) => {
    const chosen = new Set(value ?? []);
    if (on) chosen.add(type);
    else chosen.delete(type);
    onChange(SUBSCRIBABLE_TYPES.filter((t) => chosen.has(t)));
  };
  return (
    <fieldset className="choices">
      <legend>Event types</legend>
      <label className="choice">
        <input type="radio" name={name} checked={!some} onChange={() => onChange(null)} />
        Every event type, including types added later
      </label>
      <label className="choice">
        <input type="radio" name={name} checked={some} onChange={() => onChange(value ?? [])} aria-describedby={hintId} />
        Only the types I choose
      </label>
      {some ? (
        <fieldset className="choice-grid">
          <legend className="visually-hidden">Event types to send</legend>
          {SUBSCRIBABLE_TYPES.map((type) => (
            <label className="choice" key={type}>
              <input type="checkbox" checked={value.includes(type)} onChange={(e) => toggle(type, e.target.checked)} />
              <code>{type}</code>
            </label>
          ))}
        </fieldset>
      ) : null}
      <p className="hint" id={hintId}>
        {some && value.length === 0 ? 'Choose at least one type, or send every type.' : 'A test event is sent whatever this filter says.'}
      </p>
    </fieldset>
  );
}

/** A signing secret, once: copy it now, and how a receiver checks what it signs. */
export function SecretOnce({ secret, heading }: { secret: string; heading: string }) {
  return (
    <>
      <Alert kind="warning">
        <strong>{heading}</strong> Copy it now: it is not shown again. If it is lost, rotate the secret.
      </Alert>
      <CopyValue value={secret} label="signing secret" secret />
      <p className="hint">
        Every delivery is signed the{' '}
        <a href="https://www.standardwebhooks.com/" rel="noreferrer">
          Standard Webhooks
        </a>{' '}
        way: the headers <code>webhook-id</code>, <code>webhook-timestamp</code> and <code>webhook-signature</code> (<code>v1,&lt;base64 HMAC-SHA256&gt;</code>{' '}
        of <code>id.timestamp.body</code>, keyed with the secret's bytes after <code>whsec_</code>, base64-decoded). Verify it over the raw body with any
        Standard Webhooks library (e.g. <code>new Webhook(secret).verify(body, headers)</code>), and reject timestamps more than five minutes old.
      </p>
    </>
  );
}
