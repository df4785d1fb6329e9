import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/**
 * Where webhooks may go. A webhook URL is chosen by an operator but fetched by our workers from
 * inside our network, so without these checks it could reach internal services or the cloud
 * metadata endpoint (SSRF). Checked when an endpoint is created or changed, and again at every
 * delivery, on the addresses the connection actually uses (a DNS name re-pointed at 10.0.0.1
 * after creation is refused at connect time).
 */
export interface UrlPolicy {
  /** Production: https only, and loopback is refused like any other internal address. */
  readonly production: boolean;
  /** Lower-case hosts or host:port pairs exempt from the address checks (WEBHOOK_ALLOWED_HOSTS). */
  readonly allowedHosts: readonly string[];
  /** Name → every address it resolves to. Default: the system resolver (dns.lookup, all). */
  readonly resolve?: (host: string) => Promise<string[]>;
}

export function urlPolicyFrom(config: { readonly NODE_ENV: string; readonly WEBHOOK_ALLOWED_HOSTS: string }): UrlPolicy {
  return {
    production: config.NODE_ENV === 'production',
    allowedHosts: config.WEBHOOK_ALLOWED_HOSTS.split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  };
}

/** A URL the policy refuses; `message` says why and is safe to show to the operator. */
export class WebhookUrlRefused extends Error {
  override readonly name = 'WebhookUrlRefused';
}

/** Why an address is internal, or undefined for a public one. */
export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'metadata'
  | 'unique-local'
  | 'multicast'
  | 'reserved';

// IPv4 ranges that are not the public internet (RFC 6890 special-purpose registry, the parts a
// server could reach). Order matters: the metadata address sits inside link-local.
const V4_RANGES: readonly [string, number, AddressClass][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  // Carrier-grade NAT space; Alibaba Cloud's metadata service (100.100.100.200) lives here.
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  // AWS, GCP and Azure instance metadata.
  ['169.254.169.254', 32, 'metadata'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6_RANGES: readonly [string, number, AddressClass][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  // AWS's IPv6 instance metadata address, inside unique-local space.
  ['fd00:ec2::254', 128, 'metadata'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  // Deprecated site-local (RFC 3879): still private wherever it is configured.
  ['fec0::', 10, 'private'],
  ['ff00::', 8, 'multicast'],
  ['100::', 64, 'reserved'],
  ['64:ff9b:1::', 48, 'reserved'],
];

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function v6ToBigInt(ip: string): bigint {
  let text = ip.replace(/%.*$/, '');
  // A dotted IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = v4ToInt(tail[1]);
    text = text.slice(0, -tail[1].length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const inV4 = (ip: number, [base, bits]: readonly [string, number, AddressClass]) =>
  bits === 0 || ip >>> (32 - bits) === v4ToInt(base) >>> (32 - bits);
const inV6 = (ip: bigint, [base, bits]: readonly [string, number, AddressClass]) =>
  ip >> BigInt(128 - bits) === v6ToBigInt(base) >> BigInt(128 - bits);

const intToV4 = (n: bigint) => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');

/**
 * The IPv4 address an IPv6 address carries, where the network would deliver to that IPv4 host:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16). Without this, ::ffff:127.0.0.1 would pass as a "public" IPv6 address.
 */
function embeddedV4(ip: bigint): string | undefined {
  const top96 = ip >> 32n;
  if (top96 === 0xffffn || top96 === 0n) return intToV4(ip & 0xffffffffn);
  if (top96 === v6ToBigInt('64:ff9b::') >> 32n) return intToV4(ip & 0xffffffffn);
  if (ip >> 112n === 0x2002n) return intToV4((ip >> 80n) & 0xffffffffn);
  return undefined;
}

/** The class of an internal address, or undefined when it is public. Throws on a non-address. */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) {
    const n = v4ToInt(bare);
    return V4_RANGES.find((r) => inV4(n, r))?.[2];
  }
  if (family === 6) {
    const n = v6ToBigInt(bare);
    const own = V6_RANGES.find((r) => inV6(n, r))?.[2];
    if (own) return own;
    const v4 = embeddedV4(n);
    return v4 === undefined ? undefined : classifyAddress(v4);
  }
  throw new Error(`"${address}" is not an IP address`);
}

/** Why `address` may not be called under `policy`, or undefined when it may. */
export function refusalOf(address: string, policy: UrlPolicy): string | undefined {
  const kind = classifyAddress(address);
  if (!kind) return undefined;
  // Development and tests run receivers on this machine.
  if (kind === 'loopback' && !policy.production) return undefined;
  return `${address} is a ${kind} address`;
}

const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/** True when the URL's host, or host:port, is named in the allow-list. */
export function isAllowListed(url: URL, policy: UrlPolicy): boolean {
  if (policy.allowedHosts.length === 0) return false;
  const host = bareHost(url);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const hostForPort = isIP(host) === 6 ? `[${host}]` : host;
  return policy.allowedHosts.some((entry) => {
    const e = entry.replace(/^\[([^\]]+)\]$/, '$1');
    return e === host || e === `${hostForPort}:${port}`;
  });
}

/**
 * The checks that need no DNS: an absolute http(s) URL (https in production), no credentials,
 * and, when the host is an IP literal, an address the policy allows. Returns the parsed URL.
 */
export function preflightWebhookUrl(text: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlRefused('is not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookUrlRefused(`scheme ${url.protocol} is not http or https`);
  if (policy.production && url.protocol !== 'https:') throw new WebhookUrlRefused('must use https in production');
  // Credentials in a URL would be stored and shown in plain text; receivers verify signatures instead.
  if (url.username || url.password) throw new WebhookUrlRefused('must not carry a user name or password');
  if (!url.hostname) throw new WebhookUrlRefused('has no host');
  const host = bareHost(url);
  if (isIP(host) && !isAllowListed(url, policy)) {
    const refused = refusalOf(host, policy);
    if (refused) throw new WebhookUrlRefused(`${refused}; name the host in WEBHOOK_ALLOWED_HOSTS to allow it`);
  }
  return url;
}

const systemResolve = (host: string) =>
  new Promise<string[]>((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address))));
  });

/**
 * Every check, including DNS: each address the host resolves to must be allowed (one internal
 * address among public ones is refused: the connection could pick it). For create and update.
 */
export async function checkWebhookUrl(text: string, policy: UrlPolicy): Promise<URL> {
  const url = preflightWebhookUrl(text, policy);
  const host = bareHost(url);
  if (isIP(host) || isAllowListed(url, policy)) return url;
  let addresses: string[];
  try {
    addresses = await (policy.resolve ?? systemResolve)(host);
  } catch {
    throw new WebhookUrlRefused(`host ${host} does not resolve`);
  }
  if (addresses.length === 0) throw new WebhookUrlRefused(`host ${host} does not resolve`);
  for (const address of addresses) {
    const refused = refusalOf(address, policy);
    if (refused) throw new WebhookUrlRefused(`${host} resolves to ${refused}; name the host in WEBHOOK_ALLOWED_HOSTS to allow it`);
  }
  return url;
}

/**
 * A `lookup` for http.request that refuses a connection when the name resolves to an address
 * the policy refuses. The socket connects to exactly the addresses checked here, so a DNS answer
 * that changes between the check and the connection (DNS rebinding) cannot slip through.
 */
export function guardedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const refused = refusalOf(a.address, policy);
        if (refused) return callback(Object.assign(new WebhookUrlRefused(`${hostname} resolves to ${refused}`), { code: 'EREFUSEDADDRESS' }), []);
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}
