/**
 * How many concurrent SSE connections `WORKERS=N` holds on this machine, with the load client
 * on the same machine: starts Redis and the compiled server with `WORKERS=N`, opens `--n`
 * subscriptions (one uid each) from forked load clients (`--per-client` each, every client on
 * its own 127.0.0.x source address), then sends one broadcast and counts who got it.
 *
 *   npx tsx bench/cluster-conns.ts [--workers 2] [--n 38000] [--per-client 5000]
 */
import jwt from 'jsonwebtoken';
import { startRedis } from '../test/redis-server.js';
import type { LoadReply } from './cluster-load.js';
import { LoadClient, stopLoadClients } from './lib/load-client.js';
import { childPids, fmt, parseArgs, rssBytes, sleep } from './lib/measure.js';
import { http, startSsepush } from './lib/targets.js';

const args = parseArgs(process.argv.slice(2));
const WORKERS = Number(args.get('workers') ?? 2);
const N = Number(args.get('n') ?? 38_000);
const PER = Number(args.get('per-client') ?? 5000);
if (!(WORKERS >= 1 && WORKERS <= 16)) throw new Error('--workers: 1..16');
if (!(N > 0 && N <= 120_000)) throw new Error('--n: up to 120000');
if (!(PER > 0 && PER <= 18_000)) throw new Error('--per-client: up to 18000 (fd limit 20000)');
const SECRET = 'bench-cluster-secret-0123456789abcdef';
async function main(): Promise<void> {
  const redis = await startRedis();
  const t = await startSsepush({
    env: {
      REDIS_URL: redis.url,
      WORKERS: String(WORKERS),
      JWT_SECRET: SECRET,
      MAX_CONNECTIONS: '0',
      HEARTBEAT_SECONDS: '60',
    },
  });
  const clients: LoadClient[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      await stopLoadClients(clients);
      await t.stop();
      await redis.close();
    })();
    return cleaned;
  };
  // Interrupted (Ctrl-C, a time limit): still stop the server, Redis and the load clients.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  }
  try {
    await sleep(1000);
    const workerPids = childPids(t.pid);
    const rss = () => [t.pid, ...workerPids].reduce((s, p) => s + rssBytes(p), 0);
    const rss0 = rss();
    const count = Math.ceil(N / PER);
    const marker = `bc${Date.now()}`;
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
          concurrency: Number(args.get('concurrency') ?? 64),
          timeoutMs: 30_000,
          marker,
        }),
      ),
    );
    const openS = (Date.now() - started) / 1000;
    const ok = opened.reduce((s, r) => s + r.ok, 0);
    const errors: Record<string, number> = {};
    for (const r of opened) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    await sleep(2000);
    const pub = `Bearer ${jwt.sign({ scope: 'push' }, SECRET, { algorithm: 'HS256', expiresIn: 600 })}`;
    const pushed = Date.now();
    const r = await http(t.port, 'POST', '/push', JSON.stringify({ data: { m: marker } }), {
      'content-type': 'application/json',
      authorization: pub,
    });
    let got = 0;
    let open = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const counts = await Promise.all(
        clients.map((c) => c.call<Extract<LoadReply, { type: 'counted' }>>({ type: 'count', marker })),
      );
      got = counts.reduce((s, x) => s + x.got, 0);
      open = counts.reduce((s, x) => s + x.open, 0);
      if (got >= ok) break;
      await sleep(250);
    }
    const bcS = (Date.now() - pushed) / 1000;
    const perWorker = workerPids.map((p) => fmt(rssBytes(p) / 2 ** 20));
    const lines = [
      `WORKERS=${WORKERS}, asked ${N} connections from ${count} load clients (${PER} each):`,
      `- held ${ok} (${fmt(openS)} s to open), still open at broadcast ${open}; failures: ${JSON.stringify(errors)}`,
      `- one broadcast: push answered ${r.status} ${r.body.slice(0, 120)}; reached ${got} of ${ok} in ${fmt(bcS)} s`,
      `- server RSS ${fmt((rss() - rss0) / 2 ** 20)} MiB more for the connections (${fmt((rss() - rss0) / Math.max(1, ok) / 1024)} KiB each); workers now ${perWorker.join(', ')} MiB`,
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
