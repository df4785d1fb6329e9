import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../shared/config';

describe('config › rate limits and trust proxy', () => {
  it('nothing set › 100 requests/s with bursts of 200, 20 failures a minute, socket address', () => {
    const c = parseConfig({});
    assert.deepEqual([c.RATE_LIMIT_RPS, c.RATE_LIMIT_BURST, c.AUTH_FAILURES_PER_MINUTE, c.TRUST_PROXY], [100, 200, 20, false]);
  });

  it('RATE_LIMIT_BURST below RATE_LIMIT_RPS › refused, naming RATE_LIMIT_BURST', () => {
    assert.throws(() => parseConfig({ RATE_LIMIT_RPS: '300' }), /RATE_LIMIT_BURST: /);
    assert.equal(parseConfig({ RATE_LIMIT_RPS: '300', RATE_LIMIT_BURST: '300' }).RATE_LIMIT_BURST, 300);
  });

  const trusted: [string, boolean | number | string][] = [
    ['false', false],
    ['true', true],
    ['1', 1],
    ['loopback', 'loopback'],
    ['loopback, 10.0.0.0/8, fd00::/8', 'loopback, 10.0.0.0/8, fd00::/8'],
    ['192.0.2.10', '192.0.2.10'],
  ];
  for (const [value, expected] of trusted) {
    it(`TRUST_PROXY=${value} › ${JSON.stringify(expected)} for Express`, () => {
      assert.equal(parseConfig({ TRUST_PROXY: value }).TRUST_PROXY, expected);
    });
  }

  for (const value of ['yes', 'loopback; 10.0.0.0/8', '10.0.0.0/99', 'proxy.example']) {
    it(`TRUST_PROXY=${value} › refused, naming TRUST_PROXY`, () => {
      assert.throws(() => parseConfig({ TRUST_PROXY: value }), /TRUST_PROXY: /);
    });
  }
});

describe("config › the worker's CPU priority", () => {
  it('WORKER_NICE › 10 unless set; 0 to 19 taken; anything else refused, naming WORKER_NICE', () => {
    assert.equal(parseConfig({}).WORKER_NICE, 10);
    assert.deepEqual([parseConfig({ WORKER_NICE: '0' }).WORKER_NICE, parseConfig({ WORKER_NICE: '19' }).WORKER_NICE], [0, 19]);
    for (const value of ['-5', '20', '2.5', 'low']) assert.throws(() => parseConfig({ WORKER_NICE: value }), /WORKER_NICE: /, value);
  });
});

describe("config › the API's accept handles", () => {
  it('HTTP_ACCEPT_HANDLES › 16 unless set; 1 to 64 taken; anything else refused, naming HTTP_ACCEPT_HANDLES', () => {
    assert.equal(parseConfig({}).HTTP_ACCEPT_HANDLES, 16);
    assert.deepEqual([parseConfig({ HTTP_ACCEPT_HANDLES: '1' }).HTTP_ACCEPT_HANDLES, parseConfig({ HTTP_ACCEPT_HANDLES: '64' }).HTTP_ACCEPT_HANDLES], [1, 64]);
    for (const value of ['0', '65', '1.5', 'many']) assert.throws(() => parseConfig({ HTTP_ACCEPT_HANDLES: value }), /HTTP_ACCEPT_HANDLES: /, value);
  });
});
