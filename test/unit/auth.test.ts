import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { Auth, mintToken } from '../../src/auth.js';
import { loadConfig } from '../../src/config.js';

const SECRET = 'unit-secret-0123456789abcdef';
const config = loadConfig({ JWT_SECRET: SECRET });
const auth = new Auth(config);
const sign = (payload: object, opts: jwt.SignOptions = {}, key = SECRET) =>
  jwt.sign(payload, key, { algorithm: 'HS256', ...opts });

describe('Auth.subscriber', () => {
  it('accepts sub and groups; a numeric sub means its decimal string', () => {
    expect(auth.subscriber(sign({ sub: 'alice', groups: ['a', 7] }))).toMatchObject({
      uid: 'alice',
      groups: ['a', '7'],
    });
    expect(auth.subscriber(sign({ sub: 42 })).uid).toBe('42');
  });

  it('keeps the expiry so the hub can end the stream', () => {
    const s = auth.subscriber(sign({ sub: 'x' }, { expiresIn: 60 }));
    expect(s.expiresAt).toBeGreaterThan(Date.now());
  });

  it.each([
    ['no sub', {}, 'forbidden'],
    ['negative numeric sub', { sub: -1 }, 'forbidden'],
    ['groups not an array', { sub: 'a', groups: 'g' }, 'forbidden'],
    ['a group with a newline', { sub: 'a', groups: ['x\ny'] }, 'forbidden'],
    ['a publisher token', { sub: 'a', scope: 'push' }, 'forbidden'],
  ])('refuses %s', (_name, payload, kind) => {
    expect(() => auth.subscriber(sign(payload))).toThrow(expect.objectContaining({ kind }));
  });

  it('refuses expired, badly signed, unsigned and garbage tokens with 401', () => {
    const expired = sign({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 60 });
    expect(() => auth.subscriber(expired)).toThrow(
      expect.objectContaining({ kind: 'unauthorized', code: 'token_expired' }),
    );
    expect(() => auth.subscriber(sign({ sub: 'a' }, {}, 'another-secret-0123456789'))).toThrow(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
    const none = jwt.sign({ sub: 'a' }, '', { algorithm: 'none' });
    expect(() => auth.subscriber(none)).toThrow(expect.objectContaining({ kind: 'unauthorized' }));
    expect(() => auth.subscriber('not.a.jwt')).toThrow(expect.objectContaining({ kind: 'unauthorized' }));
    expect(() => auth.subscriber('x'.repeat(10_000))).toThrow(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
  });

  it('tolerates a few seconds of clock skew on exp', () => {
    const justExpired = sign({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 2 });
    expect(auth.subscriber(justExpired).uid).toBe('a');
  });

  it('checks issuer and audience when configured', () => {
    const strict = new Auth(loadConfig({ JWT_SECRET: SECRET, JWT_ISSUER: 'app', JWT_AUDIENCE: 'push' }));
    expect(strict.subscriber(sign({ sub: 'a' }, { issuer: 'app', audience: 'push' })).uid).toBe('a');
    expect(() => strict.subscriber(sign({ sub: 'a' }, { issuer: 'evil', audience: 'push' }))).toThrow(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
    expect(() => strict.subscriber(sign({ sub: 'a' }))).toThrow(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
  });

  it('with a public key, refuses an HS256 token signed with the key text (algorithm confusion)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsa = new Auth(loadConfig({ JWT_PUBLIC_KEY: pem }));
    const good = jwt.sign({ sub: 'a' }, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
      algorithm: 'RS256',
    });
    expect(rsa.subscriber(good).uid).toBe('a');
    const forged = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}`;
    const sig = createHmac('sha256', pem).update(forged).digest('base64url');
    expect(() => rsa.subscriber(`${forged}.${sig}`)).toThrow(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
  });
});

describe('Auth.publisher', () => {
  it('needs the push scope (string or array)', () => {
    expect(() => auth.publisher(sign({ scope: 'push' }))).not.toThrow();
    expect(() => auth.publisher(sign({ scope: ['read', 'push'] }))).not.toThrow();
    expect(() => auth.publisher(sign({ sub: 'a' }))).toThrow(expect.objectContaining({ kind: 'forbidden' }));
  });

  it('uses PUBLISHER_JWT_SECRET when set, so subscriber keys cannot publish', () => {
    const split = new Auth(
      loadConfig({ JWT_SECRET: SECRET, PUBLISHER_JWT_SECRET: 'publisher-secret-0123456789' }),
    );
    expect(() => split.publisher(sign({ scope: 'push' }))).toThrow(
      expect.objectContaining({ kind: 'unauthorized' }),
    );
    expect(() => split.publisher(sign({ scope: 'push' }, {}, 'publisher-secret-0123456789'))).not.toThrow();
  });

  it('mints tokens the verifier accepts', () => {
    expect(() => auth.publisher(mintToken(config, { push: true, ttlSec: 60 }))).not.toThrow();
    expect(auth.subscriber(mintToken(config, { sub: '9', groups: ['g'] }))).toMatchObject({
      uid: '9',
      groups: ['g'],
    });
  });
});
