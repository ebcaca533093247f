import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const base = { JWT_SECRET: 'x'.repeat(32) };
const secret = 'w'.repeat(16);

describe('webhook configuration', () => {
  it('is off without WEBHOOK_URL, and resolved with defaults when set', () => {
    expect(loadConfig(base).webhook).toBeUndefined();
    expect(
      loadConfig({ ...base, WEBHOOK_URL: 'https://app.example/hook', WEBHOOK_SECRET: secret }).webhook,
    ).toEqual({
      url: 'https://app.example/hook',
      secret,
      offlineGraceMs: 10_000,
      queueMax: 100_000,
    });
  });

  it.each([
    [{ WEBHOOK_URL: 'ftp://app.example/hook', WEBHOOK_SECRET: secret }, /WEBHOOK_URL must be an http/],
    [{ WEBHOOK_URL: 'not a url', WEBHOOK_SECRET: secret }, /WEBHOOK_URL is not a URL/],
    [
      { WEBHOOK_URL: 'https://u:p@app.example/hook', WEBHOOK_SECRET: secret },
      /WEBHOOK_URL must not carry credentials/,
    ],
    [{ WEBHOOK_URL: 'https://app.example/hook' }, /WEBHOOK_SECRET is required/],
    [
      { WEBHOOK_URL: 'https://app.example/hook', WEBHOOK_SECRET: 'short' },
      /WEBHOOK_SECRET must be at least 16/,
    ],
    [
      { WEBHOOK_URL: 'https://app.example/hook', WEBHOOK_SECRET: secret, OFFLINE_GRACE_SECONDS: '86400' },
      /OFFLINE_GRACE_SECONDS must be between 0 and 3600/,
    ],
    [
      { WEBHOOK_URL: 'https://app.example/hook', WEBHOOK_SECRET: secret, OFFLINE_GRACE_SECONDS: 'soon' },
      /OFFLINE_GRACE_SECONDS must be a whole number/,
    ],
    [
      { WEBHOOK_URL: 'https://app.example/hook', WEBHOOK_SECRET: secret, WEBHOOK_QUEUE_MAX: '5' },
      /WEBHOOK_QUEUE_MAX must be between/,
    ],
    [{ WEBHOOK_SECRET: secret }, /WEBHOOK_SECRET is set but WEBHOOK_URL is not/],
  ])('refuses %o, naming the variable', (env, re) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(re);
  });
});
