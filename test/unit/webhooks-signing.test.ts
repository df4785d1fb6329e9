import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { generateSecret } from '../../shared/secrets';
import { signatureHeader, webhookHeaders } from '../../shared/webhooks/signing';

const body = JSON.stringify({ id: 'evt', type: 'user.created', data: { userName: 'ada@contoso.example', note: 'ünïcode ✓' } });
const now = () => Math.floor(Date.now() / 1000);

describe('webhook signing', () => {
  it('webhookHeaders › one secret › the standardwebhooks library verifies the call and returns the body', () => {
    const secret = generateSecret();
    const headers = webhookHeaders({ id: 'msg_1', timestamp: now(), body, secrets: [secret] });
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    assert.equal(headers['webhook-id'], 'msg_1');
    assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
  });

  it('signatureHeader › the same input › equals what the standardwebhooks library computes', () => {
    const secret = generateSecret();
    const timestamp = now();
    assert.equal(signatureHeader({ id: 'msg_2', timestamp, body, secrets: [secret] }), new Webhook(secret).sign('msg_2', new Date(timestamp * 1000), body));
  });

  it('signatureHeader › two secrets during a rotation › two space-separated v1 signatures, each verifying alone', () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const headers = webhookHeaders({ id: 'msg_3', timestamp: now(), body, secrets: [current, previous] });
    assert.equal(headers['webhook-signature'].split(' ').length, 2);
    assert.ok(new Webhook(current).verify(body, headers));
    assert.ok(new Webhook(previous).verify(body, headers));
  });

  it('webhookHeaders › a secret that did not sign, or a changed body › verification fails', () => {
    const headers = webhookHeaders({ id: 'msg_4', timestamp: now(), body, secrets: [generateSecret()] });
    assert.throws(() => new Webhook(generateSecret()).verify(body, headers), { name: 'WebhookVerificationError' });
    const signer = generateSecret();
    const signed = webhookHeaders({ id: 'msg_4', timestamp: now(), body, secrets: [signer] });
    assert.throws(() => new Webhook(signer).verify(body.replace('ada', 'eve'), signed), { name: 'WebhookVerificationError' });
    assert.throws(() => new Webhook(signer).verify(body, { ...signed, 'webhook-id': 'msg_5' }), { name: 'WebhookVerificationError' });
  });

  it('signatureHeader › no secret › throws instead of sending an unsigned call', () => {
    assert.throws(() => signatureHeader({ id: 'msg_6', timestamp: now(), body, secrets: [] }));
  });
});
