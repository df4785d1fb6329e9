import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkWebhookUrl, classifyAddress, guardedLookup, preflightWebhookUrl, type UrlPolicy } from '../../shared/webhooks/url-policy';

const dev: UrlPolicy = { production: false, allowedHosts: [] };
const prod: UrlPolicy = { production: true, allowedHosts: [] };
/** A resolver answering from a table, so DNS cases need no network. */
const resolving = (policy: UrlPolicy, table: Record<string, string[]>): UrlPolicy => ({
  ...policy,
  resolve: async (host) => {
    if (!table[host]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return table[host];
  },
});

describe('webhook url policy › addresses', () => {
  for (const [address, expected] of [
    ['8.8.8.8', undefined],
    ['93.184.216.34', undefined],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', undefined],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['169.254.10.20', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'shared'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['2606:4700:4700::1111', undefined],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', undefined],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['[::1]', 'loopback'],
  ] as const) {
    it(`classifyAddress › ${address} › ${expected ?? 'public'}`, () => {
      assert.equal(classifyAddress(address), expected);
    });
  }
});

describe('webhook url policy › urls', () => {
  const refused = (p: Promise<unknown>) => assert.rejects(p, { name: 'WebhookUrlRefused' });

  for (const [situation, url, policy] of [
    ['a private IPv4 literal', 'http://10.0.0.5/hook', dev],
    ['the metadata address', 'http://169.254.169.254/latest/meta-data/', dev],
    ['an IPv4-mapped private IPv6 literal', 'http://[::ffff:192.168.0.1]/hook', dev],
    ['a link-local IPv6 literal', 'http://[fe80::1]/hook', dev],
    ['an integer-spelled loopback in production', 'https://2130706433/hook', prod],
    ['loopback in production', 'https://127.0.0.1/hook', prod],
    ['IPv6 loopback in production', 'https://[::1]/hook', prod],
    ['plain http in production', 'http://hooks.example.com/', prod],
    ['another scheme', 'ftp://hooks.example.com/', dev],
    ['credentials in the URL', 'https://user:pass@hooks.example.com/', dev],
    ['not a URL', 'hooks.example.com/x', dev],
  ] as const) {
    it(`checkWebhookUrl › ${situation} › refused`, () => refused(checkWebhookUrl(url, policy)));
  }

  it('checkWebhookUrl › loopback outside production › allowed (tests and development)', async () => {
    assert.equal((await checkWebhookUrl('http://127.0.0.1:8080/hook', dev)).port, '8080');
    assert.ok(await checkWebhookUrl('http://[::1]:8080/hook', dev));
  });

  it('checkWebhookUrl › a name resolving to a private address › refused', async () => {
    await refused(checkWebhookUrl('https://hooks.corp.example/', resolving(prod, { 'hooks.corp.example': ['10.2.3.4'] })));
  });

  it('checkWebhookUrl › a name with one public and one private address › refused', async () => {
    await refused(checkWebhookUrl('https://mixed.example/', resolving(prod, { 'mixed.example': ['93.184.216.34', 'fd00::5'] })));
  });

  it('checkWebhookUrl › a name resolving only to public addresses › allowed', async () => {
    const url = await checkWebhookUrl('https://hooks.example.com/in', resolving(prod, { 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'] }));
    assert.equal(url.hostname, 'hooks.example.com');
  });

  it('checkWebhookUrl › a name that does not resolve › refused', async () => {
    await refused(checkWebhookUrl('https://nowhere.example/', resolving(prod, {})));
  });

  it('checkWebhookUrl › a private host named in the allow-list › allowed, by host or by host:port only', async () => {
    const table = { 'hooks.internal': ['10.9.9.9'] };
    assert.ok(await checkWebhookUrl('https://hooks.internal/x', resolving({ ...prod, allowedHosts: ['hooks.internal'] }, table)));
    assert.ok(await checkWebhookUrl('https://hooks.internal:8443/x', resolving({ ...prod, allowedHosts: ['hooks.internal:8443'] }, table)));
    await refused(checkWebhookUrl('https://hooks.internal:9443/x', resolving({ ...prod, allowedHosts: ['hooks.internal:8443'] }, table)));
    assert.ok(await checkWebhookUrl('https://10.1.1.1/x', { ...prod, allowedHosts: ['10.1.1.1'] }));
    assert.ok(await checkWebhookUrl('https://[fd00::7]:443/x', { ...prod, allowedHosts: ['[fd00::7]:443'] }));
  });

  it('preflightWebhookUrl › allow-listed host over http in production › still refused (https is not waived)', () => {
    assert.throws(() => preflightWebhookUrl('http://hooks.internal/x', { ...prod, allowedHosts: ['hooks.internal'] }), { name: 'WebhookUrlRefused' });
  });

  it('guardedLookup › a name resolving to loopback in production › the connection is refused at lookup', async () => {
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup(prod)('localhost', { all: true }, (e) => resolve(e)));
    assert.equal(err?.code, 'EREFUSEDADDRESS');
  });

  it('guardedLookup › the same name outside production › the addresses are handed to the socket', async () => {
    const addresses = await new Promise<unknown>((resolve, reject) =>
      guardedLookup(dev)('localhost', { all: true }, (e, a) => (e ? reject(e) : resolve(a))),
    );
    assert.ok(Array.isArray(addresses) && addresses.length > 0);
  });
});
