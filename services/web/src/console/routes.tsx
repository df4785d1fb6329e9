import type { ReactNode } from 'react';
import { TenantsPage } from './pages/TenantsPage';

/** One console page: its path below /admin/console and what it shows. */
export interface ConsoleRoute {
  readonly pattern: string;
  readonly render: (params: Record<string, string>) => ReactNode;
}

/** Every console page. The first whose pattern matches the path is shown. */
export const ROUTES: readonly ConsoleRoute[] = [{ pattern: '/', render: () => <TenantsPage /> }];
