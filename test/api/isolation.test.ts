import { makeTestApp } from '../support/app';
import { isolationWalk } from '../support/isolation-walk';

isolationWalk('Isolation between tenants and directories', async () => makeTestApp());
