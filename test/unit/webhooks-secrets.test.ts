import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../shared/config';
import { decodeEncryptionKey } from '../../shared/config-formats';
import { encryptionKeyFrom, generateSecret, SecretBox, signingKeyOf } from '../../shared/secrets';

const PROD = { NODE_ENV: 'production', ADMIN_TOKEN: 'prod-admin-token-0123456789-abcdefghij' };

describe('webhook secrets', () => {
  it('generateSecret › called twice › whsec_ + base64 of 32 random bytes, different each time', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    assert.match(a, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(signingKeyOf(a).length, 32);
    assert.notEqual(a, b);
  });

  it('SecretBox › seal then open with the same key and endpoint › the secret back, never the plain text in the ciphertext', () => {
    const box = new SecretBox(randomBytes(32));
    const secret = generateSecret();
    const sealed = box.seal(secret, 'endpoint-1');
    assert.equal(box.open(sealed, 'endpoint-1'), secret);
    assert.equal(sealed.includes(Buffer.from(secret.slice(6))), false);
    assert.notDeepEqual(box.seal(secret, 'endpoint-1'), sealed, 'a fresh IV per seal');
  });

  it('SecretBox › another key, another endpoint, or a flipped byte › open throws', () => {
    const key = randomBytes(32);
    const sealed = new SecretBox(key).seal(generateSecret(), 'endpoint-1');
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'endpoint-1'));
    assert.throws(() => new SecretBox(key).open(sealed, 'endpoint-2'));
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    assert.throws(() => new SecretBox(key).open(tampered, 'endpoint-1'));
  });

  it('decodeEncryptionKey › 64 hex characters or base64 of 32 bytes › the 32 key bytes', () => {
    const key = randomBytes(32);
    assert.deepEqual(decodeEncryptionKey(key.toString('hex')), key);
    assert.deepEqual(decodeEncryptionKey(key.toString('base64')), key);
    assert.deepEqual(decodeEncryptionKey(key.toString('base64url')), key);
  });

  for (const [situation, value] of [
    ['16 bytes of hex', randomBytes(16).toString('hex')],
    ['base64 of 31 bytes', randomBytes(31).toString('base64')],
    ['base64 of 48 bytes', randomBytes(48).toString('base64')],
    ['not an encoding', 'correct horse battery staple!'],
  ] as const) {
    it(`decodeEncryptionKey › ${situation} › throws`, () => {
      assert.throws(() => decodeEncryptionKey(value), /32 bytes/);
    });
  }

  it('config › a WEBHOOK_ENCRYPTION_KEY of the wrong length › boot fails naming the key', () => {
    assert.throws(() => parseConfig({ WEBHOOK_ENCRYPTION_KEY: randomBytes(16).toString('hex') }), /WEBHOOK_ENCRYPTION_KEY/);
  });

  it('config › production without WEBHOOK_ENCRYPTION_KEY › boot fails naming the key', () => {
    assert.throws(() => parseConfig(PROD), /WEBHOOK_ENCRYPTION_KEY/);
    const key = randomBytes(32).toString('hex');
    assert.deepEqual(encryptionKeyFrom(parseConfig({ ...PROD, WEBHOOK_ENCRYPTION_KEY: key })), Buffer.from(key, 'hex'));
  });

  it('encryptionKeyFrom › development without a key › one fixed 32-byte key, so secrets survive restarts', () => {
    const a = encryptionKeyFrom({ NODE_ENV: 'development' });
    assert.equal(a.length, 32);
    assert.deepEqual(encryptionKeyFrom({ NODE_ENV: 'test' }), a);
    assert.throws(() => encryptionKeyFrom({ NODE_ENV: 'production' }));
  });

  it('config › a bad retry schedule or threshold › boot fails naming each key', () => {
    assert.throws(
      () => parseConfig({ WEBHOOK_RETRY_SCHEDULE: '5s,soon', WEBHOOK_FAILING_AFTER: 'an hour' }),
      (err: Error) => /WEBHOOK_RETRY_SCHEDULE/.test(err.message) && /WEBHOOK_FAILING_AFTER/.test(err.message),
    );
  });
});
