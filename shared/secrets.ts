import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { decodeEncryptionKey } from './config-formats';

/**
 * Webhook signing secrets: generated as `whsec_<base64>` strings and stored only
 * encrypted (AES-256-GCM) under WEBHOOK_ENCRYPTION_KEY (its format is config.ts's, which checks it
 * at boot). A leaf beside ids.ts, not in shared/webhooks/: the database layer creates and seals
 * secrets with their endpoints, and the database layer must not import the webhooks module.
 */

const SECRET_PREFIX = 'whsec_';
/** A signing secret holds 24 to 64 random bytes; 32 matches the HMAC-SHA256 block of security. */
const SECRET_BYTES = 32;

/** A new signing secret, `whsec_` + base64 of 32 random bytes. */
export const generateSecret = (): string => SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');

/** The HMAC key of a `whsec_…` secret: the bytes its base64 part encodes, not the text. */
export function signingKeyOf(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  if (key.length === 0) throw new Error('webhook secret is empty');
  return key;
}

const KEY_BYTES = 32;

// Used only outside production when WEBHOOK_ENCRYPTION_KEY is unset, so development and tests
// run without setup. It is derived from a public constant and protects nothing: config.ts
// refuses to start in production without a real key.
const DEVELOPMENT_KEY = createHash('sha256').update('scim-platform development webhook key (public, not a secret)').digest();

/** The encryption key for this deployment: the configured one, or the fixed development key. */
export function encryptionKeyFrom(config: { readonly NODE_ENV: string; readonly WEBHOOK_ENCRYPTION_KEY?: string }): Buffer {
  if (config.WEBHOOK_ENCRYPTION_KEY) return decodeEncryptionKey(config.WEBHOOK_ENCRYPTION_KEY);
  if (config.NODE_ENV === 'production') throw new Error('WEBHOOK_ENCRYPTION_KEY is required in production');
  return DEVELOPMENT_KEY;
}

// Stored layout: version byte, 12-byte IV, 16-byte GCM tag, ciphertext. The version byte leaves
// room for a key rotation scheme without guessing at old rows.
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals and opens webhook secrets. `context` (the endpoint id) is bound as GCM additional data,
 * so a ciphertext copied onto another endpoint's row does not decrypt.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`SecretBox needs a ${KEY_BYTES}-byte key, got ${key.length}`);
    this.key = Buffer.from(key);
  }

  seal(plain: string, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  /** Throws when the key or the context is wrong, or the bytes were altered. */
  open(sealed: Buffer, context: string): string {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new Error('not a sealed webhook secret');
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
