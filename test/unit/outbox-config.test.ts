import { describe, expect, it } from 'vitest';
import { outboxCommand } from '../../src/cli/outbox.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { fingerprintOf, parseIdempotencyKey } from '../../src/idempotency.js';

const base = { JWT_SECRET: 'test-secret-0123456789abcdef' };

describe('idempotency and outbox configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.idempotencyTtlMs).toBe(86_400_000);
    expect(c.idempotencyMaxKeys).toBe(100_000);
    expect(c.outboxUrl).toBeUndefined();
    expect(c.outboxTable).toBe('ssepush_outbox');
    expect(c.outboxPollMs).toBe(50);
  });

  it.each([
    ['IDEMPOTENCY_TTL_SECONDS', '0'],
    ['IDEMPOTENCY_MAX_KEYS', 'lots'],
    ['OUTBOX_URL', 'sqlite://x.db'],
    ['OUTBOX_TABLE', 'drop table;'],
    ['OUTBOX_TABLE', `t${'x'.repeat(58)}`],
    ['OUTBOX_POLL_MS', '1'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(name);
  });

  it('accepts mysql, mariadb and postgres URLs', () => {
    for (const u of ['mysql://a:b@h/db', 'mariadb://h/db', 'postgres://h/db', 'postgresql://h/db']) {
      expect(loadConfig({ ...base, OUTBOX_URL: u }).outboxUrl).toBe(u);
    }
  });
});

describe('Idempotency-Key values', () => {
  it('takes 1-128 of [A-Za-z0-9._:-] and refuses anything else with 400', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('outbox:orders:42')).toBe('outbox:orders:42');
    expect(parseIdempotencyKey('x'.repeat(128))).toBe('x'.repeat(128));
    for (const bad of ['', 'a b', 'x'.repeat(129), 'é', ['a', 'b']]) {
      expect(() => parseIdempotencyKey(bad)).toThrow(/Idempotency-Key/);
    }
  });

  it('fingerprints the messages asked for, not their encoding', () => {
    const m = { to: ['1'], groups: [], event: 'message', data: '{"a":1}' };
    expect(fingerprintOf([m], false)).toBe(fingerprintOf([{ ...m }], false));
    expect(fingerprintOf([m], false)).not.toBe(fingerprintOf([m], true));
    expect(fingerprintOf([m], false)).not.toBe(fingerprintOf([{ ...m, data: '{"a":2}' }], false));
    expect(fingerprintOf([m], false)).not.toBe(fingerprintOf([{ ...m, to: ['2'] }], false));
  });
});

describe('ssepush outbox schema', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    let out = '';
    let err = '';
    const code = await outboxCommand(
      args,
      env,
      (s) => (out += s),
      (s) => (err += s),
    );
    return { code, out, err };
  };

  it('prints the tables named by OUTBOX_TABLE for each dialect', async () => {
    const my = await run(['schema', 'mysql'], { OUTBOX_TABLE: 'orders_outbox' });
    expect(my.code).toBe(0);
    expect(my.out).toMatch(/CREATE TABLE IF NOT EXISTS `orders_outbox` \(/);
    expect(my.out).toMatch(/CREATE TABLE IF NOT EXISTS `orders_outbox_dead` \(/);
    const pg = await run(['schema', 'postgres']);
    expect(pg.out).toMatch(/CREATE TABLE IF NOT EXISTS "ssepush_outbox" \(\n {2}id bigserial PRIMARY KEY/);
  });

  it('answers usage with exit code 2', async () => {
    expect((await run(['schema', 'oracle'])).code).toBe(2);
    expect((await run([])).err).toMatch(/usage/);
    expect((await run(['schema', 'mysql'], { OUTBOX_TABLE: '1bad' })).code).toBe(2);
  });
});
