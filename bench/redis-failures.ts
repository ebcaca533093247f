/**
 * Measures what publishers and subscribers see in Redis failures (docs/cluster.md, failure
 * table): `npm run bench:redis-failures -- single|cluster-other|cluster-owner`. Three spawned
 * nodes, a publisher pushing every 20 ms round-robin, one reconnecting SSE subscriber per node.
 */
import { Redis } from 'ioredis';
import { openEvents, type SpawnedServer, type SseClient, spawnServer, subToken } from '../test/helpers.js';
import { type PushAnswer, pushTo } from '../test/redis/cluster-helpers.js';
import { startRedisCluster } from '../test/redis/redis-cluster.js';
import { startRedis } from '../test/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
class Resuming {
  ids: string[] = [];
  resets = 0;
  reconnects = 0;
  cur?: SseClient;
  stopped = false;
  done: Promise<void>;
  constructor(
    private node: SpawnedServer,
    private token: string,
  ) {
    this.done = this.run();
  }
  async run() {
    let lastId: string | undefined;
    while (!this.stopped) {
      let c: SseClient;
      try {
        c = await openEvents(this.node.url, this.token, lastId);
      } catch {
        await sleep(100);
        continue;
      }
      this.cur = c;
      if (c.status !== 200) {
        c.close();
        await sleep(200);
        continue;
      }
      let seen = 0;
      for (;;) {
        for (; seen < c.events.length; seen++) {
          const e = c.events[seen]!;
          if (e.event === 'reset') this.resets++;
          else this.ids.push(e.id!);
        }
        if (c.closed) break;
        await c.waitUntil(() => c.events.length > seen || c.closed, 60_000).catch(() => {});
      }
      lastId = c.lastId ?? lastId;
      if (this.stopped) break;
      this.reconnects++;
      await sleep(50);
    }
  }
  async stop() {
    this.stopped = true;
    this.cur?.close();
    await this.done;
  }
}
async function loop(
  nodes: SpawnedServer[],
  fail: () => Promise<void>,
  heal: (() => Promise<void>) | undefined,
  healAfterMs: number,
  label: string,
) {
  const tok = subToken('m1');
  const subs = nodes.map((n) => new Resuming(n, tok));
  await sleep(1000);
  const acked: string[] = [];
  const st: { t: number; s: number; e?: string }[] = [];
  let failedAt = 0,
    healedAt = 0,
    recoveredAt = 0,
    n = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < 90_000) {
    const r = await pushTo(nodes[n++ % nodes.length]!, { to: 'm1', data: { n } }).catch(
      (): PushAnswer => ({ status: 0, body: {} }),
    );
    const t = Date.now();
    st.push({ t, s: r.status, e: r.body.error });
    if (r.status === 200) acked.push(r.body.id!);
    if (!failedAt && acked.length >= 30) {
      await fail();
      failedAt = Date.now();
    }
    if (failedAt && heal && !healedAt && t - failedAt >= healAfterMs) {
      await heal();
      healedAt = Date.now();
    }
    if (failedAt && !recoveredAt && r.status === 200 && st.some((x) => x.t > failedAt && x.s !== 200))
      recoveredAt = t;
    if (failedAt && t - failedAt > 20_000 && !st.some((x) => x.t > failedAt && x.s !== 200)) {
      recoveredAt = -1;
      break;
    }
    if (recoveredAt && t - recoveredAt > 2000) break;
    await sleep(20);
  }
  const dl = Date.now() + 15_000;
  for (const s of subs) while (acked.some((id) => !s.ids.includes(id)) && Date.now() < dl) await sleep(100);
  await Promise.all(subs.map((s) => s.stop()));
  const bad = st.filter((x) => x.t > failedAt && x.s !== 200);
  console.log(
    JSON.stringify({
      label,
      acked: acked.length,
      non200: bad.length,
      codes: [...new Set(bad.map((x) => `${x.s} ${x.e}`))],
      gapFromFailureS: recoveredAt > 0 ? (recoveredAt - failedAt) / 1000 : 'never',
      firstBadAfterS: bad.length > 0 ? (bad[0]!.t - failedAt) / 1000 : null,
      lastBadAfterS: bad.length > 0 ? (bad[bad.length - 1]!.t - failedAt) / 1000 : null,
      gapFromHealS: healedAt && recoveredAt > 0 ? (recoveredAt - healedAt) / 1000 : null,
      reconnects: subs.map((s) => s.reconnects),
      resets: subs.map((s) => s.resets),
      lostAcked: subs.map((s) => acked.filter((id) => !s.ids.includes(id)).length),
      dupes: subs.map((s) => s.ids.length - new Set(s.ids).size),
    }),
  );
}
const which = process.argv[2];
if (which === 'single') {
  const redis = await startRedis({ persist: true });
  const nodes = await Promise.all(
    [0, 1, 2].map(() => spawnServer({ REDIS_URL: redis.url, HEARTBEAT_SECONDS: '1' }, 30_000)),
  );
  await loop(
    nodes,
    () => redis.stop(),
    () => redis.start(),
    5000,
    'single redis SIGTERM, restarted after 5 s (appendonly always)',
  );
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  await redis.close();
} else {
  const rc = await startRedisCluster();
  const nodes = await Promise.all(
    [0, 1, 2].map(() => spawnServer({ REDIS_URL: rc.url, HEARTBEAT_SECONDS: '1' }, 30_000)),
  );
  const probe = new Redis({ port: rc.ports[0]!, host: '127.0.0.1' });
  const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', '{ssepush}:state'));
  const slots = (await probe.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  probe.disconnect();
  const owner = slots.find(([a, b]) => slot >= a && slot <= b)![2][1];
  const victimPort = which === 'cluster-owner' ? owner : rc.ports.find((p) => p !== owner)!;
  // kill that master's process: find by port via redis-cli? we have procs inside rc; use SHUTDOWN NOSAVE
  await loop(
    nodes,
    async () => {
      const c = new Redis({ port: victimPort, host: '127.0.0.1' });
      await c.call('SHUTDOWN', 'NOSAVE').catch(() => {});
      c.disconnect();
    },
    undefined,
    0,
    `cluster mode: master ${which === 'cluster-owner' ? 'owning' : 'not owning'} the {ssepush} slot shut down (no replicas)`,
  );
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  await rc.close();
}
process.exit(0);
