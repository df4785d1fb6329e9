import type { ReactNode } from 'react';
import { DirectoryPage } from './pages/DirectoryPage';
import { EventsPage } from './pages/EventsPage';
import { ExportsPage } from './pages/ExportsPage';
import { SchemasPage } from './pages/SchemasPage';
import { TenantPage } from './pages/TenantPage';
import { TenantsPage } from './pages/TenantsPage';
import { WebhookPage } from './pages/WebhookPage';
import { WebhooksPage } from './pages/WebhooksPage';

/** One console page: its path below /admin/console and what it shows. */
export interface ConsoleRoute {
  readonly pattern: string;
  readonly render: (params: Record<string, string>) => ReactNode;
}

/** Every console page. The first whose pattern matches the path is shown. */
export const ROUTES: readonly ConsoleRoute[] = [
  { pattern: '/', render: () => <TenantsPage /> },
  { pattern: '/tenants/:tenantId', render: (p) => <TenantPage key={p.tenantId} tenantId={p.tenantId} /> },
  { pattern: '/directories/:directoryId', render: (p) => <DirectoryPage key={p.directoryId} directoryId={p.directoryId} /> },
  { pattern: '/schemas', render: () => <SchemasPage /> },
  { pattern: '/tenants/:tenantId/webhooks', render: (p) => <WebhooksPage key={p.tenantId} tenantId={p.tenantId} /> },
  { pattern: '/tenants/:tenantId/webhooks/:webhookId', render: (p) => <WebhookPage key={p.webhookId} tenantId={p.tenantId} webhookId={p.webhookId} /> },
  { pattern: '/tenants/:tenantId/events', render: (p) => <EventsPage key={p.tenantId} tenantId={p.tenantId} /> },
  { pattern: '/tenants/:tenantId/exports', render: (p) => <ExportsPage key={p.tenantId} tenantId={p.tenantId} /> },
];
