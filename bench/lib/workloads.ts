/**
 * The benchmark workloads, identical for every target: idle memory per connection, broadcast
 * fan-out, unicast and batch pushes, and a reconnect storm. Each returns plain numbers.
 */
import { cpuMicros, now, rssBytes, type Spread, sleep, spread } from './measure.js';
import { ClientPool, type Collected } from './pool.js';
import type { Push, Target } from './targets.js';

export const uidOf = (i: number) => `u${i}`;

export interface IdleResult {
  conns: number;
  held: number;
  failed: number;
  openMs: number;
  /** Server CPU spent accepting, authenticating and starting each subscription. */
  cpuUsPerConnect: number;
  rssPerConn: number;
  heapPerConn: number | undefined;
  rssBefore: number;
  rssAfter: number;
}

/** Opens `n` subscriptions (uid `u<i>`, one each) and reports memory per connection. */
export async function openIdle(t: Target, pool: ClientPool, n: number): Promise<IdleResult> {
  await t.gc();
  const rssBefore = rssBytes(t.pid);
  const heapBefore = await t.heapUsed();
  const conns = Array.from({ length: n }, (_, i) => ({ uid: uidOf(i), path: t.subPath(uidOf(i)) }));
  const cpu0 = cpuMicros(t.pid);
  const opened = await pool.open(t.port, conns);
  // The server may still be finishing the last handshakes; wait until it counts them all.
  const deadline = Date.now() + 10_000;
  let held = await t.connections();
  while (held < opened.ok && Date.now() < deadline) {
    await sleep(100);
    held = await t.connections();
  }
  const cpuUsPerConnect = (cpuMicros(t.pid) - cpu0) / n;
  await sleep(500);
  await t.gc();
  const rssAfter = rssBytes(t.pid);
  const heapAfter = await t.heapUsed();
  return {
    conns: n,
    held,
    failed: opened.failed,
    openMs: opened.ms,
    cpuUsPerConnect,
    rssBefore,
    rssAfter,
    rssPerConn: (rssAfter - rssBefore) / n,
    heapPerConn:
      heapBefore !== undefined && heapAfter !== undefined ? (heapAfter - heapBefore) / n : undefined,
  };
}

export interface WarmConnectResult {
  conns: number;
  held: number;
  /** Server CPU per connection of this first batch: what a cold process pays. */
  cpuUsPerConnect: number;
}

/**
 * A warm-up batch: opens `n` subscriptions from a pool of its own (uids `w<i>`, so the measured
 * batch's tokens are still uncached afterwards, and source addresses 127.0.5.101+), reports
 * their CPU per connection (the cold cost), then closes them all (TCP reset) and waits until the
 * server has let them go, so the measured connections start from a warm but empty server.
 */
export async function warmConnect(t: Target, n: number): Promise<WarmConnectResult> {
  const before = await t.connections();
  const pool = ClientPool.start(n, 1, 101);
  try {
    const conns = Array.from({ length: n }, (_, i) => ({ uid: `w${i}`, path: t.subPath(`w${i}`) }));
    const cpu0 = cpuMicros(t.pid);
    const opened = await pool.open(t.port, conns);
    const deadline = Date.now() + 10_000;
    let held = (await t.connections()) - before;
    while (held < opened.ok && Date.now() < deadline) {
      await sleep(100);
      held = (await t.connections()) - before;
    }
    const cpuUsPerConnect = (cpuMicros(t.pid) - cpu0) / n;
    return { conns: n, held, cpuUsPerConnect };
  } finally {
    await pool.close();
    const deadline = Date.now() + 10_000;
    while ((await t.connections()) > before && Date.now() < deadline) await sleep(100);
  }
}

/** Polls the load clients until `expected` receipts of `keys` arrived or `timeoutMs` passed. */
async function gather(
  pool: ClientPool,
  keys: readonly string[],
  expected: number,
  timeoutMs: number,
): Promise<Collected> {
  const acc: Collected = { recv: new Map(), closed: 0, resets: 0 };
  const want = new Set(keys);
  const deadline = Date.now() + timeoutMs;
  let got = 0;
  for (;;) {
    const c = await pool.collect();
    acc.closed = Math.max(acc.closed, c.closed);
    acc.resets += c.resets;
    for (const [k, times] of c.recv) {
      const prev = acc.recv.get(k);
      if (prev) prev.push(...times);
      else acc.recv.set(k, times);
      if (want.has(k)) got += times.length;
    }
    if (got >= expected || Date.now() > deadline) return acc;
    await sleep(got === 0 ? 20 : 100);
  }
}

export interface BroadcastResult {
  /** One spread (ms from the push request until each subscriber had it) per broadcast. */
  rounds: Spread[];
  missing: number;
  cpuUsPerDelivery: number;
}

