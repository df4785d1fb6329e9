import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { sendWebhook } from '../../shared/webhooks/send';
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
  // One case per special-purpose address range (IPv4 and IPv6) the policy relies on,
  // then the IPv6 forms that carry an IPv4 address. `undefined` is a public unicast address.
  for (const [address, expected] of [
    ['8.8.8.8', undefined],
    ['93.184.216.34', undefined],
    ['172.32.0.1', undefined],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['169.254.10.20', 'linkLocal'],
    ['169.254.169.254', 'linkLocal'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.200', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.254', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.31.196.1', 'as112'],
    ['192.52.193.1', 'amt'],
    ['2606:4700:4700::1111', undefined],
    ['2a00:1450:4001:81b::200e', undefined],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['ff02::1', 'multicast'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'reserved'],
    ['2001:100::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['2001:2::1', 'benchmarking'],
    ['2001:3::1', 'amt'],
    ['2001:4:112::1', 'as112v6'],
    ['2001:10::1', 'deprecatedOrchid'],
    ['2001:20::1', 'orchid2'],
    ['2001:30::1', 'droneRemoteIdProtocolEntityTags'],
    ['5f00::1', 'segmentRouting'],
    // IPv6 forms that embed an IPv4 address: as internal as the IPv4 host they reach.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['::ffff:8.8.8.8', undefined],
    ['::ffff:0:10.0.0.1', 'private'],
    ['::ffff:0:192.0.2.1', 'reserved'],
    ['::ffff:0:8.8.8.8', undefined],
    ['64:ff9b::a00:1', 'private'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::808:808', undefined],
    ['64:ff9b:1::808:808', 'rfc6052'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:a9fe:a9fe::1', 'linkLocal'],
    ['2002:808:808::1', undefined],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    // IPv4-compatible, as URL and getaddrinfo spell it (ipaddr.js reads a dotted tail as mapped).
    ['::7f00:1', 'ipv4Compatible'],
    ['::808:808', 'ipv4Compatible'],
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
    ['a documentation address', 'https://192.0.2.1/hook', prod],
    ['a carrier-grade NAT address', 'https://100.64.1.1/hook', prod],
    ['a NAT64 address of a private host', 'https://[64:ff9b::a00:1]/hook', prod],
    ['a 6to4 address of a private host', 'https://[2002:a00:1::1]/hook', prod],
    ['a Teredo address', 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook', prod],
    ['an IPv4-compatible loopback literal', 'https://[::127.0.0.1]/hook', prod],
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

  it('checkWebhookUrl › a name resolving to a documentation or NAT64-wrapped private address › refused', async () => {
    await refused(checkWebhookUrl('https://doc.example/', resolving(prod, { 'doc.example': ['203.0.113.9'] })));
    await refused(checkWebhookUrl('https://nat64.example/', resolving(prod, { 'nat64.example': ['64:ff9b::c0a8:1'] })));
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
    const addresses = await new Promise<unknown>((resolve, reject) => guardedLookup(dev)('localhost', { all: true }, (e, a) => (e ? reject(e) : resolve(a))));
    assert.ok(Array.isArray(addresses) && addresses.length > 0);
  });

  it('sendWebhook › production, a name that resolves to loopback at call time › refused before any connection is made', async () => {
    // A receiver on this machine under both loopback addresses "localhost" may resolve to.
    let connections = 0;
    const v4 = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
    const { port } = v4.address() as net.AddressInfo;
    const v6 = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    const v6Listening = await new Promise<boolean>((resolve) => {
      v6.once('error', () => resolve(false));
      v6.listen(port, '::1', () => resolve(true));
    });
    try {
      await assert.rejects(sendWebhook({ url: `https://localhost:${port}/hook`, body: '{}', headers: {}, timeoutMs: 2_000, policy: prod }), {
        name: 'WebhookSendError',
      });
      assert.equal(connections, 0);
    } finally {
      v4.close();
      if (v6Listening) v6.close();
    }
  });
});
