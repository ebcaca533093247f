/** Redis settings: URL, TLS, ACL, Sentinel and WAIT variables; the cluster hash tag; masking. */
import { describe, expect, it } from 'vitest';
import { keyPrefix } from '../../src/broker-redis.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { describeTarget, maskUrl } from '../../src/redis-connect.js';

const base = { JWT_SECRET: 'config-secret-0123456789' };
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const fails = (env: Record<string, string>, re: RegExp) => {
  expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
  expect(() => loadConfig({ ...base, ...env })).toThrow(re);
};

describe('Redis configuration', () => {
  it('no Redis variable: memory backend', () => {
    expect(loadConfig(base).redis).toBeUndefined();
  });

  it('a rediss:// URL with a user, password and CA', () => {
    const r = loadConfig({ ...base, REDIS_URL: 'rediss://app:p%40ss@redis.example:6380/2', REDIS_TLS_CA: CA })
      .redis!;
    expect(r).toMatchObject({
      url: 'rediss://app:p%40ss@redis.example:6380/2',
      tls: true,
      tlsCa: CA,
      sentinels: [],
    });
    expect(r.waitReplicas).toBe(0);
  });

  it('Sentinel with its name, passwords, TLS to the data nodes and WAIT', () => {
    const r = loadConfig({
      ...base,
      REDIS_SENTINELS: '10.0.0.1:26379, sentinel-2:26380,[::1]:26381',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sp',
      REDIS_USERNAME: 'app',
      REDIS_PASSWORD: 'dp',
      REDIS_TLS: '1',
      REDIS_TLS_CA: CA,
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '250',
    }).redis!;
    expect(r.sentinels).toEqual([
      { host: '10.0.0.1', port: 26379 },
      { host: 'sentinel-2', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    expect(r).toMatchObject({
      sentinelName: 'mymaster',
      sentinelPassword: 'sp',
      username: 'app',
      password: 'dp',
    });
    expect(r).toMatchObject({ tls: true, waitReplicas: 1, waitTimeoutMs: 250, url: undefined });
    expect(describeTarget(r)).not.toContain('dp');
  });

  it('bad values name the variable and never echo a URL that may hold a password', () => {
    fails({ REDIS_URL: 'http://x' }, /REDIS_URL must start with redis:\/\//);
    fails({ REDIS_URL: 'redis://u:secret@[bad' }, /REDIS_URL is not a valid URL/);
    expect(() => loadConfig({ ...base, REDIS_URL: 'redis://u:secret@[bad' })).not.toThrow(/secret/);
    fails({ REDIS_URL: 'redis://a', REDIS_SENTINELS: 'b:1' }, /REDIS_URL or REDIS_SENTINELS, not both/);
    fails({ REDIS_SENTINELS: 'b' }, /REDIS_SENTINELS: "b" is not host:port/);
    fails({ REDIS_SENTINELS: 'b:1' }, /REDIS_SENTINEL_NAME is required/);
    fails({ REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINEL_NAME needs REDIS_URL or REDIS_SENTINELS/);
    fails(
      { REDIS_URL: 'redis://a', REDIS_SENTINEL_NAME: 'm' },
      /REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD need REDIS_SENTINELS/,
    );
    fails({ REDIS_URL: 'redis://a', REDIS_TLS_CA: 'not pem' }, /REDIS_TLS_CA must hold the PEM text/);
    fails({ REDIS_URL: 'redis://a', REDIS_TLS_CA: CA }, /REDIS_TLS_CA needs TLS/);
    fails({ REDIS_URL: 'redis://a', REDIS_TLS: '1' }, /REDIS_TLS: use a rediss:\/\//);
    fails({ REDIS_URL: 'redis://a', REDIS_TLS: 'yes' }, /REDIS_TLS must be 1 or 0/);
    fails(
      { REDIS_URL: 'redis://a', REDIS_WAIT_REPLICAS: '-1' },
      /REDIS_WAIT_REPLICAS must be a whole number/,
    );
    fails({ REDIS_URL: 'redis://a', REDIS_WAIT_TIMEOUT_MS: '0' }, /REDIS_WAIT_TIMEOUT_MS must be between 1/);
    fails({ WORKERS: '2' }, /WORKERS above 1 needs REDIS_URL/);
  });

  it('masks the password of a URL', () => {
    expect(maskUrl('rediss://app:s3cret@h:6380/1')).toBe('rediss://app:***@h:6380/1');
    expect(maskUrl('redis://h:6379')).toBe('redis://h:6379');
    expect(maskUrl('redis://:s3cret@h')).not.toContain('s3cret');
  });
});

describe('keyPrefix', () => {
  it('keeps the prefix on a single Redis or Sentinel (existing keys stay valid)', () => {
    expect(keyPrefix('ssepush:', false)).toBe('ssepush:');
  });

  it('adds one hash tag on cluster-mode Redis unless the prefix has one', () => {
    expect(keyPrefix('ssepush:', true)).toBe('{ssepush}:');
    expect(keyPrefix('app', true)).toBe('{app}');
    expect(keyPrefix('{tenant1}:ssepush:', true)).toBe('{tenant1}:ssepush:');
    // `{}` is no tag (Redis hashes the whole key): wrapped like any other prefix.
    expect(keyPrefix('a{}:', true)).toBe('{a{}}:');
  });
});
