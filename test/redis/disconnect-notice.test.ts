/**
 * Disconnect notices across three ssepush processes on one real redis-server: a long-poll client
 * between two polls when a kick is made on A is told on its next poll, whatever node it lands on,
 * once; a node started after the kick knows it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSec } from '../../src/revocations.js';
import { disconnect, subTokenAt } from '../control-helpers.js';
import {
  openEvents,
  type PollBody,
  poll,
  type SpawnedServer,
  type SseClient,
  spawnServer,
} from '../helpers.js';
import { redisSkipReason, startRedis, type TestRedis } from '../redis-server.js';
import { eventually, onlineOn, pushTo, spawnNodes, stopAll } from './cluster-helpers.js';

const skip = redisSkipReason();

type Answer = PollBody & { disconnect?: { reason: string; reconnect: boolean } };

describe.skipIf(skip !== undefined)(
  `disconnect notices: three nodes on one Redis${skip ? ` (${skip})` : ''}`,
  () => {
    let redis: TestRedis;
    let nodes: SpawnedServer[] = [];
    const clients: SseClient[] = [];

    beforeAll(async () => {
      redis = await startRedis();
      nodes = await spawnNodes(3, redis.url);
    }, 60_000);
    afterAll(async () => {
      for (const c of clients) c.close();
      await stopAll(nodes);
      await redis?.close();
    });

    const ask = (node: { url: string }, token: string, cursor: string) =>
      poll(node.url, token, cursor, 30) as Promise<Answer>;

    /** A poll that must wait (not told): answered by a push to `uid` once presence counts it. */
    const waitsThenGets = async (node: SpawnedServer, token: string, uid: string, cursor: string) => {
      const answer = ask(node, token, cursor);
      await eventually(async () => (await onlineOn(nodes[0]!, uid)) === 1, 5000, `${uid}'s poll to wait`);
      await pushTo(nodes[0]!, { to: uid, data: 'woke' });
      return answer;
    };

    it('a kick on A tells a poll between two polls on B, and on C, once each', async () => {
      const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
      const tok = subTokenAt('rn1', nowSec() - 5);
      const { cursor: c0 } = await poll(b.url, tok);
      // Streams of the uid on B and C: once they end, those nodes have applied the kick (its notice
      // travels ahead of it on the same channel).
      const onB = await openEvents(b.url, tok);
      const onC = await openEvents(c.url, tok);
      clients.push(onB, onC);
      await eventually(async () => (await onlineOn(a, 'rn1')) === 2, 5000, 'presence of rn1');
      await disconnect(a, { uid: 'rn1', reason: 'logout', reconnect: false });
      for (const s of [onB, onC]) await s.waitUntil(() => s.closed, 5000, 'the stream to end');

      const told = await ask(b, tok, c0);
      expect(told).toEqual({
        messages: [],
        cursor: expect.any(String),
        disconnect: { reason: 'logout', reconnect: false },
      });
      // Another client of the uid, also between two polls, lands on C.
      expect((await ask(c, tok, c0)).disconnect).toEqual({ reason: 'logout', reconnect: false });
      // From the cursor it was told with, a client is not told again, on any node.
      const next = await waitsThenGets(c, tok, 'rn1', told.cursor);
      expect(next.messages.map((m) => m.data)).toEqual(['woke']);
      expect(next.disconnect).toBeUndefined();
    });

    it('a node started after the kick tells the poll too (notices are loaded from Redis)', async () => {
      const [a] = nodes as [SpawnedServer];
      const tok = subTokenAt('rn2', nowSec() - 5);
      const { cursor: c0 } = await poll(a.url, tok);
      await disconnect(a, { uid: 'rn2', reason: 'moved' });
      await nodes[2]!.stop('SIGKILL');
      const restarted = await spawnServer({ REDIS_URL: redis.url, HEARTBEAT_SECONDS: '1' }, 30_000);
      nodes[2] = restarted;
      expect((await ask(restarted, tok, c0)).disconnect).toEqual({ reason: 'moved', reconnect: true });
      // A token signed after the kick (a fresh page load) is not told.
      const fresh = subTokenAt('rn2', nowSec() + 1);
      expect((await waitsThenGets(restarted, fresh, 'rn2', c0)).disconnect).toBeUndefined();
    });
  },
);
