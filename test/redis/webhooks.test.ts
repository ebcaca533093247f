/**
 * Presence webhooks across three real nodes on one real redis-server: one event per transition
 * whatever node holds the connections, offline events for a node killed with -9 sent by the
 * survivors, and events queued while the receiver was down delivered by another node after the
 * node that queued them died.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, type SpawnedServer, type SseClient, subToken } from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { type Receiver, startReceiver, WEBHOOK_SECRET } from '../webhook-receiver.js';
import { eventually, spawnNodes, stopAll } from './cluster-helpers.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(`presence webhooks on Redis${skip ? ` (${skip})` : ''}`, () => {
  let redis: TestRedis;
  let rx: Receiver;
  let nodes: SpawnedServer[] = [];
  const clients: SseClient[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    rx = await startReceiver();
    nodes = await spawnNodes(3, redis.url, {
      WEBHOOK_URL: rx.url,
      WEBHOOK_SECRET,
      OFFLINE_GRACE_SECONDS: '1',
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await stopAll(nodes);
    await rx?.close();
    await redis?.close();
  });

  const connect = async (node: SpawnedServer, uid: string) => {
    const c = await openEvents(node.url, subToken(uid));
    await c.waitForId();
    clients.push(c);
    return c;
  };

  it('one online and one offline per transition, whatever node the connections are on', async () => {
    const cs = [
      await connect(nodes[0]!, 'ann'),
      await connect(nodes[1]!, 'ann'),
      await connect(nodes[2]!, 'ann'),
    ];
    await eventually(() => rx.of('ann').length === 1, 5000, 'online');
    // Moving between nodes within the grace is no transition.
    cs[0]!.close();
    cs[1]!.close();
    const again = await connect(nodes[0]!, 'ann');
    cs[2]!.close();
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.of('ann').map((e) => e.type)).toEqual(['online']);
    again.close();
    await eventually(() => rx.of('ann').length === 2, 8000, 'offline');
    await new Promise((r) => setTimeout(r, 1000));
    expect(rx.of('ann').map((e) => e.type)).toEqual(['online', 'offline']);
    // Deduped by id, nothing was sent twice either.
    expect(rx.events.filter((e) => e.uid === 'ann')).toHaveLength(2);
  }, 30_000);

  it('events queued while the receiver is down survive the death of the node that queued them', async () => {
    rx.answer = 503;
    await connect(nodes[2]!, 'bea');
    await eventually(() => rx.attempted.some((e) => e.uid === 'bea'), 10_000, 'a failed attempt for bea');
    nodes[2]!.proc.kill('SIGKILL'); // our own child, by PID
    rx.answer = 204;
    // Another node sends bea's online; then the reaper declares the dead node gone
    // (presence, ≤ 15 s plus a heartbeat) and bea goes offline after the grace.
    await eventually(() => rx.of('bea').length >= 1, 30_000, 'online delivered by a survivor');
    await eventually(() => rx.of('bea').length === 2, 40_000, 'offline after the node died');
    expect(rx.of('bea').map((e) => e.type)).toEqual(['online', 'offline']);
  }, 90_000);
});