/** Sends `rounds` broadcasts one after another, each once the previous reached everyone. */
export async function broadcast(
  t: Target,
  pool: ClientPool,
  n: number,
  rounds: number,
  kind = 'b',
): Promise<BroadcastResult> {
  const out: Spread[] = [];
  let missing = 0;
  let delivered = 0;
  await sleep(200);
  const cpu0 = cpuMicros(t.pid);
  for (let r = 0; r < rounds; r++) {
    const key = `${kind}:${r}`;
    const t0 = now();
    await t.push({ data: { k: kind, n: r } });
    const c = await gather(pool, [key], n, 15_000);
    const times = c.recv.get(key) ?? [];
    delivered += times.length;
    missing += n - times.length;
    out.push(spread(times.map((x) => x - t0)));
    await sleep(100);
  }
  const cpu = cpuMicros(t.pid) - cpu0;
  return { rounds: out, missing, cpuUsPerDelivery: cpu / Math.max(1, delivered) };
}

export interface UnicastResult {
  pushes: number;
  requests: number;
  requestsPerSec: number;
  messagesPerSec: number;
  latency: Spread;
  missing: number;
  cpuUsPerDelivery: number;
  cpuUsPerRequest: number;
}

/**
 * `pushes` messages to pseudo-random uids among `uids` (one connection each), sent by
 * `lanes` concurrent publishers, singly or `batch` per request. Latency runs from the moment
 * the request carrying a message was sent until its subscriber had it.
 */
export async function unicast(
  t: Target,
  pool: ClientPool,
  opts: { uids: number; pushes: number; lanes: number; batch: number; kind: string },
): Promise<UnicastResult> {
  const { uids, pushes, lanes, batch, kind } = opts;
  const sentAt = new Float64Array(pushes);
  let next = 0;
  let requests = 0;
  const cpu0 = cpuMicros(t.pid);
  const started = now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < pushes) {
        const first = next;
        const count = Math.min(batch, pushes - first);
        next += count;
        const ps: Push[] = [];
        for (let i = first; i < first + count; i++) {
          ps.push({ to: uidOf((i * 7919) % uids), data: { k: kind, n: i } });
        }
        const t0 = now();
        for (let i = first; i < first + count; i++) sentAt[i] = t0;
        requests += t.batches || count === 1 ? 1 : count;
        if (count === 1) await t.push(ps[0]!);
        else await t.pushBatch(ps);
      }
    }),
  );
  const wall = (now() - started) / 1000;
  const keys = Array.from({ length: pushes }, (_, i) => `${kind}:${i}`);
  const c = await gather(pool, keys, pushes, 15_000);
  const cpu = cpuMicros(t.pid) - cpu0;
  const lat: number[] = [];
  for (let i = 0; i < pushes; i++) {
    const times = c.recv.get(`${kind}:${i}`);
    if (times) for (const x of times) lat.push(x - sentAt[i]!);
  }
  return {
    pushes,
    requests,
    requestsPerSec: requests / wall,
    messagesPerSec: pushes / wall,
    latency: spread(lat),
    missing: pushes - lat.length,
    cpuUsPerDelivery: cpu / Math.max(1, lat.length),
    cpuUsPerRequest: cpu / Math.max(1, requests),
  };
}

export interface StormResult {
  clients: number;
  owed: number;
  /** ms from the start of the reconnect until each client had all it was owed. */
  catchUp: Spread;
  caughtUp: number;
  lost: number;
  duplicates: number;
  resets: number;
  failed: number;
}

/**
 * Every client drops at once (TCP reset); while they are away each is owed `owed` messages
 * (half broadcasts, half to its own uid, interleaved); then all reconnect at once with
 * `Last-Event-ID` and must receive exactly those, no loss, no duplicate.
 */
export async function storm(t: Target, pool: ClientPool, n: number, owed = 10): Promise<StormResult> {
  // Make sure every client has an event id to resume from.
  await t.push({ data: { k: 'w', n: 0 } });
  await gather(pool, ['w:0'], n, 15_000);
  await pool.drop();
  await sleep(300);
  const rounds = owed / 2;
  for (let r = 0; r < rounds; r++) {
    await t.push({ data: { k: 's', n: r } });
    const ps: Push[] = Array.from({ length: n }, (_, i) => ({ to: uidOf(i), data: { k: 't', n: r } }));
    const lanes = 16;
    const chunk = t.batches ? 100 : 1;
    let next = 0;
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < ps.length) {
          const slice = ps.slice(next, next + chunk);
          next += chunk;
          if (slice.length === 1) await t.push(slice[0]!);
          else await t.pushBatch(slice);
        }
      }),
    );
  }
  const t0 = now();
  const r = await pool.resume(owed, 60_000);
  return {
    clients: n,
    owed,
    catchUp: spread(r.doneAt.map((x) => x - t0)),
    caughtUp: r.caughtUp,
    lost: r.lost,
    duplicates: r.duplicates,
    resets: r.resets,
    failed: r.failed,
  };
}
