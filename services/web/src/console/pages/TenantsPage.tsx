import { type FormEvent, useState } from 'react';
import { ErrorAlert, Field, Time, useLoad } from '../../common/ui';
import { admin, type List, type Tenant } from '../api';
import { ListTable } from '../list-table';
import { Link, navigate } from '../router';

/** Every tenant, and a form to add one. */
export function TenantsPage() {
  const tenants = useLoad(() => admin<List<Tenant>>('/tenants'), []);
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const tenant = await admin<Tenant>('/tenants', { method: 'POST', body: { name } });
      navigate(`/tenants/${tenant.id}`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <>
      <div className="page-header">
        <div>
          <h1>Tenants</h1>
          <p className="subtitle">Each tenant is one customer organisation; its directories are its SCIM connections.</p>
        </div>
      </div>
      <section className="card" aria-labelledby="new-tenant">
        <h2 id="new-tenant">New tenant</h2>
        <ErrorAlert error={error} />
        <form className="inline-form" onSubmit={create}>
          <Field label="Name">
            {({ id, describedBy }) => (
              <input id={id} type="text" required value={name} onChange={(e) => setName(e.target.value)} aria-describedby={describedBy} />
            )}
          </Field>
          <button type="submit" disabled={!name.trim()}>
            Create tenant
          </button>
        </form>
      </section>
      <section className="card" aria-labelledby="all-tenants">
        <h2 id="all-tenants">All tenants</h2>
        <ListTable
          list={tenants}
          loadingText="Loading…"
          empty="No tenants yet."
          columns={[
            { header: 'Name', cell: (t) => <Link to={`/tenants/${t.id}`}>{t.name}</Link> },
            { header: 'Created', cell: (t) => <Time value={t.createdAt} /> },
          ]}
        />
      </section>
    </>
  );
}
