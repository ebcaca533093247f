/** `Idempotency-Key` across two nodes sharing one real redis-server: one publish per key. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { openEvents, pubToken, type SseClient, startServer, subToken, type TestServer } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`idempotency on two Redis nodes${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let nodes: TestServer[] = [];
  const clients: SseClient[] = [];
  const pub = pubToken();

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      nodes.push(await startServer({ REDIS_URL: redis.url }, (config) => createRedisBroker(config)));
    }
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const n of nodes) await n.close();
    nodes = [];
    await redis?.close();
  });

  const push = async (n: TestServer, body: string, key: string) => {
    const res = await fetch(`${n.url}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pub}`, 'content-type': 'application/json', 'idempotency-key': key },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('concurrent duplicates on both nodes publish once, every answer the first', async () => {
    const sse = await openEvents(nodes[1]!.url, subToken('r1'));
    clients.push(sse);
    await sse.waitForId();
    const body = JSON.stringify({ to: 'r1', data: { pay: 1 } });
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => push(nodes[i % 2]!, body, 'pay-1')));
    expect(all.every((r) => r.status === 200)).toBe(true);
    for (const r of all) expect(r.body).toEqual(all[0]!.body);
    await sse.waitForEvents(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sse.events.length).toBe(1);
    expect(sse.events[0]!.id).toBe(all[0]!.body.id);
  });

  it('a conflict is seen by the other node', async () => {
    expect((await push(nodes[0]!, JSON.stringify({ to: 'r2', data: 1 }), 'k2')).status).toBe(200);
    const other = await push(nodes[1]!, JSON.stringify({ to: 'r2', data: 2 }), 'k2');
    expect(other.status).toBe(409);
    expect(other.body.error).toBe('idempotency_conflict');
  });
});
