import { type FormEvent, useState } from 'react';
import { Alert, Badge, ConfirmButton, ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type CreatedSetupLink, type Directory, type List, type SetupLink } from '../api';
import { ListTable } from '../list-table';
import { OnceValue, ShownOnce } from '../shown-once';

// The API takes 1 to 30 days (routes/admin/setup-links.ts) and defaults to 7.
const EXPIRY_DAYS = [1, 3, 7, 14, 30] as const;

const STATUS = {
  active: <Badge tone="ok">Active</Badge>,
  expired: <Badge>Expired</Badge>,
  revoked: <Badge tone="danger">Revoked</Badge>,
} as const;

/** Links for the customer's IT admin: each opens this directory's setup page, and works until it expires or is revoked. */
export function SetupLinksSection({ directory }: { directory: Directory }) {
  const base = `/directories/${encodeURIComponent(directory.id)}/setup-links`;
  const links = useLoad(() => admin<List<SetupLink>>(base), [base]);
  const [days, setDays] = useState<number>(7);
  const [created, setCreated] = useState<CreatedSetupLink>();
  const [revoked, setRevoked] = useState<SetupLink>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const act = async (run: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    setCreated(undefined);
    setRevoked(undefined);
    try {
      await run();
      links.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const create = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => setCreated(await admin<CreatedSetupLink>(base, { method: 'POST', body: { expiresInDays: days } })));
  };
  const revoke = (link: SetupLink) =>
    act(async () => {
      await admin<void>(`${base}/${link.id}`, { method: 'DELETE' });
      setRevoked(link);
    });
  return (
    <section className="card" aria-labelledby="setup-links">
      <h2 id="setup-links">Setup links</h2>
      <p className="hint">
        A setup link opens a page for the customer's IT admin with this directory's Tenant URL, a button to generate their own secret token, the attribute
        mappings to add, and the connection's live status. It reaches this directory only.
      </p>
      <ErrorAlert error={error} />
      {revoked ? <Alert kind="success">Setup link revoked: the page it opens stops working at once.</Alert> : null}
      {created ? (
        <ShownOnce key={created.id} title="Setup link created">
          <OnceValue
            label="Setup link"
            value={created.url}
            secret
            warning={
              <>
                Send this link to the customer's IT admin; it works until <Time value={created.expiresAt} />. It is shown only now: if it is lost, revoke it and
                create another.
              </>
            }
          />
        </ShownOnce>
      ) : null}
      <form className="inline-form narrow" onSubmit={create}>
        <Field label="Expires after">
          {({ id, describedBy }) => (
            <select id={id} value={days} onChange={(e) => setDays(Number(e.target.value))} aria-describedby={describedBy}>
              {EXPIRY_DAYS.map((d) => (
                <option key={d} value={d}>
                  {d === 1 ? '1 day' : `${d} days`}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" disabled={busy}>
          Create setup link
        </button>
      </form>
      <ListTable
        list={links}
        loadingText="Loading setup links…"
        empty="No setup links yet: create one to let the customer's IT admin connect their identity provider on their own."
        caption={`Setup links of ${directory.name}`}
        columns={[
          { header: 'Created', cell: (link) => <Time value={link.createdAt} /> },
          { header: 'Expires', cell: (link) => <Time value={link.expiresAt} /> },
          { header: 'Last opened', cell: (link) => <Time value={link.lastOpenedAt} /> },
          {
            header: 'Status',
            cell: (link) => (
              <>
                {STATUS[link.status]}
                {link.revokedAt ? (
                  <>
                    {' '}
                    <Time value={link.revokedAt} />
                  </>
                ) : null}
              </>
            ),
          },
          {
            header: 'Actions',
            hidden: true,
            cell: (link) =>
              link.status === 'active' ? (
                <ConfirmButton
                  label="Revoke"
                  title="Revoke this setup link?"
                  confirmLabel="Revoke the link"
                  danger
                  disabled={busy}
                  onConfirm={() => revoke(link)}
                >
                  <p>The setup page it opens stops working at once; the customer's IT admin will need a new link.</p>
                  <p>Tokens already generated from it keep working: revoke them under API keys if they must stop too.</p>
                </ConfirmButton>
              ) : null,
          },
        ]}
      />
    </section>
  );
}
