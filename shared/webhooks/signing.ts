import { createHmac } from 'node:crypto';
import { signingKeyOf } from '../secrets';

/**
 * The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for
 * each secret, space-separated. During a secret rotation both secrets sign, so a receiver that
 * still has either one verifies the call.
 */
export function signatureHeader(input: { id: string; timestamp: number; body: string; secrets: readonly string[] }): string {
  if (input.secrets.length === 0) throw new Error('no secret to sign with');
  const signed = `${input.id}.${input.timestamp}.${input.body}`;
  return input.secrets.map((secret) => `v1,${createHmac('sha256', signingKeyOf(secret)).update(signed).digest('base64')}`).join(' ');
}

/** The headers of one webhook call; `timestamp` is unix seconds. */
export function webhookHeaders(input: { id: string; timestamp: number; body: string; secrets: readonly string[] }): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': signatureHeader(input),
  };
}
