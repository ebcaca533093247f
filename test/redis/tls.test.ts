/**
 * TLS and ACL: a real `redis-server --tls-port` (CA and certificate made by the test with
 * openssl, client certificates not required) whose only user is an ACL user with a password.
 * Three ssepush nodes run through it with `rediss://user:password@…` and REDIS_TLS_CA; a wrong
 * CA or password fails start-up with a clear message; the password is never printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, type SpawnedServer, type SseClient, spawnServer, subToken } from '../helpers.js';
import { redisSkipReason } from '../redis-server.js';
import { eventually, onlineOn, pushTo, spawnNodes, stopAll } from './cluster-helpers.js';
import { startTlsRedis, type TlsRedis } from './topologies.js';

const skip = redisSkipReason();
const USER = 'ssepush-app';
const PASSWORD = 'pw-Zq8xT3-never-logged';

describe.skipIf(skip !== undefined)(`TLS and ACL user${skip ? ` (${skip})` : ''}`, () => {
  let redis: TlsRedis;
  let url: string;
  let nodes: SpawnedServer[] = [];
  const clients: SseClient[] = [];

  beforeAll(async () => {
    redis = await startTlsRedis(USER, PASSWORD);
    url = `rediss://${USER}:${PASSWORD}@127.0.0.1:${redis.port}`;
    nodes = await spawnNodes(3, url, { REDIS_TLS_CA: redis.pki.caPem, LOG_LEVEL: 'debug' });
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await stopAll(nodes);
    await redis?.close();
  });

  it('three nodes work end to end through TLS with an ACL user', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const tok = subToken('tls1');
    const sb = await openEvents(b.url, tok);
    const sc = await openEvents(c.url, tok);
    clients.push(sb, sc);
    await sb.waitForId();
    await sc.waitForId();
    await eventually(async () => (await onlineOn(a, 'tls1')) === 2, 5000, 'presence of 2 connections');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await pushTo(nodes[i]!, { to: 'tls1', data: { i } });
      expect(r.status).toBe(200);
      ids.push(r.body.id!);
    }
    await sb.waitForEvents(3);
    await sc.waitForEvents(3);
    expect(sb.events.map((e) => e.id)).toEqual(ids);
    expect(sc.events.map((e) => e.id)).toEqual(ids);
  });

  const startFails = async (env: Record<string, string>): Promise<string> => {
    try {
      const n = await spawnServer({ HEARTBEAT_SECONDS: '1', LOG_LEVEL: 'debug', ...env }, 30_000);
      await n.stop('SIGKILL');
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('the server started');
  };

  it('a wrong CA fails start-up with a clear message, without the password', async () => {
    const out = await startFails({ REDIS_URL: url, REDIS_TLS_CA: redis.otherCaPem });
    expect(out).toMatch(
      /ssepush: failed to start: cannot use Redis at REDIS_URL rediss:\/\/ssepush-app:\*\*\*@127\.0\.0\.1/,
    );
    expect(out).toMatch(/certificate/i);
    expect(out).not.toContain(PASSWORD);
  });

  it('no CA (system CAs only) fails the same way', async () => {
    const out = await startFails({ REDIS_URL: url });
    expect(out).toMatch(/failed to start: cannot use Redis at REDIS_URL .*certificate/i);
    expect(out).not.toContain(PASSWORD);
  });

  it('a wrong password fails start-up with a clear message, without either password', async () => {
    const wrong = 'wrong-pw-Kk29-not-logged';
    const out = await startFails({
      REDIS_URL: `rediss://${USER}:${wrong}@127.0.0.1:${redis.port}`,
      REDIS_TLS_CA: redis.pki.caPem,
    });
    expect(out).toMatch(/failed to start: cannot use Redis at REDIS_URL .*WRONGPASS/);
    expect(out).not.toContain(wrong);
    expect(out).not.toContain(PASSWORD);
  });

  it('plain redis:// against the TLS port fails start-up instead of hanging', async () => {
    const out = await startFails({ REDIS_URL: `redis://${USER}:${PASSWORD}@127.0.0.1:${redis.port}` });
    expect(out).toMatch(/failed to start: cannot use Redis at REDIS_URL/);
    expect(out).not.toContain(PASSWORD);
  });

  it('never printed the password (debug logs of the running nodes included)', () => {
    for (const n of nodes) {
      expect(n.output().length).toBeGreaterThan(0);
      expect(n.output()).not.toContain(PASSWORD);
    }
  });
});
