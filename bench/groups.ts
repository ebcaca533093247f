/**
 * Runtime groups and presence-query benchmark (a measurement, not a test):
 * - heap per runtime group entry in the memory store (`--expose-gc`), and Redis memory per entry
 *   (INFO used_memory) on a throw-away redis-server;
 * - `GET /online/uids` backend time per page of 1,000 over N online uids: the memory registry
 *   (one pass per page), and Redis presence written by three nodes (ZRANGEBYLEX per page).
 *
 *   node --expose-gc --import tsx bench/groups.ts [--n 50000] [--entries 100000]
 */
import { Redis } from 'ioredis';
import { RedisPresence } from '../src/presence-redis.js';
import { type Entry, Registry } from '../src/registry.js';
import { MemoryRuntimeGroups } from '../src/runtime-groups-memory.js';
import { RedisRuntimeGroups } from '../src/runtime-groups-redis.js';
import { startRedis } from '../test/redis-server.js';
import { parseArgs } from './lib/measure.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('n') ?? 50_000);
const ENTRIES = Number(args.get('entries') ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/groups.ts');

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function memoryStore(groupsPerUid: number): Promise<number> {
  const store = new MemoryRuntimeGroups({ ttlMs: 86_400_000, maxUids: ENTRIES, maxGroupsPerUid: 64 });
  const before = heap();
  const join = Array.from({ length: groupsPerUid }, (_, i) => `room-${i}`);
  for (let i = 0; i < ENTRIES; i += 1000) {
    const uids = Array.from({ length: 1000 }, (_, k) => `user-${i + k}`);
    await store.change({ uids, join, leave: [] });
  }
  const per = (heap() - before) / ENTRIES;
  if (store.size !== ENTRIES) throw new Error('store did not keep every uid');
  await store.close();
  return per;
}

async function redisStore(url: string, client: Redis, groupsPerUid: number): Promise<number> {
  const sub = new Redis(url);
  const prefix = `bg${groupsPerUid}:`;
  const store = new RedisRuntimeGroups({
    client,
    sub,
    prefix,
    ttlMs: 86_400_000,
    maxUids: ENTRIES,
    maxGroupsPerUid: 64,
  });
  const used = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
  const before = await used();
  const join = Array.from({ length: groupsPerUid }, (_, i) => `room-${i}`);
  for (let i = 0; i < ENTRIES; i += 1000) {
    const uids = Array.from({ length: 1000 }, (_, k) => `user-${i + k}`);
    await store.change({ uids, join, leave: [] });
  }
  const per = ((await used()) - before) / ENTRIES;
  await store.close();
  sub.disconnect();
  return per;
}

function msPerPage(pages: number[]): string {
  const sorted = [...pages].sort((a, b) => a - b);
  const mid = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${mid.toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms over ${pages.length} pages`;
}

async function walk(
  page: (after: string | undefined) => Promise<{ uids: string[]; next: string | undefined }>,
) {
  const times: number[] = [];
  let after: string | undefined;
  let total = 0;
  for (;;) {
    const t0 = performance.now();
    const p = await page(after);
    times.push(performance.now() - t0);
    total += p.uids.length;
    if (p.next === undefined) return { times, total };
    after = p.next;
  }
}

async function main(): Promise<void> {
  console.log(`runtime group entries: ${ENTRIES}; online uids: ${N}`);
  for (const g of [1, 4])
    console.log(
      `memory store, ${g} group(s) joined per uid: ${(await memoryStore(g)).toFixed(0)} bytes of heap per uid`,
    );

  const registry = new Registry<Entry>();
  for (let i = 0; i < N; i++)
    registry.add({ uid: `user-${i}`, groups: i % 2 ? ['odd'] : [], expiresAt: undefined, kind: 'stream' });
  const mem = await walk(async (after) => registry.uidPage({ limit: 1000, after }));
  const memGroup = await walk(async (after) => registry.uidPage({ group: 'odd', limit: 1000, after }));
  console.log(`memory /online/uids over ${mem.total} uids: ${msPerPage(mem.times)}`);
  console.log(`memory /online/uids?group= over ${memGroup.total} uids: ${msPerPage(memGroup.times)}`);

  const redis = await startRedis();
  const client = new Redis(redis.url);
  try {
    for (const g of [1, 4])
      console.log(
        `redis store, ${g} group(s) joined per uid: ${(await redisStore(redis.url, client, g)).toFixed(0)} bytes of Redis memory per uid`,
      );
    const nodes = [0, 1, 2].map(() => new RedisPresence({ client, prefix: 'bp:' }));
    for (let i = 0; i < N; i++) nodes[i % 3]!.add(`user-${i}`, i % 2 ? ['odd'] : []);
    const p = nodes[0]!;
    for (let tries = 0; (await p.online()).uids < N && tries < 600; tries++)
      await new Promise((r) => setTimeout(r, 100));
    const r = await walk((after) => p.uids({ limit: 1000, after }));
    const rg = await walk((after) => p.uids({ group: 'odd', limit: 1000, after }));
    console.log(`redis /online/uids over ${r.total} uids on 3 nodes: ${msPerPage(r.times)}`);
    console.log(`redis /online/uids?group= over ${rg.total} uids on 3 nodes: ${msPerPage(rg.times)}`);
    for (const n of nodes) await n.close();
  } finally {
    client.disconnect();
    await redis.close();
  }
}

await main();
