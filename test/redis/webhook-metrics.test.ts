/**
 * Redis-mode webhook metrics on real nodes sharing one real redis-server: every event is counted
 * in `ssepush_webhook_events_queued_total` by the node that queued it, the online ones (queued by
 * the presence script of the node holding the first connection) as well as the offline ones
 * (queued by whichever node's tick ended the grace), so the nodes' counters add up to the events
 * the receiver got; and the queue bound drops the oldest, counted and logged by that node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, type SpawnedServer, type SseClient, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { metricOf, type Receiver, startReceiver, WEBHOOK_SECRET } from '../webhook-receiver.js';
import { eventually, spawnNodes, stopAll } from './cluster-helpers.js';

const skip = redisSkipReason();

const metric = (node: SpawnedServer, name: string) => metricOf(node.url, name);

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

describe.skipIf(skip !== undefined)(`webhook queue bound on Redis${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let rx: Receiver;
  let node: SpawnedServer;
  const clients: SseClient[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    rx = await startReceiver();
    [node] = (await spawnNodes(1, redis.url, {
      WEBHOOK_URL: rx.url,
      WEBHOOK_SECRET,
      OFFLINE_GRACE_SECONDS: '3600',
      WEBHOOK_QUEUE_MAX: '100',
    })) as [SpawnedServer];
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await node?.stop('SIGKILL');
    await rx?.close();
    await redis?.close();
  });

  it('past WEBHOOK_QUEUE_MAX the oldest events go, counted and logged; the newest are delivered', async () => {
    rx.answer = 503;
    for (let i = 0; i < 120; i++) {
      const c = await openEvents(node.url, subToken(`q${i}`));
      await c.waitForId();
      clients.push(c);
    }
    await eventually(
      async () => (await metric(node, 'ssepush_webhook_events_queued_total')) === 120,
      10_000,
      '120 online events queued',
    );
    expect(await metric(node, 'ssepush_webhook_events_dropped_total')).toBe(20);
    expect(await metric(node, 'ssepush_webhook_queue_length')).toBe(100);
    expect(node.output()).toContain('webhook queue full');
    rx.answer = 204;
    await eventually(
      () => new Set(rx.events.map((e) => e.uid)).size === 100,
      40_000,
      'the newest 100 delivered',
    );
    const delivered = new Set(rx.events.map((e) => e.uid));
    for (let i = 0; i < 120; i++) expect(delivered.has(`q${i}`), `q${i}`).toBe(i >= 20);
  }, 90_000);
});
