import type { ReactNode } from 'react';
import { DirectoryPage } from './pages/DirectoryPage';
import { SchemasPage } from './pages/SchemasPage';
import { TenantPage } from './pages/TenantPage';
import { TenantsPage } from './pages/TenantsPage';

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
];
