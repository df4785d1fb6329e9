import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../shared/config';

describe('config › database pool mode and direct URL', () => {
  it('nothing set › session mode, the direct URL is DATABASE_URL', () => {
    const c = parseConfig({ DATABASE_URL: 'postgres://app@db.internal:5432/scim' });
    assert.deepEqual([c.DATABASE_POOL_MODE, c.DATABASE_DIRECT_URL], ['session', 'postgres://app@db.internal:5432/scim']);
  });

  it('transaction mode without DATABASE_DIRECT_URL › refused, naming DATABASE_DIRECT_URL', () => {
    assert.throws(
      () => parseConfig({ DATABASE_URL: 'postgres://app@pgbouncer:6432/scim', DATABASE_POOL_MODE: 'transaction' }),
      /DATABASE_DIRECT_URL: required/,
    );
  });

  it('transaction mode with DATABASE_DIRECT_URL › both URLs kept', () => {
    const c = parseConfig({
      DATABASE_URL: 'postgres://app@pgbouncer:6432/scim',
      DATABASE_POOL_MODE: 'transaction',
      DATABASE_DIRECT_URL: 'postgres://app@db.internal:5432/scim',
    });
    assert.deepEqual([c.DATABASE_URL, c.DATABASE_DIRECT_URL], ['postgres://app@pgbouncer:6432/scim', 'postgres://app@db.internal:5432/scim']);
  });

  it('an unknown pool mode › refused, naming DATABASE_POOL_MODE', () => {
    assert.throws(() => parseConfig({ DATABASE_POOL_MODE: 'statement' }), /DATABASE_POOL_MODE: /);
  });
});
