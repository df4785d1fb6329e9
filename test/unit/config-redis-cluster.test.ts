import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../shared/config';
import { parseClusterNodes } from '../../shared/config-formats';
import { isHashTagged, queuePrefixFor, redisTarget } from '../../shared/queue/redis';

describe('config › REDIS_CLUSTER_NODES', () => {
  const table: [string, ReturnType<typeof parseClusterNodes>][] = [
    ['redis-0:6379', { nodes: [{ host: 'redis-0', port: 6379 }], tls: false }],
    [
      ' 10.0.0.1:7000 , 10.0.0.2:7001,',
      {
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
        ],
        tls: false,
      },
    ],
    [
      'rediss://app:s%40cret@redis-0:6380,redis-1:6380',
      {
        nodes: [
          { host: 'redis-0', port: 6380 },
          { host: 'redis-1', port: 6380 },
        ],
        username: 'app',
        password: 's@cret',
        tls: true,
      },
    ],
    ['redis://:pw@[::1]:7000', { nodes: [{ host: '::1', port: 7000 }], password: 'pw', tls: false }],
    ['redis-0', undefined], // no port
    ['http://redis-0:6379', undefined],
    ['redis://redis-0:6379/2', undefined], // a cluster has only database 0
    [',', undefined],
  ];
  for (const [text, expected] of table) {
    it(`parseClusterNodes › ${JSON.stringify(text)} › ${expected ? 'seeds' : 'refused'}`, () => {
      assert.deepEqual(parseClusterNodes(text), expected);
    });
  }

  it('a bad entry › refused at boot, naming REDIS_CLUSTER_NODES', () => {
    assert.throws(() => parseConfig({ REDIS_CLUSTER_NODES: 'redis-0,redis-1:6379' }), /REDIS_CLUSTER_NODES: /);
  });

  it('set › the target is the cluster and the queue prefix {scim}; unset › REDIS_URL and scim', () => {
    const cluster = parseConfig({ REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1:6379' });
    const single = parseConfig({ REDIS_URL: 'redis://cache:6379' });

    assert.deepEqual(redisTarget(cluster), parseClusterNodes('redis-0:6379,redis-1:6379'));
    assert.equal(queuePrefixFor(redisTarget(cluster)), '{scim}');
    assert.equal(redisTarget(single), 'redis://cache:6379');
    assert.equal(queuePrefixFor(redisTarget(single)), 'scim');
  });

  it('isHashTagged › prefixes › only a non-empty tag in braces counts', () => {
    assert.deepEqual(['{scim}', 'a{b}c', 'scim', '{}scim', '{scim', 'scim}'].map(isHashTagged), [true, true, false, false, false, false]);
  });
});
