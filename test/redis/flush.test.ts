/**
 * End to end on a real server and a real redis-server: a client that connects after a
 * FLUSHALL, before the new epoch's first message reached this node, keeps a new-epoch
 * Last-Event-ID through heartbeats and resumes by replay, not by an `epoch_changed` reset.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBroker } from '../../src/broker-redis.js';
import { loadConfig } from '../../src/config.js';
import { SsePushServer } from '../../src/server.js';
import { openEvents, pubToken, subToken, TEST_SECRET } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`after FLUSHALL${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let server: SsePushServer;
  let url = '';
  beforeAll(async () => {
    redis = await startRedis();
    const config = loadConfig({
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
      REDIS_URL: redis.url,
      HEARTBEAT_SECONDS: '1',
    });
    server = new SsePushServer(config, { broker: await createRedisBroker(config) });
    url = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await server?.close();
    await redis?.close();
  });

  const push = async (body: unknown): Promise<{ id: string }> => {
    const res = await fetch(`${url}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${pubToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { id: string };
  };

  it('a heartbeat keeps a new-epoch client in its epoch; its resume replays', async () => {
    const old = await push({ to: 'other', data: 1 }); // this node's head is in the old epoch
    await new Promise((r) => setTimeout(r, 100));
    await redis.client().flushall();
    const tok = subToken('fresh');
    const c = await openEvents(url, tok);
    const start = await c.waitForId();
    const epoch = start!.split('-')[0];
    expect(epoch).not.toBe(old.id.split('-')[0]);
    await c.waitUntil(() => c.comments > 0, 3000, 'a heartbeat');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.lastId!.split('-')[0]).toBe(epoch);
    const lastId = c.lastId!;
    c.close();
    const missed = await push({ to: 'fresh', data: 2 });
    const back = await openEvents(url, tok, lastId);
    try {
      await back.waitForEvents(1);
      expect(back.events[0]).toMatchObject({ id: missed.id, event: 'message' });
    } finally {
      back.close();
    }
  }, 30_000);
});
