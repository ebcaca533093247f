/**
 * Sentinel failover with a real primary, two replicas and three sentinels (loopback, free ports):
 * three ssepush nodes configured with REDIS_SENTINELS and REDIS_WAIT_REPLICAS=1. A publisher
 * pushes steadily; the primary is killed with SIGKILL. Publishers see 503s, then success;
 * every subscriber gets every message whose push was answered 200, once, in order.
 *
 * Live streams stay open through the failover: a node whose subscription moved to the new primary
 * catches its streams up in place (issue 13 item 1, `catch-up.ts`), so no stream is closed by the
 * server and no subscriber reconnects. Without WAIT, a write the promoted replica never got may
 * be lost from history; the subscriber is then told by an in-band `reset`, never a silent gap.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseId } from '../../src/ids.js';
import { openEvents, type SpawnedServer, subToken } from '../helpers.js';
import { redisSkipReason } from '../redis-server.js';
import { eventually, type PushAnswer, pushTo, spawnNodes, stopAll } from './cluster-helpers.js';
import { Resuming } from './resuming.js';
import { type SentinelSet, startSentinels } from './topologies.js';

const skip = redisSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Three nodes start in parallel with the Redis processes on a loaded machine (CI runs every suite at once). */
const START_MS = 90_000;

describe.skipIf(skip !== undefined).each([1, 0])(
  `Sentinel failover, REDIS_WAIT_REPLICAS=%i${skip ? ` (${skip})` : ''}`,
  (wait) => {
    let set: SentinelSet;
    let nodes: SpawnedServer[] = [];

    beforeAll(async () => {
      set = await startSentinels(2, 1000);
      nodes = await spawnNodes(
        3,
        '',
        {
          REDIS_URL: '',
          REDIS_SENTINELS: set.sentinels,
          REDIS_SENTINEL_NAME: set.name,
          REDIS_WAIT_REPLICAS: String(wait),
          REDIS_WAIT_TIMEOUT_MS: '1000',
          HISTORY_SIZE: '10000',
        },
        START_MS,
      );
    }, 180_000);
    afterAll(async () => {
      await stopAll(nodes);
      await set?.close();
    });

    it.runIf(wait > 0)(
      'replicas that do not confirm in time: the push answers 503 replication_timeout',
      async () => {
        for (const r of set.replicas) r.proc.kill('SIGSTOP');
        let r: PushAnswer;
        try {
          r = await pushTo(nodes[0]!, { to: 'paused', data: {} });
        } finally {
          for (const x of set.replicas) x.proc.kill('SIGCONT');
        }
        expect(r.status).toBe(503);
        expect(r.body.error).toBe('replication_timeout');
        let ok = 0;
        for (let i = 0; i < 50 && ok === 0; i++) {
          if ((await pushTo(nodes[0]!, { to: 'paused', data: {} })).status === 200) ok++;
          else await sleep(100);
        }
        expect(ok).toBe(1);
      },
    );

    it('kill -9 of the primary: 503s, then success; every acknowledged message arrives once, in order (or a reset)', async () => {
      const tok = subToken('fo', { groups: ['fog'] });
      const subs = nodes.map((n) => new Resuming(n, tok));
      await sleep(500);
      const before = await set.currentPrimaryPort();
      expect(before).toBe(set.primary.port);

      const acked: string[] = [];
      const statuses: { t: number; status: number; error?: string }[] = [];
      let killedAt = 0;
      let n = 0;
      let recoveredAt = 0;
      const started = Date.now();
      while (Date.now() - started < 60_000) {
        const node = nodes[n % nodes.length]!;
        n++;
        const r = await pushTo(node, { to: 'fo', data: { n } }).catch(
          (): PushAnswer => ({ status: 0, body: {} }),
        );
        const t = Date.now();
        statuses.push({ t, status: r.status, ...(r.body.error ? { error: r.body.error } : {}) });
        if (r.status === 200) acked.push(r.body.id!);
        if (!killedAt && acked.length >= 50) {
          await set.primary.kill();
          killedAt = Date.now();
        }
        if (
          killedAt &&
          !recoveredAt &&
          r.status === 200 &&
          statuses.some((s) => s.t > killedAt && s.status !== 200)
        ) {
          recoveredAt = t;
        }
        if (recoveredAt && t - recoveredAt > 2000) break;
        await sleep(20);
      }
      expect(killedAt).toBeGreaterThan(0);
      expect(recoveredAt).toBeGreaterThan(0);
      // Sentinels learn the switch from each other: the one asked may name the old primary a little
      // longer than the node's clients, which follow whichever sentinel answers first.
      await eventually(
        async () => (await set.currentPrimaryPort()) !== before,
        15_000,
        'the first sentinel to name the promoted replica',
      );

      // Every subscriber catches up with every acknowledged message.
      const deadline = Date.now() + 30_000;
      for (const s of subs) {
        while (acked.some((id) => !s.ids.includes(id)) && Date.now() < deadline) await sleep(100);
      }
      await Promise.all(subs.map((s) => s.stop()));

      const failed = statuses.filter((s) => s.status !== 200);
      const lastOkBefore = Math.max(
        ...statuses.filter((s) => s.status === 200 && s.t <= killedAt).map((s) => s.t),
      );
      const gapS = (recoveredAt - killedAt) / 1000;
      const codes = [...new Set(failed.map((s) => `${s.status} ${s.error ?? ''}`))];
      console.log(
        `sentinel failover (REDIS_WAIT_REPLICAS=${wait}): ${acked.length} acknowledged, ${failed.length} answered non-200 (${codes.join(', ')}); ` +
          `publish gap ${gapS.toFixed(2)} s (kill -> first 200; last 200 before kill ${killedAt - lastOkBefore} ms earlier); ` +
          `reconnects per subscriber ${subs.map((s) => s.reconnects).join('/')}, resets ${subs.map((s) => s.resets).join('/')}`,
      );
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.every((s) => s.status === 503)).toBe(true);
      for (const [i, s] of subs.entries()) {
        const lost = acked.filter((id) => !s.ids.includes(id));
        if (lost.length > 0) {
          const lines = nodes[i]!.output()
            .split('\n')
            .filter((l) => /redis|resync|subscri/i.test(l));
          console.log(`node ${i} log:\n${lines.slice(-30).join('\n')}`);
          console.log(`node ${i} subscriber misses ${lost.join(', ')}`);
        }
        console.log(
          `subscriber: ${s.ids.length} received, ${lost.length} acknowledged missing, ${s.resets} resets`,
        );
        // The stream stayed open: caught up in place, never ended by the server.
        expect(s.reconnects, 'streams closed by the server').toBe(0);
        expect(new Set(s.ids).size, 'a message arrived twice').toBe(s.ids.length);
        const seqs = s.ids.map((id) => parseId(id)!.seq);
        expect(seqs, 'out of order').toEqual([...seqs].sort((a, b) => a - b));
        // Without WAIT an acknowledged write the promoted replica never got may be gone from
        // history: the rollback guard must then have told the subscriber (a reset), never a gap.
        if (wait === 0 && s.resets > 0) continue;
        expect(lost, 'acknowledged messages missing at a subscriber').toEqual([]);
        expect(s.resets, 'a reset while history covered the failover').toBe(0);
      }
    }, 120_000);
  },
);

