import { type ReactNode, useEffect } from 'react';
import { useLoad } from '../common/ui';
import { admin, type Tenant } from './api';
import { Link } from './router';

/** A page's title (also the document's), the trail that leads to it, and its main actions. */
export function PageHeader({
  title,
  subtitle,
  trail = [],
  actions,
}: {
  title: string;
  subtitle?: ReactNode;
  trail?: { to: string; label: string }[];
  actions?: ReactNode;
}) {
  useEffect(() => {
    document.title = `${title} · SCIM Platform console`;
  }, [title]);
  return (
    <>
      {trail.length > 0 ? (
        <nav className="breadcrumbs" aria-label="Breadcrumbs">
          {trail.map((step, i) => (
            <span key={step.to}>
              {i > 0 ? ' / ' : ''}
              <Link to={step.to}>{step.label}</Link>
            </span>
          ))}
        </nav>
      ) : null}
      <div className="page-header">
        <div>
          <h1>{title}</h1>
          {subtitle ? <p className="subtitle">{subtitle}</p> : null}
        </div>
        {actions ? <div className="actions">{actions}</div> : null}
      </div>
    </>
  );
}

/** The sections of one tenant, shown on each of its pages. */
export const TENANT_SECTIONS = [
  { path: '', label: 'Directories' },
  { path: '/webhooks', label: 'Webhooks' },
  { path: '/events', label: 'Events' },
  { path: '/exports', label: 'Audit exports' },
] as const;

export function TenantTabs({ tenantId }: { tenantId: string }) {
  return (
    <nav className="tabs" aria-label="Tenant">
      <ul>
        {TENANT_SECTIONS.map((section) => (
          <li key={section.label}>
            <Link
              to={`/tenants/${tenantId}${section.path}`}
              section={(path) => (section.path ? path.startsWith(`/tenants/${tenantId}${section.path}`) : path === `/tenants/${tenantId}`)}
            >
              {section.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** A tenant, loaded once per page for its name in titles and breadcrumbs. */
export function useTenant(tenantId: string) {
  return useLoad(() => admin<Tenant>(`/tenants/${encodeURIComponent(tenantId)}`), [tenantId]);
}
