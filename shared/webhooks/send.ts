import http from 'node:http';
import https from 'node:https';
import { guardedLookup, isAllowListed, preflightWebhookUrl, type UrlPolicy } from './url-policy';

/** How much of a receiver's answer the attempt log keeps. */
export const RESPONSE_EXCERPT_BYTES = 1024;

export interface WebhookResponse {
  readonly status: number;
  /** The Retry-After header, as given. */
  readonly retryAfter?: string;
  /** The first 1 KiB of the body, as UTF-8. */
  readonly excerpt: string;
}

/** A call that got no HTTP answer: refused address, DNS, connection, TLS or timeout. */
export class WebhookSendError extends Error {
  override readonly name = 'WebhookSendError';
}

// Keep-alive: at hundreds of deliveries a second to the same receivers, a new TCP (and TLS)
// handshake per call would cost more than the call.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/**
 * POSTs one webhook. Redirects are not followed (a 3xx is a failed attempt): a redirect could
 * lead the signed body to a host the URL policy never checked. The whole call, body included,
 * is bounded by `timeoutMs`.
 */
export function sendWebhook(input: {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  policy: UrlPolicy;
}): Promise<WebhookResponse> {
  let url: URL;
  try {
    url = preflightWebhookUrl(input.url, input.policy);
  } catch (err) {
    return Promise.reject(new WebhookSendError((err as Error).message));
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<WebhookResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, value?: WebhookResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = client.request(url, {
      method: 'POST',
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers: { ...input.headers, 'content-length': String(Buffer.byteLength(input.body)), 'user-agent': 'scim-platform-webhooks/1' },
      // Names are checked on the addresses the socket will use; allow-listed hosts skip the check.
      ...(isAllowListed(url, input.policy) ? {} : { lookup: guardedLookup(input.policy) }),
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish(new WebhookSendError(`no complete answer within ${input.timeoutMs} ms`));
    }, input.timeoutMs);
    req.on('error', (err) => finish(new WebhookSendError(describe(err))));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept >= RESPONSE_EXCERPT_BYTES) return;
        chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
        kept += Math.min(chunk.length, RESPONSE_EXCERPT_BYTES - kept);
      });
      res.on('error', (err) => finish(new WebhookSendError(describe(err))));
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        finish(undefined, {
          status: res.statusCode ?? 0,
          ...(retryAfter ? { retryAfter: String(retryAfter) } : {}),
          excerpt: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.end(input.body);
  });
}

function describe(err: Error & { code?: string }): string {
  return err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
}

/**
 * Retry-After (whole seconds to wait, or an HTTP date) → ms from `now`, or undefined
 * when absent or unreadable. Never negative.
 */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
