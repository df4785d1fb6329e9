import { ErrorAlert, Time, useLoad } from '../../common/ui';
import { admin, type Directory } from '../api';
import { PageHeader, useTenant } from '../layout';
import { PROVIDER_LABELS } from '../providers';
import { ApiKeysSection } from './ApiKeysSection';
import { DirectorySchemasSection } from './ExtensionSchemas';
import { SetupLinksSection } from './SetupLinksSection';
import { CopyValue } from '../../common/ui';

/** One directory: where its identity provider connects, its keys, its setup links and its own extension schemas. */
export function DirectoryPage({ directoryId }: { directoryId: string }) {
  const directory = useLoad(() => admin<Directory>(`/directories/${encodeURIComponent(directoryId)}`), [directoryId]);
  if (directory.data) return <DirectoryView directory={directory.data} />;
  return (
    <>
      <PageHeader title="Directory" trail={[{ to: '/', label: 'Tenants' }]} />
      <ErrorAlert error={directory.error} />
      {directory.loading ? <p className="hint">Loading the directory…</p> : null}
    </>
  );
}

function DirectoryView({ directory }: { directory: Directory }) {
  const tenant = useTenant(directory.tenantId);
  return (
    <>
      <PageHeader
        title={directory.name}
        subtitle={`${PROVIDER_LABELS[directory.provider]} directory`}
        trail={[
          { to: '/', label: 'Tenants' },
          { to: `/tenants/${directory.tenantId}`, label: tenant.data?.name ?? 'Tenant' },
          { to: `/directories/${directory.id}`, label: directory.name },
        ]}
      />
      <section className="card" aria-labelledby="connection">
        <h2 id="connection">Connection</h2>
        <p>
          The customer's IT admin pastes this Tenant URL and a secret token (an API key below) into their identity provider
          {directory.provider === 'entra' ? ' (Entra: Provisioning → Admin Credentials)' : ''}, or opens a setup link that walks them through it.
        </p>
        <p className="once-label">SCIM Tenant URL</p>
        <CopyValue value={directory.scimUrl} label="SCIM Tenant URL" />
        <dl className="facts">
          <div>
            <dt>Provider</dt>
            <dd>{PROVIDER_LABELS[directory.provider]}</dd>
          </div>
          <div>
            <dt>Region</dt>
            <dd>{directory.region}</dd>
          </div>
          <div>
            <dt>Request limit</dt>
            <dd>{directory.rateLimit ? `${directory.rateLimit.requestsPerSecond} requests/s (bursts of ${directory.rateLimit.burst})` : 'Platform default'}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <Time value={directory.createdAt} />
            </dd>
          </div>
        </dl>
      </section>
      <ApiKeysSection directory={directory} />
      <SetupLinksSection directory={directory} />
      <DirectorySchemasSection directory={directory} />
    </>
  );
}
