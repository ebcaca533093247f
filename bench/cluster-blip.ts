/**
 * A blip costs no reconnects (issue 13): `WORKERS=3` nodes holding `--n` SSE connections lose
 * Redis for `--outage-s` seconds (a TCP proxy between them and Redis cuts every connection and
 * refuses new ones), while a publisher that still reaches Redis keeps pushing: broadcasts, one
 * message per group, and uid messages covering every uid, so every connection misses messages on
 * each of its streams (uid, group, broadcast). When the proxy lets the nodes back, each catches its
 * connections up from history. Reported: time until every connection holds every missed message,
 * the nodes' own catch-up time, Redis commands and round trips it took, CPU of the nodes, and
 * connections closed (each would be a reconnect; goal 0).
 *
 *   npx tsx bench/cluster-blip.ts [--n 30000] [--per-client 5000] [--uids 10000] [--groups 100]
 *     [--outage-s 5] [--broadcasts 20]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { createRedisBroker } from '../src/broker-redis.js';
import { loadConfig } from '../src/config.js';
import type { PublishInput } from '../src/message.js';
import { TcpProxy } from '../test/redis/tcp-proxy.js';
import { startRedis } from '../test/redis-server.js';
import type { LoadReply } from './cluster-load.js';
import { LoadClient, stopLoadClients } from './lib/load-client.js';
import { childPids, cpuMicros, fmt, parseArgs, sleep } from './lib/measure.js';
import { http, OUT, startSsepush } from './lib/targets.js';

const args = parseArgs(process.argv.slice(2));
const N = Number(args.get('n') ?? 30_000);
const PER = Number(args.get('per-client') ?? 5000);
const UIDS = Number(args.get('uids') ?? 10_000);
const GROUPS = Number(args.get('groups') ?? 100);
const OUTAGE_MS = Number(args.get('outage-s') ?? 5) * 1000;
const BROADCASTS = Number(args.get('broadcasts') ?? 20);
if (!(N > 0 && N <= 60_000)) throw new Error('--n: up to 60000 (3 workers, 20000 fds each)');
if (!(PER > 0 && PER <= 18_000)) throw new Error('--per-client: up to 18000 (fd limit 20000)');
const SECRET = 'bench-cluster-secret-0123456789abcdef';
/** `INFO commandstats` calls per command, plus the total. */
async function commandStats(r: Redis): Promise<Record<string, number>> {
  const text = await r.info('commandstats');
  const out: Record<string, number> = { total: 0 };
  for (const m of text.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    out[m[1]!] = Number(m[2]);
    out.total! += Number(m[2]);
  }
  return out;
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const proxy = await TcpProxy.start(redis.port);
  mkdirSync(OUT, { recursive: true });
  const logFile = `${OUT}/cluster-blip-${Date.now()}.log`;
  const t = await startSsepush({
    env: {
      REDIS_URL: proxy.url,
      WORKERS: '3',
      JWT_SECRET: SECRET,
      MAX_CONNECTIONS: '0',
      HEARTBEAT_SECONDS: '20',
      LOG_LEVEL: 'info',
    },
    stdoutFile: logFile,
  });
  const admin = new Redis(redis.url);
  const publisher = await createRedisBroker(loadConfig({ JWT_SECRET: SECRET, REDIS_URL: redis.url }));
  const clients: LoadClient[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      await stopLoadClients(clients);
      await publisher.close();
      admin.disconnect();
      await t.stop();
      await proxy.close();
      await redis.close();
    })();
    return cleaned;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  }
  const counts = async (marker: string) => {
    const r = await Promise.all(
      clients.map((c) => c.call<Extract<LoadReply, { type: 'counted' }>>({ type: 'count', marker })),
    );
    return { got: r.reduce((s, x) => s + x.got, 0), open: r.reduce((s, x) => s + x.open, 0) };
  };
  try {
    await sleep(1000);
    const workers = childPids(t.pid);
    const cpu = () => [t.pid, ...workers].map(cpuMicros);
    const count = Math.ceil(N / PER);
    const opening = `open${Date.now()}`;
    for (let i = 0; i < count; i++) clients.push(new LoadClient());
    const started = Date.now();
    const opened = await Promise.all(
      clients.map((c, i) =>
        c.call<Extract<LoadReply, { type: 'opened' }>>({
          type: 'open',
          port: t.port,
          localAddress: `127.0.0.${2 + (i % 250)}`,
          secret: SECRET,
          uids: [i * PER, Math.min(N, (i + 1) * PER)],
          concurrency: 64,
          timeoutMs: 60_000,
          marker: opening,
          uidMod: UIDS,
          groups: GROUPS,
        }),
      ),
    );
    const ok = opened.reduce((s, r) => s + r.ok, 0);
    const openS = (Date.now() - started) / 1000;
    await sleep(3000);

    // What every connection will miss: broadcasts, one message per group, uid messages covering
    // every uid (1,000 uids per message).
    const missed: string[] = [];
    for (let i = 0; i < BROADCASTS; i++) missed.push(`bc${i}x${Date.now()}`);
    const groupMark = `grp${Date.now()}`;
    const uidMark = `uid${Date.now()}`;
    await Promise.all(
      clients.map((c) => c.call({ type: 'watch', markers: [...missed, groupMark, uidMark] })),
    );

    proxy.block();
    const cut = Date.now();
    await sleep(300);
    const inputs: PublishInput[] = [];
    const msg = (to: string[], groups: string[], mark: string): PublishInput => ({
      to,
      groups,
      event: 'm',
      data: JSON.stringify({ mark }),
    });
    for (let g = 0; g < GROUPS; g++) inputs.push(msg([], [`g${g}`], groupMark));
    for (let u = 0; u < UIDS; u += 1000)
      inputs.push(
        msg(
          Array.from({ length: Math.min(1000, UIDS - u) }, (_, k) => `l${u + k}`),
          [],
          uidMark,
        ),
      );
    const third = Math.ceil(BROADCASTS / 3);
    // Spread over the outage: some before the group and uid messages, some between, some after.
    for (let i = 0; i < third; i++) await publisher.publish([msg([], [], missed[i]!)]);
    await publisher.publish(inputs.slice(0, GROUPS));
    for (let i = third; i < 2 * third; i++) await publisher.publish([msg([], [], missed[i]!)]);
    await publisher.publish(inputs.slice(GROUPS));
    for (let i = 2 * third; i < BROADCASTS; i++) await publisher.publish([msg([], [], missed[i]!)]);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cut)));
    const before = await counts(missed[0]!);
    const stats0 = await commandStats(admin);
    const cpu0 = cpu();
    proxy.unblock();
    const back = Date.now();
    let done = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const all = await Promise.all([...missed, groupMark, uidMark].map((m) => counts(m)));
      if (all.every((x) => x.got >= ok)) {
        done = Date.now();
        break;
      }
      await sleep(100);
    }
    const cpu1 = cpu();
    const stats1 = await commandStats(admin);
    // Live after the catch-up: a push through the nodes reaches everyone.
    const pub = `Bearer ${jwt.sign({ scope: 'push' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;
    const after = `after${Date.now()}`;
    await Promise.all(clients.map((c) => c.call({ type: 'watch', markers: [after] })));
    let pushStatus = 0;
    for (let i = 0; i < 100 && pushStatus !== 200; i++) {
      pushStatus = (
        await http(t.port, 'POST', '/push', JSON.stringify({ data: { mark: after } }), {
          'content-type': 'application/json',
          authorization: pub,
        })
      ).status;
      if (pushStatus !== 200) await sleep(100);
    }
    let live = { got: 0, open: 0 };
    for (let i = 0; i < 200; i++) {
      live = await counts(after);
      if (live.got >= ok) break;
      await sleep(100);
    }
    const delta = (k: string) => (stats1[k] ?? 0) - (stats0[k] ?? 0);
    const caught = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('caught up after resubscribe'))
      .map((l) => JSON.parse(l) as Record<string, number>);
    const cpuMs = cpu1.map((c, i) => (c - cpu0[i]!) / 1000);
    const lines = [
      `cluster-blip: WORKERS=3, ${ok} of ${N} connections held (${fmt(openS)} s to open), ${UIDS} uids, ${GROUPS} groups`,
      `- outage ${OUTAGE_MS / 1000} s (proxy between nodes and Redis); missed per connection: ${BROADCASTS} broadcasts + 1 group + 1 uid message`,
      `- open before: ${before.open}; every connection had every missed message ${done ? `${fmt((done - back) / 1000)} s after the proxy let the nodes back` : 'NOT within 120 s'}`,
      `- nodes' catch-up (from resubscribe, their log): ${caught.map((c) => `${c.ms} ms (last pass ${c.lastPassMs} ms, ${c.retries} retries waiting for Redis), ${c.connections} conns, ${c.reads} reads in ${c.rounds} round trips, ${c.messages} messages, ${c.resets} resets, ${c.passes} pass(es)`).join('; ')}`,
      `- Redis commands meanwhile: evalsha ${delta('evalsha')}, eval ${delta('eval')}, total ${delta('total')}`,
      `- CPU from unblock to done: master ${fmt(cpuMs[0]!)} ms, workers ${cpuMs
        .slice(1)
        .map((c) => fmt(c))
        .join(' / ')} ms`,
      `- connections closed by the server (each would be a reconnect): ${ok - live.open}; live push after: ${pushStatus}, reached ${live.got} of ${ok}`,
      `- node log: ${logFile}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
