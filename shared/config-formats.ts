import ipaddr from 'ipaddr.js';

/**
 * The formats of configuration values (durations, Redis Cluster seeds, the webhook key, relative
 * paths, admin tokens, TRUST_PROXY). shared/config.ts validates the environment with them; the
 * modules that use those values (webhooks, exports, the workers) parse with them too. Imports
 * nothing from the project.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** A duration such as `5s`, `2m`, `1h`, `3d` (also `250ms`): `30s` → 30000. Throws a message naming the bad value. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (a number followed by ms, s, m, h or d, e.g. 30s)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

/** `'5s,30s,2m'` → [5000, 30000, 120000] (WEBHOOK_RETRY_SCHEDULE). Throws on an empty list or a bad entry. */
export function parseDurationList(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new Error('the list is empty; give at least one duration, e.g. 5s,30s,2m');
  return parts.map(parseDuration);
}

/** A Redis Cluster's seeds as REDIS_CLUSTER_NODES gives them: every node, and the first entry's credentials and TLS. */
export interface ClusterNodes {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

/**
 * `redis-0:6379,rediss://:pw@redis-1:6379` → seeds and credentials, or undefined when an entry is
 * neither `host:port` nor a redis:// or rediss:// URL with a port. Only the first entry's user,
 * password and scheme are used, as every node of one cluster shares them.
 */
export function parseClusterNodes(text: string): ClusterNodes | undefined {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return undefined;
  const urls: URL[] = [];
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`);
    } catch {
      return undefined;
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return undefined;
    if (!url.hostname || !url.port || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) return undefined;
    urls.push(url);
  }
  const [first] = urls;
  return {
    nodes: urls.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) })),
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    tls: first.protocol === 'rediss:',
  };
}

const KEY_BYTES = 32;

/**
 * WEBHOOK_ENCRYPTION_KEY → 32 key bytes: 64 hex characters, or base64 (standard or url-safe) of
 * 32 bytes. Throws a message saying what was wrong, never echoing the value.
 */
export function decodeEncryptionKey(value: string): Buffer {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
    throw new Error(`must be 32 bytes (64 hex characters or base64 of 32 bytes); this decodes to ${bytes.length} bytes`);
  }
  throw new Error('must be 32 bytes written as 64 hex characters or as base64');
}

// One path segment: letters, digits, '_' and '-', with single dots between them, so '.', '..',
// hidden names and empty segments cannot be spelled.
const SEGMENT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The segments of a plain relative path (`tenant/export.ndjson.gz`), or undefined when it is not
 * one: a leading, trailing or double slash, '.', '..', a backslash, a hidden name, or more than
 * 512 characters. EXPORT_S3_PREFIX and every export storage key are checked by it.
 */
export function splitRelativePath(path: string): string[] | undefined {
  const segments = path.split('/');
  return path.length <= 512 && segments.every((s) => SEGMENT.test(s)) ? segments : undefined;
}

/**
 * Why an admin token is too easy to guess, or undefined. Length alone is not enough: 32 copies
 * of one character, or a short word repeated, are long and still found by the first guesses an
 * attacker (or a bored colleague) tries. `openssl rand -base64 32` passes.
 */
export function adminTokenWeakness(token: string): string | undefined {
  if (token.length < 32) return `too short (${token.length} characters); use at least 32, e.g. openssl rand -base64 32`;
  const distinct = new Set(token).size;
  if (distinct < 10) return `too repetitive (only ${distinct} different characters); use at least 10, e.g. openssl rand -base64 32`;
  // A unit repeated at least twice, even if cut short at the end (0123456789012345678901234567…).
  for (let unit = 1; unit <= token.length / 2; unit++) {
    if (token.slice(unit) === token.slice(0, token.length - unit))
      return `a ${unit}-character pattern repeated; use a random token, e.g. openssl rand -base64 32`;
  }
  return undefined;
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export function isTrustProxy(value: string): boolean {
  if (/^(true|false|\d+)$/.test(value.trim())) return true;
  return value.split(',').every((item) => {
    const entry = item.trim();
    if (PROXY_NAMES.has(entry)) return true;
    try {
      if (!entry.includes('/')) return ipaddr.isValid(entry);
      ipaddr.parseCIDR(entry);
      return true;
    } catch {
      return false;
    }
  });
}

/** TRUST_PROXY as Express takes it. */
export function trustProxy(value: string | undefined): boolean | number | string {
  const trimmed = value?.trim();
  if (!trimmed || trimmed === 'false') return false;
  if (trimmed === 'true') return true;
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}
