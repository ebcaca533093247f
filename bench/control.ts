/**
 * Backend control figures (not a test): how long a kick of N uids (one stream each) takes until
 * every one of their streams has ended, with the servers in their own processes and the clients
 * in this one over real loopback HTTP: one memory-mode node, then three nodes on one Redis (the
 * streams spread over the nodes, the kick sent to the first). Also the memory one revocation
 * costs in the table, and one disconnect notice (in the table; in Redis: INFO used_memory).
 *
 *   node --expose-gc --import tsx bench/control.ts [uids=1000]
 */
import { request } from 'node:http';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { MemoryControl } from '../src/control-memory.js';
import type { DisconnectNotices } from '../src/disconnect-notices.js';
import { MemoryDisconnectNotices } from '../src/disconnect-notices-memory.js';
import { RedisDisconnectNotices } from '../src/disconnect-notices-redis.js';
import { nowSec } from '../src/revocations.js';
import { MemoryRevocations } from '../src/revocations-memory.js';
import { type SpawnedServer, spawnServer, TEST_SECRET } from '../test/helpers.js';
import { startRedis } from '../test/redis-server.js';

const uids = Number(process.argv[2] ?? 1000);
const ENV = { MAX_CONNECTIONS_PER_UID: '0' };

/** Opens one stream per uid, round-robin over `nodes`; resolves with when each one ended. */
async function openStreams(nodes: readonly SpawnedServer[]): Promise<Promise<number>[]> {
  const ended: Promise<number>[] = [];
  await Promise.all(
    Array.from({ length: uids }, (_, i) => {
      const token = jwt.sign({ sub: `u${i}` }, TEST_SECRET);
      const port = nodes[i % nodes.length]!.port;
      return new Promise<void>((ready) => {
        const path = `/events?token=${token}`;
        request({ port, host: '127.0.0.1', path, agent: false }, (res) => {
          ended.push(new Promise((done) => res.on('close', () => done(performance.now()))));
          res.once('data', () => ready());
          res.resume();
        }).end();
      });
    }),
  );
  return ended;
}

async function kick(label: string, nodes: readonly SpawnedServer[]): Promise<void> {
  const ended = await openStreams(nodes);
  const control = jwt.sign({ scope: 'control' }, TEST_SECRET);
  // Presence of the other nodes converges within a flush (250 ms): wait for the whole count.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${nodes[0]!.url}/online`, { headers: { authorization: `Bearer ${control}` } });
    if (((await res.json()) as { connections: number }).connections >= uids) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const body = JSON.stringify({ uid: Array.from({ length: uids }, (_, i) => `u${i}`), reason: 'bench' });
  const started = performance.now();
  const res = await fetch(`${nodes[0]!.url}/disconnect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${control}`, 'content-type': 'application/json' },
    body,
  });
  const answered = performance.now() - started;
  const answer = await res.json();
  const last = Math.max(...(await Promise.all(ended))) - started;
  console.log(
    `${label}: kick of ${uids} uids (${uids} streams): answered ${JSON.stringify(answer)} in ${answered.toFixed(0)} ms, all streams ended after ${last.toFixed(0)} ms`,
  );
}

function revocationMemory(n: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    console.log('run with node --expose-gc for the memory figure');
    return;
  }
  const names = Array.from({ length: n }, (_, i) => `user-${i}`);
  gc();
  const before = process.memoryUsage().heapUsed;
  const r = new MemoryRevocations({ ttlSec: 86_400, max: n });
  void r.revoke(names, nowSec());
  gc();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `${n} revocations: ${((after - before) / n).toFixed(1)} bytes each in the table, beyond the uid`,
  );
  void r.close();
}

/**
 * Bytes one uid's disconnect notice costs, as `used` measures them: for calls naming 1,000 uids
 * (one notice object shared) and for calls naming one uid with a 128-character reason each.
 */
async function noticeMemory(
  label: string,
  make: () => DisconnectNotices,
  used: () => Promise<number>,
  n = 20_000,
): Promise<void> {
  for (const per of [1000, 1]) {
    const notices = make();
    const names = Array.from({ length: n }, (_, i) => `user-${per}-${i}`);
    const before = await used();
    for (let i = 0; i < n; i += per) {
      const reason = per === 1 ? 'x'.repeat(128) : 'banned';
      await notices.record({
        uids: names.slice(i, i + per),
        reason,
        reconnect: true,
        atSec: nowSec(),
        position: 'abcdefghijkl-123456',
      });
    }
    const bytes = ((await used()) - before) / n;
    console.log(`${label}: ${bytes.toFixed(0)} bytes per uid's disconnect notice, ${per} uid(s) per call`);
    await notices.close();
  }
}

revocationMemory(100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  const heap = async () => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  await noticeMemory(
    'memory (beyond the uid string)',
    () => new MemoryDisconnectNotices({ ttlSec: 30, max: 1_000_000 }),
    heap,
  );
}
const memory = await spawnServer(ENV);
try {
  await kick('memory, 1 node', [memory]);
} finally {
  await memory.stop();
}
const redis = await startRedis();
{
  const client = new Redis(redis.url);
  let k = 0;
  const make = () =>
    new RedisDisconnectNotices({
      client,
      control: new MemoryControl(),
      prefix: `mem${k++}:`,
      ttlSec: 3600,
      max: 1_000_000,
    });
  const used = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
  await noticeMemory('redis', make, used);
  await client.flushall();
  client.disconnect();
}
const nodes = await Promise.all([1, 2, 3].map(() => spawnServer({ ...ENV, REDIS_URL: redis.url }, 30_000)));
try {
  await kick('redis, 3 nodes', nodes);
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await redis.close();
}
