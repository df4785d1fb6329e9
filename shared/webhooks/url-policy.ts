import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

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

/**
 * Why an address is not a public unicast one: the name of its special-purpose range as
 * ipaddr.js gives it (`private`, `loopback`, `linkLocal`, `carrierGradeNat`, `reserved`,
 * `uniqueLocal`, `multicast`, `benchmarking`, `teredo`, …).
 */
export type AddressClass = string;

const lastFourBytes = (p: readonly number[]) => [p[6] >> 8, p[6] & 0xff, p[7] >> 8, p[7] & 0xff];

/**
 * The IPv4 address an IPv6 address hands its traffic to, for the ranges that do: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d, ipaddr.js's `rfc6145`), NAT64's well-known
 * prefix (64:ff9b::/96, ipaddr.js's `rfc6052`) and 6to4 (2002:aabb:ccdd::/48). Such an address
 * is exactly as internal as that IPv4 host; without this ::ffff:127.0.0.1 would pass as public.
 * The local-use NAT64 prefix (64:ff9b:1::/48) has no fixed layout and Teredo (2001::/32)
 * obfuscates its client address and is obsolete: neither is read, so both stay refused, as no
 * webhook receiver needs them.
 */
function embeddedV4(range: string, p: readonly number[]): string | undefined {
  if (range === 'ipv4Mapped' || range === 'rfc6145') return lastFourBytes(p).join('.');
  if (range === 'rfc6052' && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0) return lastFourBytes(p).join('.');
  if (range === '6to4') return [p[1] >> 8, p[1] & 0xff, p[2] >> 8, p[2] & 0xff].join('.');
  return undefined;
}

// ipaddr.js files ::a.b.c.d (IPv4-compatible, a long-deprecated form) under unicast.
// Old automatic-tunnelling stacks deliver it to the IPv4 host; no receiver needs it: refused.
const IPV4_COMPATIBLE = ipaddr.IPv6.parseCIDR('::/96');

/**
 * The special-purpose range of an address, or undefined when it is globally reachable unicast
 * (ipaddr.js names every special-purpose range of IPv4 and IPv6, so documentation,
 * benchmarking, CGNAT, 192.0.0.0/24, 240/4 and the like are all refused). Throws on a non-address.
 */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) {
    const range = ipaddr.IPv4.parse(bare).range();
    return range === 'unicast' ? undefined : range;
  }
  if (family === 6) {
    const ip = ipaddr.IPv6.parse(bare);
    const range: string = ip.range();
    const v4 = embeddedV4(range, ip.parts);
    if (v4 !== undefined) return classifyAddress(v4);
    if (range !== 'unicast') return range;
    return ip.match(IPV4_COMPATIBLE) ? 'ipv4Compatible' : undefined;
  }
  throw new Error(`"${address}" is not an IP address`);
}

/** Why `address` may not be called under `policy`, or undefined when it may. */
export function refusalOf(address: string, policy: UrlPolicy): string | undefined {
  const kind = classifyAddress(address);
  if (!kind) return undefined;
  // Development and tests run receivers on this machine.
  if (kind === 'loopback' && !policy.production) return undefined;
  return `${address} is not a public address (${kind})`;
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
