import type { DirectoryId, TenantId } from '../../ids';

/** What binds a repository to one directory. Every query of a bound repository uses it. */
export interface DirectoryScope {
  readonly tenantId: TenantId;
  readonly directoryId: DirectoryId;
}
