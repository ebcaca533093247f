/**
 * Runtime group changes made while a node was cut off from Redis: the node never heard them, and
 * since a blip costs no reconnect (its streams are caught up in place) its live connections would
 * keep the groups they had. The catch-up reads the changes of its connections' uids first, so a
 * stream that joined a group meanwhile gets that group's missed and later messages, and one that
 * left a group gets none of it any more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopedToken } from '../control-helpers.js';
import { openEvents, type SpawnedServer, subToken } from '../helpers.js';
import { redisSkipReason } from '../redis-server.js';
import { eventually, pushTo } from './cluster-helpers.js';
import { type ProxiedPair, startProxiedPair } from './tcp-proxy.js';

const skip = redisSkipReason();
const CONTROL = scopedToken();

describe.skipIf(skip !== undefined)(`runtime groups changed during a blip${skip ? ` (${skip})` : ''}`, () => {
  let pair: ProxiedPair;
  beforeAll(async () => {
    pair = await startProxiedPair();
  }, 120_000);
  afterAll(() => pair?.close());

  const healthz = async (n: SpawnedServer) => (await fetch(`${n.url}/healthz`)).status;

  it('a stream on the cut-off node follows the joins and leaves made meanwhile, without reconnecting', async () => {
    const { proxy, a, b } = pair;
    const sub = await openEvents(a.url, subToken('bg', { groups: ['old'] }));
    try {
      const first = (await pushTo(b, { group: ['old'], data: 'first' })).body.id!;
      await sub.waitUntil(() => sub.events.some((e) => e.id === first), 10_000, 'the first message');

      proxy.block();
      await eventually(async () => (await healthz(a)) === 503, 10_000, 'A unhealthy');
      const res = await fetch(`${b.url}/groups`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CONTROL}`, 'content-type': 'application/json' },
        body: JSON.stringify({ uid: 'bg', join: 'new', leave: 'old' }),
      });
      expect(res.status, await res.text()).toBe(200);
      const during = (await pushTo(b, { group: ['new'], data: 'during' })).body.id!;
      await pushTo(b, { group: ['old'], data: 'left' });
      proxy.unblock();
      await eventually(async () => (await healthz(a)) === 200, 30_000, 'A healthy again');

      const after = (await pushTo(b, { group: ['new'], data: 'after' })).body.id!;
      await pushTo(b, { group: ['old'], data: 'left' });
      const last = (await pushTo(b, { to: 'bg', data: 'last' })).body.id!;
      await sub.waitUntil(() => sub.events.some((e) => e.id === last), 30_000, 'the last message');
      expect(sub.events.map((e) => e.id)).toEqual([first, during, after, last]);
      expect(sub.closed, 'the stream stayed open').toBe(false);
    } finally {
      sub.close();
    }
  }, 120_000);
});