describe.skipIf(skip !== undefined)(
  `Sentinel failover that loses acknowledged writes (no WAIT)${skip ? ` (${skip})` : ''}`,
  () => {
    let set: SentinelSet;
    let nodes: SpawnedServer[] = [];

    beforeAll(async () => {
      set = await startSentinels(1, 1000);
      nodes = await spawnNodes(
        3,
        '',
        {
          REDIS_URL: '',
          REDIS_SENTINELS: set.sentinels,
          REDIS_SENTINEL_NAME: set.name,
          HISTORY_SIZE: '10000',
        },
        START_MS,
      );
    }, 180_000);
    afterAll(async () => {
      await stopAll(nodes);
      await set?.close();
    });

    it('writes only the killed primary had: live subscribers have them, a resume from before them gets a reset, not a gap', async () => {
      const [a, b] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
      const tok = subToken('lw');
      // A subscriber that will come back later from an early position.
      const late = await openEvents(a.url, tok);
      const early: string[] = [];
      for (let i = 0; i < 3; i++) early.push((await pushTo(b, { to: 'lw', data: { i } })).body.id!);
      await late.waitForEvents(3);
      const lateId = late.lastId!;
      late.close();
      const live = nodes.map((n) => new Resuming(n, tok));
      await sleep(500);
      // The replica holds everything so far (its first sync can still run on a loaded machine: a
      // replica promoted empty starts a new epoch, which is another test).
      expect(await set.replicasSynced()).toBe(1);

      // The replica stops replicating: what is acknowledged now exists on the primary only.
      const replica = set.replicas[0]!;
      replica.proc.kill('SIGSTOP');
      const doomed: string[] = [];
      try {
        // Cut the link too, or the paused replica would read the writes from its socket buffer.
        const primary = new Redis({ port: set.primary.port, host: '127.0.0.1' });
        try {
          await primary.call('CLIENT', 'KILL', 'TYPE', 'replica');
        } finally {
          primary.disconnect();
        }
        for (let i = 0; i < 5; i++) {
          const r = await pushTo(nodes[i % 3]!, { to: 'lw', data: { doomed: i } });
          expect(r.status).toBe(200);
          doomed.push(r.body.id!);
        }
        await sleep(300);
        await set.primary.kill();
      } finally {
        replica.proc.kill('SIGCONT');
      }
      const killedAt = Date.now();
      let after: PushAnswer | undefined;
      while (Date.now() - killedAt < 60_000) {
        const r = await pushTo(a, { to: 'lw', data: { after: true } }).catch(
          (): PushAnswer => ({ status: 0, body: {} }),
        );
        if (r.status === 200) {
          after = r;
          break;
        }
        await sleep(50);
      }
      expect(after, 'publishing resumed on the promoted replica').toBeDefined();
      console.log(`lost-write failover: publish gap ${((Date.now() - killedAt) / 1000).toFixed(2)} s`);
      // No id is issued twice: the guard moved the promoted replica's counter past what was seen.
      const seq = (id: string) => parseId(id)!.seq;
      expect(seq(after!.body.id!)).toBeGreaterThan(seq(doomed[doomed.length - 1]!));

      // The writes really were lost, and the guard recorded it: `lost` is the newest seen seq.
      // The node may have followed another sentinel: the one asked can lag the switch a little.
      const promoted = set.replicas[0]!.port;
      await eventually(
        async () => (await set.currentPrimaryPort()) === promoted,
        15_000,
        'the first sentinel to name the promoted replica',
      );
      const now = new Redis({ port: promoted, host: '127.0.0.1' });
      try {
        let kept = 0;
        for (const k of await now.keys('ssepush:h:*'))
          kept += await now.zcount(k, seq(doomed[0]!), seq(doomed[4]!));
        expect(kept).toBe(0);
        expect(Number(await now.hget('ssepush:state', 'lost'))).toBe(seq(doomed[4]!));
      } finally {
        now.disconnect();
      }

      // Subscribers that were live got the doomed messages live, and everything after, once, in order.
      const want = [...doomed, after!.body.id!];
      const deadline = Date.now() + 30_000;
      for (const s of live)
        while (want.some((id) => !s.ids.includes(id)) && Date.now() < deadline) await sleep(100);
      await Promise.all(live.map((s) => s.stop()));
      for (const s of live) {
        // Open throughout, and no reset: they had every lost write already.
        expect(s.reconnects, 'streams closed by the server').toBe(0);
        expect(s.resets).toBe(0);
        expect(want.filter((id) => !s.ids.includes(id))).toEqual([]);
        expect(new Set(s.ids).size).toBe(s.ids.length);
        const seqs = s.ids.map(seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }

      // The subscriber resuming from before the lost writes: history cannot cover them -> reset.
      const back = await openEvents(b.url, tok, lateId);
      try {
        await back.waitUntil(() => back.events.some((e) => e.event === 'reset'), 10_000, 'a reset');
        const reset = back.events.find((e) => e.event === 'reset')!;
        expect(JSON.parse(reset.data)).toEqual({ reason: 'history_lost' });
        expect(back.events.filter((e) => doomed.includes(e.id!))).toEqual([]);
      } finally {
        back.close();
      }
    }, 120_000);
  },
);

describe.skipIf(skip !== undefined)(
  `Sentinel failover while the first sentinel hangs${skip ? ` (${skip})` : ''}`,
  () => {
    let set: SentinelSet;
    let node: SpawnedServer | undefined;

    beforeAll(async () => {
      set = await startSentinels(1, 1000);
      [node] = await spawnNodes(
        1,
        '',
        {
          REDIS_URL: '',
          REDIS_SENTINELS: set.sentinels,
          REDIS_SENTINEL_NAME: set.name,
        },
        START_MS,
      );
    }, 180_000);
    afterAll(async () => {
      for (const s of set?.sentinelProcs ?? []) s.proc.kill('SIGCONT');
      if (node) await stopAll([node]);
      await set?.close();
    });

    // The failing path of the failover defect, held open on purpose: the node's clients reconnect
    // after the kill by asking the first sentinel, which hangs, while the other two elect the
    // replica and announce `+switch-master`. ioredis's failover detector of the lost connection
    // then aborts that pending attempt, and ioredis leaves such a client ended for good: before
    // the fix the node answered 503 from then on. It must come back by itself.
    it('a client ioredis ends during the failover is connected again: the node recovers and delivers', async () => {
      const n = node!;
      const tok = subToken('hang');
      const sub = new Resuming(n, tok);
      try {
        await eventually(
          async () => (await pushTo(n, { to: 'hang', data: { i: 0 } })).status === 200,
          10_000,
          'a first push',
        );
        // The replica holds everything before the kill: the history (and its epoch) survives.
        expect(await set.replicasSynced()).toBe(1);
        const first = set.sentinelProcs[0]!;
        first.proc.kill('SIGSTOP');
        try {
          await set.primary.kill();
          await eventually(
            async () => (await set.currentPrimaryPort(1)) === set.replicas[0]!.port,
            60_000,
            'the other sentinels to promote the replica',
          );
          // Let the detector's `+switch-master` reach the node while its attempt still waits.
          await sleep(300);
        } finally {
          first.proc.kill('SIGCONT');
        }
        const ms = await eventually(
          async () => (await fetch(`${n.url}/healthz`)).status === 200,
          30_000,
          'the node to be healthy again',
        );
        let id = '';
        await eventually(
          async () => {
            const r = await pushTo(n, { to: 'hang', data: { after: true } });
            id = r.body.id ?? '';
            return r.status === 200;
          },
          10_000,
          'a push after the failover',
        );
        await eventually(() => sub.ids.includes(id), 10_000, 'the subscriber to get it');
        // Its stream stayed open through the failover and the revived clients: caught up in place.
        expect(sub.reconnects, 'streams closed by the server').toBe(0);
        const revived = (n.output().match(/gave up reconnecting/g) ?? []).length;
        console.log(
          `hanging-sentinel failover: healthy ${ms} ms after the promotion was visible; clients ioredis had ended and the node connected again: ${revived}`,
        );
      } finally {
        await sub.stop();
      }
    }, 180_000);
  },
);
