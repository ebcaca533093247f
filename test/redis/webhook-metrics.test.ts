/**
 * Redis-mode webhook metrics on two real nodes sharing one real redis-server: every event is
 * counted in `ssepush_webhook_events_queued_total` by the node that queued it, the online ones
 * (queued by the presence script of the node holding the first connection) as well as the offline
 * ones (queued by whichever node's tick ended the grace), so the nodes' counters add up to the
 * events the receiver got.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, type SpawnedServer, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { type Receiver, startReceiver, WEBHOOK_SECRET } from '../webhook-receiver.js';
import { eventually, spawnNodes, stopAll } from './cluster-helpers.js';

const skip = redisSkipReason();

async function metric(node: SpawnedServer, name: string): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe.skipIf(skip !== undefined)(`webhook metrics on Redis${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let rx: Receiver;
  let nodes: SpawnedServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    rx = await startReceiver();
    nodes = await spawnNodes(2, redis.url, {
      WEBHOOK_URL: rx.url,
      WEBHOOK_SECRET,
      OFFLINE_GRACE_SECONDS: '1',
    });
  }, 60_000);
  afterAll(async () => {
    await stopAll(nodes);
    await rx?.close();
    await redis?.close();
  });

  it('each node counts the online and offline events it queued', async () => {
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    const cal = await openEvents(a.url, subToken('cal'));
    const dan = await openEvents(b.url, subToken('dan'));
    await cal.waitForId();
    await dan.waitForId();
    await eventually(() => rx.of('cal').length === 1 && rx.of('dan').length === 1, 10_000, 'both online');
    cal.close();
    dan.close();
    await eventually(() => rx.of('cal').length === 2 && rx.of('dan').length === 2, 15_000, 'both offline');
    const queued = 'ssepush_webhook_events_queued_total';
    // The offline events' counts land with the tick that queued them; wait for all four.
    await eventually(
      async () => (await metric(a, queued)) + (await metric(b, queued)) >= 4,
      5000,
      'queued counters adding up to the four events delivered',
    );
    // Each node queued the online event of the uid it held, and nothing was counted twice.
    expect(await metric(a, queued)).toBeGreaterThanOrEqual(1);
    expect(await metric(b, queued)).toBeGreaterThanOrEqual(1);
    expect((await metric(a, queued)) + (await metric(b, queued))).toBe(4);
    expect(rx.events.filter((e) => e.uid === 'cal' || e.uid === 'dan')).toHaveLength(4);
    const sent = 'ssepush_webhook_events_sent_total';
    expect((await metric(a, sent)) + (await metric(b, sent))).toBe(4);
  }, 60_000);
});
