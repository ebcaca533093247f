/**
 * Cluster benchmark (issue 4): three ssepush nodes (the compiled server) on one redis-server.
 * Subscribers are spread over the nodes (one uid each); publishers push through every node, each
 * message addressed to a uid connected to another node, so every delivery crosses Redis.
 * Reports cross-node latency (push request sent → subscriber has the event, p50/p99/max),
 * throughput for single and batched pushes, and a cluster-wide broadcast.
 *
 *   npx tsx bench/cluster.ts [--uids 3000] [--pushes 3000] [--lanes 12] [--batch 50] [--nodes 3]
 */

import { startRedis } from '../test/redis-server.js';
import { fmt, now, parseArgs, sleep, spread } from './lib/measure.js';
import { ClientPool, type Collected } from './lib/pool.js';
import { type Push, startSsepush, type Target } from './lib/targets.js';

const args = parseArgs(process.argv.slice(2));
const NODES = Number(args.get('nodes') ?? 3);
const UIDS = Number(args.get('uids') ?? 3000);
const PUSHES = Number(args.get('pushes') ?? 3000);
const LANES = Number(args.get('lanes') ?? 12);
const BATCH = Number(args.get('batch') ?? 50);
if (!(NODES >= 2 && NODES <= 6)) throw new Error('--nodes: 2..6');
if (!(UIDS >= NODES && UIDS <= 15_000)) throw new Error('--uids: up to 15000');
if (!(PUSHES > 0 && PUSHES <= 50_000)) throw new Error('--pushes: up to 50000');

const uidOf = (i: number) => `c${i}`;
/** Node holding uid i's subscription. */
const homeOf = (i: number) => i % NODES;

async function gather(
  pools: ClientPool[],
  keys: Set<string>,
  expected: number,
  ms: number,
): Promise<Collected> {
  const acc: Collected = { recv: new Map(), closed: 0, resets: 0 };
  const deadline = Date.now() + ms;
  let got = 0;
  for (;;) {
    for (const p of pools) {
      const c = await p.collect();
      acc.closed += c.closed;
      acc.resets += c.resets;
      for (const [k, t] of c.recv) {
        const prev = acc.recv.get(k);
        if (prev) prev.push(...t);
        else acc.recv.set(k, t);
        if (keys.has(k)) got += t.length;
      }
    }
    if (got >= expected || Date.now() > deadline) return acc;
    await sleep(100);
  }
}

/** Sends `pushes` messages from all nodes in turn, `batch` per request, `lanes` at once. */
async function run(nodes: Target[], pools: ClientPool[], kind: string, batch: number) {
  const sentAt = new Float64Array(PUSHES);
  let next = 0;
  let requests = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      while (next < PUSHES) {
        const first = next;
        const count = Math.min(batch, PUSHES - first);
        next += count;
        const via = (lane + requests) % NODES;
        const ps: Push[] = [];
        for (let i = first; i < first + count; i++) {
          // A uid whose subscriber is on another node than the publishing one.
          let u = (i * 7919) % UIDS;
          if (homeOf(u) === via) u = (u + 1) % UIDS;
          ps.push({ to: uidOf(u), data: { k: kind, n: i } });
        }
        const t0 = now();
        for (let i = first; i < first + count; i++) sentAt[i] = t0;
        requests++;
        if (count === 1) await nodes[via]!.push(ps[0]!);
        else await nodes[via]!.pushBatch(ps);
      }
    }),
  );
  const wall = (now() - started) / 1000;
  const keys = new Set(Array.from({ length: PUSHES }, (_, i) => `${kind}:${i}`));
  const c = await gather(pools, keys, PUSHES, 20_000);
  const lat: number[] = [];
  for (let i = 0; i < PUSHES; i++) for (const t of c.recv.get(`${kind}:${i}`) ?? []) lat.push(t - sentAt[i]!);
  return { wall, requests, perSec: PUSHES / wall, lat: spread(lat), missing: PUSHES - lat.length };
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const nodes: Target[] = [];
  const pools: ClientPool[] = [];
  try {
    for (let i = 0; i < NODES; i++) {
      nodes.push(await startSsepush({ env: { REDIS_URL: redis.url, HISTORY_SIZE: '100' } }));
    }
    for (let n = 0; n < NODES; n++) {
      const conns = [];
      for (let i = n; i < UIDS; i += NODES) conns.push({ uid: uidOf(i), path: nodes[n]!.subPath(uidOf(i)) });
      const pool = ClientPool.start(conns.length);
      pools.push(pool);
      const opened = await pool.open(nodes[n]!.port, conns);
      if (opened.failed > 0) throw new Error(`node ${n}: ${opened.failed} subscriptions failed`);
    }
    await sleep(1000);
    // Warm-up (JIT, script cache, connection pools).
    await run(nodes, pools, 'w', 1).catch(() => undefined);
    const single = await run(nodes, pools, 'u', 1);
    const batched = await run(nodes, pools, 't', BATCH);

    const bc: number[] = [];
    let bmissing = 0;
    for (let r = 0; r < 3; r++) {
      const key = `b:${r}`;
      const t0 = now();
      await nodes[r % NODES]!.push({ data: { k: 'b', n: r } });
      const c = await gather(pools, new Set([key]), UIDS, 15_000);
      const times = c.recv.get(key) ?? [];
      bmissing += UIDS - times.length;
      bc.push(...times.map((t) => t - t0));
      await sleep(200);
    }
    const b = spread(bc);
    const row = (name: string, r: Awaited<ReturnType<typeof run>>) =>
      `| ${name} | ${PUSHES} | ${r.requests} | ${fmt(r.perSec)} | ${fmt(r.lat.p50)} | ${fmt(r.lat.p99)} | ${fmt(r.lat.max)} | ${r.missing} |`;
    const lines = [
      `Cluster: ${NODES} nodes on one redis-server, ${UIDS} subscribers (one uid each, spread over the nodes), ${LANES} concurrent publishers; every message crosses nodes.`,
      '',
      '| pushes | messages | requests | msg/s | p50 ms | p99 ms | max ms | missing |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      row('single', single),
      row(`batch ${BATCH}`, batched),
      '',
      `Broadcast to all ${UIDS} over ${NODES} nodes (3 rounds): p50 ${fmt(b.p50)} ms, p99 ${fmt(b.p99)} ms, max ${fmt(b.max)} ms, missing ${bmissing}.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
