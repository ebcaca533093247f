/**
 * Three ssepush processes on a real three-master Redis Cluster (cluster-mode Redis, as managed
 * services offer it): REDIS_URL names one node, the cluster is detected at start, every key
 * lives in the `{ssepush}` slot.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents, poll, type SpawnedServer, type SseClient, spawnServer, subToken } from '../helpers.js';
import { redisSkipReason } from '../redis-server.js';
import { eventually, onlineOn, pushTo, spawnNodes, stopAll } from './cluster-helpers.js';
import { type RedisClusterSet, startRedisCluster } from './redis-cluster.js';
import { Resuming } from './resuming.js';

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(
  `cluster-mode Redis: three nodes on a Redis Cluster${skip ? ` (${skip})` : ''}`,
  () => {
    let rc: RedisClusterSet;
    let nodes: SpawnedServer[] = [];
    const clients: SseClient[] = [];
    const track = (c: SseClient) => {
      clients.push(c);
      return c;
    };

    beforeAll(async () => {
      rc = await startRedisCluster({ replica: true });
      nodes = await spawnNodes(3, rc.url);
    }, 90_000);
    afterAll(async () => {
      for (const c of clients) c.close();
      await stopAll(nodes);
      await rc?.close();
    });

    it('detects cluster mode at start', () => {
      for (const n of nodes) expect(n.output()).toContain('redis runs in cluster mode');
    });

    it('a push on A reaches SSE clients on B and C and a long-poll on C, once each; presence counts all', async () => {
      const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
      const tok = subToken('cm1', { groups: ['g1'] });
      const sb = track(await openEvents(b.url, tok));
      const sc = track(await openEvents(c.url, tok));
      await sb.waitForId();
      const cursor = await sc.waitForId();
      const waiting = poll(c.url, tok, cursor, 10);
      await eventually(async () => (await onlineOn(a, 'cm1')) === 3, 5000, 'presence of 3 connections');
      const r = await pushTo(a, { to: 'cm1', data: { hello: 'cluster mode' } });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ online: true, delivered: 3 });
      const g = await pushTo(b, { group: 'g1', data: { n: 2 } });
      expect(g.status).toBe(200);
      await sb.waitForEvents(2);
      await sc.waitForEvents(2);
      expect((await waiting).messages.map((m) => m.id)).toEqual([r.body.id]);
      for (const s of [sb, sc]) expect(s.events.map((e) => e.id)).toEqual([r.body.id, g.body.id]);
    });

    it('a client that drops from A resumes on C without loss or duplicate', async () => {
      const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
      const tok = subToken('cm2');
      const first = track(await openEvents(a.url, tok));
      await first.waitForId();
      expect((await pushTo(b, { to: 'cm2', data: { i: 1 } })).status).toBe(200);
      await first.waitForEvents(1);
      first.close();
      const missed: string[] = [];
      for (let i = 2; i <= 4; i++) missed.push((await pushTo(a, { to: 'cm2', data: { i } })).body.id!);
      const second = track(await openEvents(c.url, tok, first.lastId));
      await second.waitForEvents(3);
      expect(second.events.map((e) => e.id)).toEqual(missed);
    });

    it('one Idempotency-Key sent to all three nodes publishes once; its record is in the {ssepush} slot', async () => {
      const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
      const s = track(await openEvents(b.url, subToken('cm3')));
      await s.waitForId();
      const key = { 'idempotency-key': 'cm-pay-1' };
      const body = { to: 'cm3', data: { pay: 1 } };
      const all = await Promise.all([a, b, c, a, b, c].map((n) => pushTo(n, body, key)));
      for (const r of all) expect(r).toEqual({ status: 200, body: all[0]!.body });
      const conflict = await pushTo(c, { to: 'cm3', data: { pay: 2 } }, key);
      expect(conflict.status).toBe(409);
      expect(conflict.body.error).toBe('idempotency_conflict');
      const next = await pushTo(a, { to: 'cm3', data: { after: true } });
      await s.waitForEvents(2);
      expect(s.events.map((e) => e.id)).toEqual([all[0]!.body.id, next.body.id]);
      const cl = new Cluster([{ host: '127.0.0.1', port: rc.ports[0]! }]);
      try {
        expect(await cl.pttl('{ssepush}:idem:cm-pay-1')).toBeGreaterThan(0);
      } finally {
        cl.disconnect();
      }
    });

    it('keeps every ssepush key in the one slot of {ssepush}: data is not sharded', async () => {
      let inSlot = 0;
      let total = 0;
      for (const port of rc.ports) {
        const c = new Redis({ port, host: '127.0.0.1' });
        try {
          const slot = String(await c.call('CLUSTER', 'KEYSLOT', '{ssepush}:state'));
          inSlot += Number(await c.call('CLUSTER', 'COUNTKEYSINSLOT', slot));
          total += await c.dbsize();
        } finally {
          c.disconnect();
        }
      }
      expect(total).toBeGreaterThan(0);
      expect(inSlot).toBe(total);
    });

    it('the cluster node carrying a subscription dies: that node catches its stream up in place, no acknowledged message is missed', async () => {
      // A fourth ssepush node whose REDIS_URL is the replica: its subscription lives there.
      const d = await spawnServer(
        { REDIS_URL: `redis://127.0.0.1:${rc.replica!.port}`, HEARTBEAT_SECONDS: '1' },
        30_000,
      );
      try {
        const tok = subToken('cm3');
        const sub = new Resuming(d, tok);
        await new Promise((r) => setTimeout(r, 500));
        const acked: string[] = [];
        let killed = 0;
        for (let i = 0; i < 400 && (!killed || Date.now() - killed < 3000); i++) {
          const r = await pushTo(nodes[i % 3]!, { to: 'cm3', data: { i } });
          if (r.status === 200) acked.push(r.body.id!);
          if (!killed && acked.length === 20) {
            await rc.replica!.kill();
            killed = Date.now();
          }
          await new Promise((res) => setTimeout(res, 20));
        }
        expect(killed).toBeGreaterThan(0);
        await eventually(
          () => acked.every((id) => sub.ids.includes(id)),
          20_000,
          'every acknowledged message at D',
        );
        await sub.stop();
        expect(new Set(sub.ids).size).toBe(sub.ids.length);
        // The stream stayed open: D caught it up in place (issue 13), no reconnect, no reset.
        expect(sub.reconnects).toBe(0);
        expect(sub.resets).toBe(0);
        expect(d.output()).toContain('redis subscription lost');
        expect(d.output()).toContain('caught up after resubscribe');
      } finally {
        await d.stop('SIGKILL');
      }
    }, 60_000);
  },
);
