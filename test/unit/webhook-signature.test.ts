import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerifyError } from '../../clients/node/webhook.js';
import { signWebhook } from '../../src/webhook-signature.js';

const secret = 'whsec-test';
const body = JSON.stringify({ events: [{ id: 'e1', type: 'online', uid: '42', time: 1 }] });

describe('webhook signatures (server signer, Node SDK verifier)', () => {
  it('signs "<t>.<body>" with HMAC-SHA256 in lowercase hex, as the contract says', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(signWebhook(body, secret, 1_700_000_000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('verifies its own signature and returns the events, from a string or the raw bytes', () => {
    const h = signWebhook(body, secret, 1000);
    expect(verifyWebhook(body, h, secret, 300, 1100)).toEqual(JSON.parse(body).events);
    expect(verifyWebhook(Buffer.from(body), h, secret, 300, 1100)).toHaveLength(1);
  });

  it('refuses a changed body, another secret, an old or future timestamp, and malformed headers', () => {
    const h = signWebhook(body, secret, 1000);
    const refuse = (fn: () => unknown, re: RegExp) => expect(fn).toThrow(re);
    refuse(() => verifyWebhook(body.replace('42', '43'), h, secret, 300, 1000), /signature mismatch/);
    refuse(() => verifyWebhook(body, h, 'other', 300, 1000), /signature mismatch/);
    refuse(() => verifyWebhook(body, h, secret, 300, 1301), /tolerance/);
    refuse(() => verifyWebhook(body, h, secret, 300, 699), /tolerance/);
    refuse(() => verifyWebhook(body, undefined, secret), /missing/);
    refuse(() => verifyWebhook(body, 't=1000', secret, 300, 1000), /malformed/);
    refuse(() => verifyWebhook(body, `v1=${'0'.repeat(64)}`, secret, 300, 1000), /malformed/);
    refuse(() => verifyWebhook(body, h, '', 300, 1000), /empty/);
    expect(() => verifyWebhook(body, h, 'x', 300, 1000)).toThrow(WebhookVerifyError);
  });

  it('accepts any one matching v1 among several (secret rotation)', () => {
    const h = signWebhook(body, secret, 1000);
    const other = signWebhook(body, 'old-secret', 1000).split(',')[1];
    expect(verifyWebhook(body, `${h},${other}`, secret, 300, 1000)).toHaveLength(1);
    expect(verifyWebhook(body, `${h},${other}`, 'old-secret', 300, 1000)).toHaveLength(1);
  });
});
