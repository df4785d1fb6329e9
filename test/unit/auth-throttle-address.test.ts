import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'express';
import { clientAddress } from '../../services/api/middleware/auth-throttle';

describe('auth throttle › the address a failure is counted against', () => {
  const cases: [string, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ];
  for (const [ip, counted] of cases) {
    it(`req.ip ${ip} › counted as ${counted}`, () => {
      assert.equal(clientAddress({ ip, socket: {} } as unknown as Request), counted);
    });
  }

  it('two hosts of one IPv6 /64 › one count', () => {
    const of = (ip: string) => clientAddress({ ip, socket: {} } as unknown as Request);
    assert.equal(of('2001:db8:5:6::a'), of('2001:db8:5:6:ffff::b'));
    assert.notEqual(of('2001:db8:5:6::a'), of('2001:db8:5:7::a'));
  });
});
