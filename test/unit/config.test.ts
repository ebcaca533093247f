import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const base = { JWT_SECRET: 'config-secret-0123456789' };

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      heartbeatMs: 20_000,
      historySize: 100,
      historyTtlMs: 3_600_000,
      maxMessageBytes: 65_536,
      maxBodyBytes: 1_048_576,
      maxBufferedBytes: 1_048_576,
      pollTimeoutSec: 25,
      demo: false,
      jwtAlgorithms: ['HS256'],
      groupsTtlSec: 86_400,
      maxRuntimeGroupUids: 100_000,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('generates a demo secret outside production and refuses to start without a key in production', () => {
    expect(loadConfig({}).demo).toBe(true);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['HISTORY_SIZE', '0'],
    ['HEARTBEAT_SECONDS', '-5'],
    ['POLL_TIMEOUT_SECONDS', '61'],
    ['MAX_BUFFERED_BYTES', '1.5'],
    ['GROUPS_TTL_SECONDS', '0'],
    ['GROUPS_TTL_SECONDS', 'day'],
    ['MAX_RUNTIME_GROUP_UIDS', '0'],
    ['MAX_RUNTIME_GROUP_UIDS', '-1'],
    ['JWT_ALGORITHMS', 'none'],
    ['JWT_ALGORITHMS', 'RS256'],
    ['LOG_LEVEL', 'loud'],
    ['CORS_ORIGINS', '*'],
    ['REDIS_URL', 'localhost:6379'],
    ['JWT_SECRET', 'short'],
    ['REVOKE_TTL_SECONDS', '0'],
    ['REVOKE_TTL_SECONDS', '1h'],
    ['MAX_REVOCATIONS', '0'],
    ['MAX_REVOCATIONS', '-1'],
    ['DISCONNECT_NOTICE_SECONDS', '-1'],
    ['DISCONNECT_NOTICE_SECONDS', '30s'],
    ['DISCONNECT_NOTICE_SECONDS', '3601'],
    ['MAX_DISCONNECT_NOTICES', '0'],
  ])('names %s when its value %j is invalid', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(name);
  });

  it('resolves the backend-control bounds, with their defaults', () => {
    expect(loadConfig(base)).toMatchObject({ revokeTtlSec: 86_400, maxRevocations: 100_000 });
    expect(loadConfig({ ...base, REVOKE_TTL_SECONDS: '3600', MAX_REVOCATIONS: '10' })).toMatchObject({
      revokeTtlSec: 3600,
      maxRevocations: 10,
    });
  });

  it('resolves the disconnect-notice bounds, with their defaults; 0 seconds turns notices off', () => {
    expect(loadConfig(base)).toMatchObject({ disconnectNoticeSec: 30, maxDisconnectNotices: 100_000 });
    expect(
      loadConfig({ ...base, DISCONNECT_NOTICE_SECONDS: '0', MAX_DISCONNECT_NOTICES: '10' }),
    ).toMatchObject({ disconnectNoticeSec: 0, maxDisconnectNotices: 10 });
  });
});
