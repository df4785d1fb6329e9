import { type FormEvent, useState } from 'react';
import { ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type CreatedDirectory, type Directory, type List } from '../api';
import { ListTable } from '../list-table';
import { PageHeader, TenantTabs, useTenant } from '../layout';
import { PROVIDER_LABELS, PROVIDERS } from '../providers';
import { Link } from '../router';
import { OnceValue, ShownOnce } from '../shown-once';

/** One tenant: its directories (its SCIM connections), and a form to add one. */
export function TenantPage({ tenantId }: { tenantId: string }) {
  const tenant = useTenant(tenantId);
  const directories = useLoad(() => admin<List<Directory>>(`/tenants/${encodeURIComponent(tenantId)}/directories`), [tenantId]);
  const [created, setCreated] = useState<CreatedDirectory>();
  const name = tenant.data?.name ?? 'Tenant';
  return (
    <>
      <PageHeader
        title={name}
        subtitle="A customer organisation. Each directory is one SCIM connection from its identity provider."
        trail={[
          { to: '/', label: 'Tenants' },
          { to: `/tenants/${tenantId}`, label: name },
        ]}
      />
      <ErrorAlert error={tenant.error} />
      <TenantTabs tenantId={tenantId} />
      {created ? <CreatedDirectoryCard directory={created} onDone={() => setCreated(undefined)} /> : null}
      <NewDirectoryForm
        tenantId={tenantId}
        onCreated={(d) => {
          setCreated(d);
          directories.reload();
        }}
      />
      <section className="card" aria-labelledby="directories">
        <h2 id="directories">Directories</h2>
        {tenant.error ? null : <ErrorAlert error={directories.error} />}
        <ListTable
          showError={false}
          list={directories}
          loadingText="Loading directories…"
          empty="No directories yet: create one above, then give its Tenant URL and token (or a setup link) to the customer's IT admin."
          columns={[
            { header: 'Name', cell: (d) => <Link to={`/directories/${d.id}`}>{d.name}</Link> },
            { header: 'Provider', cell: (d) => PROVIDER_LABELS[d.provider] },
            { header: 'Region', cell: (d) => d.region },
            { header: 'Created', cell: (d) => <Time value={d.createdAt} /> },
          ]}
        />
      </section>
    </>
  );
}

function NewDirectoryForm({ tenantId, onCreated }: { tenantId: string; onCreated: (d: CreatedDirectory) => void }) {
  const [name, setName] = useState('');
  const [provider, setProvider] = useState<Directory['provider']>('entra');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await admin<CreatedDirectory>(`/tenants/${encodeURIComponent(tenantId)}/directories`, { method: 'POST', body: { name, provider } }));
      setName('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="new-directory">
      <h2 id="new-directory">New directory</h2>
      <ErrorAlert error={error} />
      <form className="inline-form" onSubmit={create}>
        <Field label="Directory name" hint="e.g. Entra ID (Contoso)">
          {({ id, describedBy }) => (
            <input id={id} type="text" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} aria-describedby={describedBy} />
          )}
        </Field>
        <Field label="Identity provider">
          {({ id, describedBy }) => (
            <select id={id} value={provider} onChange={(e) => setProvider(e.target.value as Directory['provider'])} aria-describedby={describedBy}>
              {PROVIDERS.map((p) => (
                <option key={p} value={p}>
                  {PROVIDER_LABELS[p]}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create directory'}
        </button>
      </form>
    </section>
  );
}

/** The one answer that holds the first key's token: shown until the operator moves on. */
function CreatedDirectoryCard({ directory, onDone }: { directory: CreatedDirectory; onDone: () => void }) {
  return (
    <section aria-label={`Directory ${directory.name} created`}>
      <ShownOnce level={2} title={`Directory “${directory.name}” created`}>
        <p>
          Give these two values to the customer's IT admin (in Entra: Provisioning → Admin Credentials), or send them a setup link from the directory's page.
        </p>
        <OnceValue label="SCIM Tenant URL" value={directory.scimUrl} />
        <OnceValue label="Secret token" value={directory.key.token} secret note={`The directory's first API key, “${directory.key.name}”.`} />
        <div className="actions">
          <Link to={`/directories/${directory.id}`} className="button">
            Open the directory
          </Link>
          <button type="button" className="secondary" onClick={onDone}>
            I have copied the token
          </button>
        </div>
      </ShownOnce>
    </section>
  );
}
